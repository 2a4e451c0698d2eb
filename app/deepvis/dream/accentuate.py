"""Feature accentuation (Hamblin et al. 2024): a frame changed, as little as it takes, so that a unit
responds more: what in this frame the unit responds to, drawn over the frame.

The frame is the starting image: its centred square, resized, becomes the
spectrum of a Fourier image (optvis.FourierImage.from_images: the image the
spectrum makes is the frame). The objective is the unit (its channel's mean
over the map, at the pre-activation where the layer has one, as the unit
images optimize; the softmax's units are read as their logits), minus the
paper's regularizer in the parameterization's space: penalty * (d / radius)^2,
d being the root mean square distance of the spectrum from the frame's. After
every step the spectrum is also put back within `radius` of the frame's, so
the result never leaves that ball. Views: small jitter, scale and rotation.

Results come while it refines: `on_result` gets the image after `first` steps,
then each time the steps double, and at the end.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from deepvis import DeepvisError
from deepvis.optvis.objectives import Objective, Tap, channel
from deepvis.optvis.param import FourierImage
from deepvis.optvis.render import Adam, alpha_map, render
from deepvis.optvis.seeds import ImageRandom
from deepvis.optvis.transforms import Compose, Jitter, Pad, RandomRotate, RandomScale
from deepvis.zoo import OUTPUT, SOFTMAX, Layer, LoadedModel


@dataclass(frozen=True)
class AccentSettings:
    steps: int = 128
    lr: float = 0.02  # Adam's, on the spectrum
    size: int | None = None  # the square's side; None: the model's input size
    radius: float = 0.25  # the bound on the spectrum's RMS distance from the frame's (~0.05 mean pixel change)
    penalty: float = 1.0  # the regularizer's weight at the radius, in the objective's units
    first: int = 8  # steps before the first result
    seed: int = 0  # of the views' draws

    def check(self) -> AccentSettings:
        if self.steps < 1:
            raise DeepvisError(f"--steps must be at least 1, not {self.steps}")
        if not self.lr > 0:
            raise DeepvisError(f"--lr must be above 0, not {self.lr}")
        if self.size is not None and not 16 <= self.size <= 4096:
            raise DeepvisError(f"--size must be 16 to 4096 pixels, not {self.size}")
        if not (self.radius > 0 and math.isfinite(self.radius)):
            raise DeepvisError(f"--radius must be above 0, not {self.radius}")
        if not self.penalty >= 0 or self.first < 1:
            raise DeepvisError("the penalty must be >= 0 and the first result after at least 1 step")
        return self


@dataclass
class Accentuation:
    """One result: the accentuated frame so far and its figures."""

    image: np.ndarray  # S x S x 3 uint8
    frame: np.ndarray  # S x S x 3 uint8: the start
    alpha: np.ndarray  # S x S float32 in [0, 1]: where the unit's gradient fell, accumulated so far
    step: int
    steps: int
    objective_start: float  # the unit's channel mean on the frame
    objective: float  # ... on the image
    distance: float  # the spectrum's RMS distance from the frame's (at most the radius)
    pixel_change: float  # the mean absolute pixel difference from the frame, in [0, 1]

    @property
    def final(self) -> bool:
        return self.step >= self.steps

    def faded(self, background: int = 255) -> np.ndarray:
        """The image faded towards `background` where the unit's gradient was small: where it looks."""
        opacity = self.alpha[..., None]
        return (self.image * opacity + background * (1 - opacity) + 0.5).astype(np.uint8)


def result_steps(first: int, steps: int) -> list[int]:
    """The steps after which a result is shown: first, 2 * first, 4 * first ... and the last."""
    shown, now = [], first
    while now < steps:
        shown.append(now)
        now *= 2
    return shown + [steps]


