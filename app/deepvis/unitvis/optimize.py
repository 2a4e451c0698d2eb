"""Activation maximization presets: Yosinski et al.'s A-D and Lucid's, composed from deepvis.optvis.

Many units at once: image b maximizes unit units[b], in one vectorized loss.
The objective is the unit at the centre of its map (a conv unit; an fc unit is
itself), read at its pre-activation where the layer applies its activation
inside (timm's BatchNormAct2d: the input of `.act`): ReLU6 clips at 0 and 6, so
the shown value has no gradient outside (0, 6) and cannot exceed 6. The
figures are recorded for both: the optimized pre-activation and the shown
(post-activation) value the user sees.

A-D (Yosinski et al. 2015): pixels in Caffe's space, a constant or "progress"
step, then L2 decay, blur every N steps, small-norm and small-contribution
clipping; each image is kept at its best value. `lucid` (Olah et al. 2017):
a Fourier image with decorrelated colour, pad/jitter/scale/rotate views, Adam,
ReLU gradients redirected for the first steps so that dead units still move.
`maco` (Fel et al. 2023): only the phase of a spectrum whose magnitude is that
of natural images, several random crops per step with a little noise, Adam on
the phase; it also returns the transparency map (where the unit's gradient fell,
accumulated over the steps), `OptimizeResult.alpha`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Callable, Sequence

import torch

from deepvis import DeepvisError
from deepvis.optvis import regularizers as reg
from deepvis.optvis.maco import MacoImage, maco_views
from deepvis.optvis.objectives import Tap, at_centre, read, unit
from deepvis.optvis.param import FourierImage, PixelImage
from deepvis.optvis.render import Adam, Constant, Progress, render
from deepvis.optvis.seeds import ImageRandom
from deepvis.optvis.transforms import Compose, Jitter, Pad, RandomRotate, RandomScale
from deepvis.unitvis.sites import has_pre, inner_activation
from deepvis.zoo import Layer, LoadedModel


@dataclass(frozen=True)
class Preset:
    name: str
    steps: int
    decay: float = 0.0  # x <- (1 - decay) x
    blur_sigma: float = 0.0
    blur_every: int = 0
    norm_pct: float = 0.0  # zero pixels whose RGB norm is below this percentile
    contrib_pct: float = 0.0  # zero pixels whose |sum_c x * grad| is below this percentile
    lr: float = 100.0  # constant step, or the cap of the "progress" rule
    lr_policy: str = "constant"  # constant | progress (lr = min(lr, gain / ||g||^2)) | adam
    gain: float = 2.0
    init_std: float = 10.0  # of the starting noise, in 0..255 pixel units (Fourier units for lucid)
    param: str = "pixel"  # pixel (Caffe's mean-subtracted pixels) | fourier (lucid) | maco
    # maco only: crops per step, their side as fractions of the image's, the spread of their centres
    # (in sides) and the noise added to each (in [0, 1] units)
    crops: int = 0
    crop_sides: tuple[float, float] = (1.0, 1.0)
    crop_centre_std: float = 0.0
    noise: float = 0.0
    # lucid only
    pad: int = 0
    jitter: int = 0  # Lucid's jitter before scale and rotate; another of half this follows them
    scales: tuple[float, float] = (1.0, 1.0)
    degrees: float = 0.0
    redirect_steps: int = 0


PRESETS: dict[str, Preset] = {
    "A": Preset("A", steps=500, blur_sigma=0.5, blur_every=4, norm_pct=50, lr=100, lr_policy="progress", gain=2),
    "B": Preset("B", steps=750, decay=0.3, norm_pct=20, lr=100),
    "C": Preset("C", steps=1000, decay=1e-4, blur_sigma=1.0, blur_every=4, lr=100),
    "D": Preset("D", steps=1000, blur_sigma=0.5, blur_every=4, contrib_pct=90, lr=1e8, lr_policy="progress", gain=2),
    "lucid": Preset("lucid", steps=512, lr=0.05, lr_policy="adam", param="fourier", init_std=0.01, pad=12,
                    jitter=8, scales=(0.9, 1.1), degrees=10.0, redirect_steps=16),
    # A unit is read at the centre of its map: the crops keep the image's centre near theirs.
    "maco": Preset("maco", steps=256, lr=0.2, lr_policy="adam", param="maco", crops=2, crop_sides=(0.6, 1.0),
                   crop_centre_std=0.05, noise=0.03),
}


def get_preset(name: str, steps: int | None = None) -> Preset:
    if name not in PRESETS:
        raise DeepvisError(f"unknown preset '{name}' (one of {', '.join(PRESETS)})")
    preset = PRESETS[name]
    if steps is not None:
        if steps < 1:
            raise DeepvisError("--steps must be at least 1")
        preset = Preset(**{**asdict(preset), "steps": steps,
                           "redirect_steps": min(preset.redirect_steps, steps)})
    return preset


@dataclass
class OptimizeResult:
    """Per unit (one row each): the image to save and the figures of that image."""

    units: torch.Tensor  # B
    images: torch.Tensor  # B x 3 x H x W in [0, 1], on the CPU
    objective: torch.Tensor  # B: the optimized value (pre-activation where there is one)
    shown: torch.Tensor  # B: the layer's output value the user sees
    success: torch.Tensor  # B bool: the unit is the top unit of its layer (objective values, strict)
    success_shown: torch.Tensor  # B bool: top by the shown values (ties at a clip count as top)
    tied_shown: torch.Tensor  # B bool: ... and another unit has the same shown value
    site: str  # pre | shown
    # B x 1 x H x W on the CPU (maco): |d unit / d pixel| accumulated over the steps; alpha_map() makes
    # it a transparency in [0, 1], alpha_blend() fades the image where it is small
    alpha: torch.Tensor | None = None


class UnitSite:
    """Where a layer's units are optimized: the pre-activation when there is one, else the output."""

    def __init__(self, loaded: LoadedModel, layer: Layer, use_pre: bool = True):
        self.model = loaded.model
        self.kind = "pre" if use_pre and has_pre(loaded, layer) else "shown"
        module = loaded.module(layer.path)
        self.act = inner_activation(module) if self.kind == "pre" else None
        self.tap = Tap(self.act, "input") if self.act is not None else Tap(module, "output")

    def channels_at_centre(self, x: torch.Tensor) -> torch.Tensor:
        """B x C: every unit of the layer at the centre of its map, the forward stopped there."""
        return at_centre(read(self.model, x, [self.tap])[self.tap])

    def shown(self, values: torch.Tensor) -> torch.Tensor:
        """The displayed values from the objective's (the inner activation applied)."""
        return values if self.act is None else self.act(values.clone())


