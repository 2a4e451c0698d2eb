"""The backprop pane: a 3 x H x W signal as the original toolbox shows it, and the keys that
step through the methods (`b`) and the display filters (`m`)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from deepvis.backprop.methods import MODES
from deepvis.config import BACKPROP_FILTERS

NORM_BLUR_SIGMA = 4.0
# The `b` key's cycle of (mode, filter), as in the original toolbox: off, the gradient raw and as
# its norm, then every other method raw.
BACKPROP_CYCLE = (("off", "raw"), ("gradient", "raw"), ("gradient", "norm"),
                  *((mode, "raw") for mode in MODES if mode != "gradient"))


def _centred(values: torch.Tensor) -> torch.Tensor:
    """Signed values -> [0, 1] with 0 at grey and the largest |value| at 0 or 1."""
    return values / (2 * values.abs().amax().clamp_min(1e-12)) + 0.5


def _stretched(values: torch.Tensor) -> torch.Tensor:
    low = values.amin()
    return (values - low) / (values.amax() - low).clamp_min(1e-12)


def gaussian_blur(image: torch.Tensor, sigma: float) -> torch.Tensor:
    """H x W values blurred with a Gaussian of `sigma` pixels (reflected edges)."""
    from torchvision.transforms.v2.functional import gaussian_blur as blur

    radius = int(np.ceil(3 * sigma))
    return blur(image[None, None], [2 * radius + 1] * 2, [sigma, sigma])[0, 0]


def display_filter(signal: torch.Tensor, name: str) -> torch.Tensor:
    """A 3 x H x W backward signal -> H x W x 3 floats in [0, 1], as the original toolbox shows it.

    raw: the signal centred on grey; gray: the channel mean, centred on grey;
    norm: the L2 norm over RGB, stretched to [0, 1]; norm-blur: that norm
    blurred (Gaussian, sigma 4) before stretching. (overlay needs the frame:
    see overlay_on_frame.)
    """
    signal = signal.float()
    if name == "raw":
        return _centred(signal).permute(1, 2, 0)
    if name == "gray":
        image = _centred(signal.mean(dim=0))
    elif name == "norm":
        image = _stretched(signal.norm(dim=0))
    elif name == "norm-blur":
        image = _stretched(gaussian_blur(signal.norm(dim=0), NORM_BLUR_SIGMA))
    else:
        raise ValueError(f"unknown backprop filter {name!r} (one of {', '.join(BACKPROP_FILTERS)})")
    return image[..., None].expand(*image.shape, 3)


def overlay_on_frame(signal: torch.Tensor, frame: torch.Tensor) -> torch.Tensor:
    """The blurred norm of the signal as a warm glow over the dimmed frame (H x W x 3 uint8): where
    in the picture the unit's evidence lies. H x W x 3 floats in [0, 1]."""
    heat = _stretched(gaussian_blur(signal.float().norm(dim=0), NORM_BLUR_SIGMA))[..., None]
    base = frame.float() / 255.0
    if base.shape[:2] != heat.shape[:2]:
        base = F.interpolate(base.permute(2, 0, 1)[None], size=heat.shape[:2], mode="bilinear",
                             align_corners=False)[0].permute(1, 2, 0)
    glow = torch.stack((torch.ones_like(heat[..., 0]), 0.35 + 0.6 * heat[..., 0], 0.05 + 0.1 * heat[..., 0]), -1)
    dimmed = 0.3 * base + 0.1
    return dimmed * (1 - heat) + (0.5 * base + 0.5 * glow) * heat


def backprop_image(signal: torch.Tensor, filter_name: str, size: int,
                   frame: torch.Tensor | None = None) -> torch.Tensor:
    """The backprop pane: the filtered 3 x H x W signal as a size x size x 3 uint8 image, on the device.
    `frame` (H x W x 3 uint8, the model's input as shown) is needed by the overlay filter."""
    from deepvis.render import to_levels

    if filter_name == "overlay":
        if frame is None:
            raise ValueError("the overlay filter needs the frame")
        image = overlay_on_frame(signal, frame)
    else:
        image = display_filter(signal, filter_name)
    if image.shape[:2] != (size, size):
        image = F.interpolate(image.permute(2, 0, 1)[None], size=(size, size), mode="bilinear",
                              align_corners=False)[0].permute(1, 2, 0)
    return to_levels(image)


def next_backprop_mode(mode: str, filter_name: str) -> tuple[str, str]:
    """The `b` key: off -> gradient raw -> gradient norm -> deconv raw -> guided raw -> off."""
    state = (mode, filter_name)
    if state in BACKPROP_CYCLE:
        return BACKPROP_CYCLE[(BACKPROP_CYCLE.index(state) + 1) % len(BACKPROP_CYCLE)]
    # Another filter (chosen with `m`): move on to the next mode.
    modes = [m for m, _ in BACKPROP_CYCLE]
    last = len(modes) - 1 - modes[::-1].index(mode) if mode in modes else 0
    return BACKPROP_CYCLE[(last + 1) % len(BACKPROP_CYCLE)]


def next_filter(filter_name: str) -> str:
    """The `m` key: raw -> gray -> norm -> norm-blur -> overlay -> raw."""
    index = BACKPROP_FILTERS.index(filter_name) if filter_name in BACKPROP_FILTERS else -1
    return BACKPROP_FILTERS[(index + 1) % len(BACKPROP_FILTERS)]


def unsupported_notice(names: tuple[str, ...] | list[str]) -> str:
    return f"no backprop rule for {', '.join(names)}: plain gradient"