def minimum_side(loaded: LoadedModel) -> int:
    """The shortest frame side accepted: a quarter of the model's input (56 px for 224), below which
    the image would be blown up more than 4 times and the deeper units see a few pixels."""
    return max(16, loaded.card.input_size // 4)


def check_frame(rgb: np.ndarray, loaded: LoadedModel) -> None:
    """One line when the frame is not an RGB image or is too small for the model."""
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise DeepvisError(f"expected an RGB image, got an array of shape {rgb.shape}")
    h, w = rgb.shape[:2]
    minimum = minimum_side(loaded)
    if min(h, w) < minimum:
        raise DeepvisError(f"the image is {w} x {h}: too small for the model (at least {minimum} px on its "
                           "shorter side)")


def frame_square(rgb: np.ndarray, side: int) -> np.ndarray:
    """The centred square of an H x W x 3 uint8 frame, resized to side x side (as Live crops frames)."""
    import cv2

    h, w = rgb.shape[:2]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    square = np.ascontiguousarray(rgb[top:top + s, left:left + s])
    interpolation = cv2.INTER_AREA if s > side else cv2.INTER_CUBIC
    return cv2.resize(square, (side, side), interpolation=interpolation)


def unit_tap(loaded: LoadedModel, layer: Layer) -> Tap:
    """Where the unit is read: the pre-activation where the layer applies one inside, else its output;
    the softmax's units as the logits."""
    if layer.path in (SOFTMAX, OUTPUT):
        return Tap(loaded.model, "output")
    from deepvis.unitvis.optimize import UnitSite

    return UnitSite(loaded, layer).tap


def _views() -> Compose:
    return Compose([Pad(4), Jitter(6), RandomScale(0.95, 1.05), RandomRotate(5.0)])


def _uint8(images: torch.Tensor) -> np.ndarray:
    return (images[0].permute(1, 2, 0) * 255.0 + 0.5).clamp(0, 255).to(torch.uint8).cpu().numpy()


def accentuate(loaded: LoadedModel, rgb: np.ndarray, layer: Layer, unit: int,
               settings: AccentSettings = AccentSettings(),
               on_result: Callable[[Accentuation], None] | None = None,
               cancel: Callable[[], bool] | None = None,
               on_step: Callable[[int, int], None] | None = None) -> Accentuation | None:
    """Accentuate `unit` of `layer` in the frame `rgb` (H x W x 3 uint8); the last result, or None
    when cancel() turned true. on_result(result) after settings.first steps, each time the steps
    double, and at the end; on_step(step, steps) after every step (the window rests there, to leave
    the cores to its live view); both on the thread that calls this."""
    from deepvis.dream.ascent import layer_width

    settings = settings.check()
    device, card = loaded.device, loaded.card
    side = settings.size or card.input_size
    check_frame(rgb, loaded)
    square = frame_square(rgb, side)
    tap = unit_tap(loaded, layer)
    width = layer_width(loaded.model, tap, side, device)
    if not 0 <= unit < width:
        raise DeepvisError(f"--unit {unit} is out of range: {layer.name} has units 0..{width - 1}")
    frame = torch.from_numpy(square).to(device).permute(2, 0, 1)[None].float() / 255.0
    param = FourierImage.from_images(frame).anchor(settings.radius)
    mean = torch.tensor(card.mean, device=device).view(1, 3, 1, 1)
    std = torch.tensor(card.std, device=device).view(1, 3, 1, 1)

    def normalize(images):
        return (images - mean) / std

    unit_objective = channel(tap, unit)
    penalty = Objective([], lambda _taken: -settings.penalty * param.squared_distance() / settings.radius ** 2,
                        "distance from the frame")
    with torch.no_grad():
        start = float(unit_objective(loaded.model, normalize(param.image())))
    shown = set(result_steps(settings.first, settings.steps))
    alpha = torch.zeros(1, 1, side, side, device=device)
    latest: list[Accentuation] = []

    def result(step: int) -> Accentuation:
        with torch.no_grad():
            image = param.image()
            value = float(unit_objective(loaded.model, normalize(image)))
            change = float((_quantized(image) - _quantized(frame)).abs().mean())
        opacity = alpha_map(alpha)[0, 0] if float(alpha.max()) > 0 else torch.zeros_like(alpha[0, 0])
        return Accentuation(image=_uint8(image), frame=square, alpha=opacity.float().cpu().numpy(), step=step,
                            steps=settings.steps, objective_start=start, objective=value,
                            distance=float(param.distance().detach()[0]), pixel_change=change)

    def progress(step: int, total: int) -> None:
        if step in shown:
            latest.append(result(step))
            if on_result is not None:
                on_result(latest[-1])
        if on_step is not None:
            on_step(step, total)

    rendered = render(loaded.model, unit_objective + penalty, param, transforms=_views(),
                      step_rule=Adam(settings.lr), steps=settings.steps, normalize=normalize,
                      random=ImageRandom([settings.seed]), alpha=alpha, progress=progress, cancel=cancel)
    return None if rendered is None else latest[-1]


def _quantized(images: torch.Tensor) -> torch.Tensor:
    """As the PNG will hold it."""
    return (images * 255.0 + 0.5).floor().clamp(0, 255) / 255.0


def summary(result: Accentuation, model: str, layer: Layer, unit: int, settings: AccentSettings,
            image: str) -> dict:
    return {"model": model, "image": image, "layer": layer.name, "unit": unit, "settings": asdict(settings),
            "size": int(result.image.shape[0]), "steps": result.step, "objective_start": result.objective_start,
            "objective_end": result.objective, "distance": result.distance, "radius": settings.radius,
            "pixel_change": result.pixel_change}


def where_file(out: Path) -> Path:
    """FILE_where.png beside FILE.png: the result faded where the unit's gradient was small."""
    return out.with_name(f"{out.stem}_where.png")


def write_accentuation(out: Path, result: Accentuation, figures: dict) -> list[Path]:
    """FILE.png (the accentuated image), FILE_where.png (it faded where the unit does not look) and
    FILE.json (`figures`): as the command writes them and the window shows them."""
    from deepvis.dream.files import write_json, write_png

    out = Path(out)
    write_png(out, result.image)
    write_png(where_file(out), result.faded())
    write_json(out.with_suffix(".json"), figures)
    return [out, where_file(out), out.with_suffix(".json")]