Objective = UnitSite  # the name ondemand.py reads a layer's width with


def _image(preset: Preset, random: ImageRandom, size: int, mean: Sequence[float], device):
    if preset.param == "maco":
        return MacoImage(random, size, device=device)
    if preset.param == "fourier":
        return FourierImage(random, size, preset.init_std, device)
    return PixelImage.noise(random, size, preset.init_std, mean, device)


def _views(preset: Preset, model_size: int):
    if preset.param == "maco":
        return maco_views(model_size, preset.crops, *preset.crop_sides, noise=preset.noise,
                          centre_std=preset.crop_centre_std)
    # Lucid's two jitters (before and after scale and rotate) as one shift of their sum:
    # the same views, drawn as 4 numbers per step, that the shipped images were made with.
    moves = [Jitter(preset.jitter + preset.jitter // 2) if preset.jitter else None,
             RandomScale(*preset.scales) if preset.scales != (1.0, 1.0) else None,
             RandomRotate(preset.degrees) if preset.degrees else None]
    moves = [m for m in moves if m is not None]
    return Compose([Pad(preset.pad), *moves]) if moves else None


def _regularizers(preset: Preset) -> list:
    chosen = [reg.L2Decay(preset.decay) if preset.decay else None,
              reg.GaussianBlur(preset.blur_sigma, preset.blur_every) if preset.blur_every else None,
              reg.ClipSmallNorm(preset.norm_pct) if preset.norm_pct else None,
              reg.ClipSmallContribution(preset.contrib_pct) if preset.contrib_pct else None]
    return [r for r in chosen if r is not None]


def _step_rule(preset: Preset):
    if preset.lr_policy == "adam":
        return Adam(preset.lr)
    if preset.lr_policy == "progress":
        return Progress(preset.lr, preset.gain)
    return Constant(preset.lr)


def optimize_units(loaded: LoadedModel, layer: Layer, units: Sequence[int], preset: Preset, seed: int = 0,
                   size: int | None = None, use_pre: bool = True,
                   progress: Callable[[int, int], None] | None = None,
                   should_stop: Callable[[], bool] | None = None) -> OptimizeResult | None:
    """Optimize one image per unit, all in one batch; None when should_stop() asked to stop."""
    device = loaded.device
    size = size or loaded.card.input_size
    site = UnitSite(loaded, layer, use_pre)
    with torch.no_grad():  # a dry run checks the units against the layer's width
        channels = site.channels_at_centre(torch.zeros(1, 3, size, size, device=device)).shape[1]
    if len(units) and (min(units) < 0 or max(units) >= channels):
        raise DeepvisError(f"units of {layer.name} are 0..{channels - 1}")
    mean = torch.tensor(loaded.card.mean, device=device).view(1, 3, 1, 1)
    std = torch.tensor(loaded.card.std, device=device).view(1, 3, 1, 1)
    # One generator per unit: a unit's image does not depend on its batch or process.
    random = ImageRandom([seed * 1_000_003 + int(u) for u in units])
    rendered = render(
        loaded.model, unit(site.tap, list(units)), _image(preset, random, size, loaded.card.mean, device),
        transforms=_views(preset, size), regularizers=_regularizers(preset), step_rule=_step_rule(preset),
        steps=preset.steps, normalize=lambda images: (images - mean) / std, random=random,
        redirect_steps=preset.redirect_steps, keep_best=preset.lr_policy != "adam", alpha=preset.param == "maco",
        progress=progress, cancel=should_stop)
    if rendered is None:
        return None
    result = evaluate(site, torch.tensor(list(units), dtype=torch.long, device=device), rendered.images, mean, std)
    result.alpha = None if rendered.alpha is None else rendered.alpha.cpu()
    return result


@torch.no_grad()
def evaluate(site: UnitSite, units: torch.Tensor, images: torch.Tensor, mean, std) -> OptimizeResult:
    """The figures of the images that are saved (in [0, 1], no transform)."""
    values = site.channels_at_centre((images - mean) / std).float()
    shown = site.shown(values)
    rows = torch.arange(len(units), device=values.device)
    mine, mine_shown = values[rows, units], shown[rows, units]
    others_shown = shown.clone()
    others_shown[rows, units] = float("-inf")
    best_other = others_shown.amax(dim=1)
    return OptimizeResult(
        units=units.cpu(), images=images.detach().cpu(), objective=mine.cpu(), shown=mine_shown.cpu(),
        success=(values.argmax(dim=1) == units).cpu() & (values.amax(dim=1) > -math.inf).cpu(),
        success_shown=(mine_shown >= best_other).cpu(), tied_shown=(mine_shown == best_other).cpu(),
        site=site.kind,
    )
