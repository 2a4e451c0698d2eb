"""Activation maximization: many units at once, one image per unit in one batch.

The loss is one vectorized sum over the batch, sum_b act[b, unit_b] (never a
Python sum of per-unit objectives): with the model in eval mode the images do
not interact, so one backward gives every image its own gradient.

The objective is the unit at the centre of its map (a conv unit; an fc unit is
itself), read at its pre-activation where the layer applies its activation
inside (timm's BatchNormAct2d: the input of `.act`): ReLU6 clips at 0 and 6, so
the shown value has no gradient outside (0, 6) and cannot exceed 6. The
figures are recorded for both: the optimized pre-activation and the shown
(post-activation) value the user sees.

Settings (Yosinski et al. 2015): x <- r(x + lr * da/dx) in Caffe's pixel space
(0..255, mean subtracted), with r = L2 decay, Gaussian blur every N steps,
zeroing pixels of small norm, zeroing pixels of small contribution, in that
order, skipped on the last step; presets A-D are the paper's four. `lucid`:
a Fourier-space image with decorrelated colour through a sigmoid, random
pad/jitter/scale/rotate each step, Adam, ReLU gradients redirected for the
first steps so that dead units still move (Olah et al. 2017, Lucid).
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Callable, Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from deepvis import DeepvisError
from deepvis.unitvis.sites import Site, has_pre, inner_activation, read_sites, run_until_taken
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
    # lucid only
    pad: int = 0
    jitter: int = 0
    scales: tuple[float, float] = (1.0, 1.0)
    degrees: float = 0.0
    redirect_steps: int = 0


PRESETS: dict[str, Preset] = {
    "A": Preset("A", steps=500, blur_sigma=0.5, blur_every=4, norm_pct=50, lr=100, lr_policy="progress", gain=2),
    "B": Preset("B", steps=750, decay=0.3, norm_pct=20, lr=100),
    "C": Preset("C", steps=1000, decay=1e-4, blur_sigma=1.0, blur_every=4, lr=100),
    "D": Preset("D", steps=1000, blur_sigma=0.5, blur_every=4, contrib_pct=90, lr=1e8, lr_policy="progress", gain=2),
    "lucid": Preset("lucid", steps=512, lr=0.05, lr_policy="adam", init_std=0.01, pad=12, jitter=8,
                    scales=(0.9, 1.1), degrees=10.0, redirect_steps=16),
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


# --------------------------------------------------------------------------- reading the unit


class Objective:
    """Reads a layer's units at the centre of the map, the forward stopped right there."""

    def __init__(self, loaded: LoadedModel, layer: Layer, use_pre: bool = True):
        self.loaded, self.layer = loaded, layer
        self.kind = "pre" if use_pre and has_pre(loaded, layer) else "shown"
        self.site = Site(layer, self.kind)
        self.act = inner_activation(loaded.module(layer.path)) if self.kind == "pre" else None

    def channels_at_centre(self, x: torch.Tensor) -> torch.Tensor:
        """B x C: every unit of the layer at the centre of its map (the objective's site)."""
        taken = {}
        with read_sites(self.loaded, [self.site], lambda s, t: taken.setdefault("out", t)):
            run_until_taken(self.loaded.model, x)
        out = taken["out"]
        if out.dim() == 4:
            return out[:, :, out.shape[2] // 2, out.shape[3] // 2]
        return out.flatten(1)

    def shown(self, values: torch.Tensor) -> torch.Tensor:
        """The displayed values from the objective's (the inner activation applied)."""
        if self.act is None:
            return values
        return self.act(values.clone())


# --------------------------------------------------------------------------- redirected ReLU


class _RedirectedClamp(torch.autograd.Function):
    """clamp(x, lo, hi) whose gradient also passes where it would bring x back into (lo, hi)."""

    @staticmethod
    def forward(ctx, x, lo, hi):
        ctx.save_for_backward(x)
        ctx.lo, ctx.hi = lo, hi
        return x.clamp(lo, hi)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        inside = x > ctx.lo if ctx.hi is None else (x > ctx.lo) & (x < ctx.hi)
        plain = grad * inside
        redirected = torch.where(x <= ctx.lo, grad.clamp(min=0), grad)  # ascent: a positive gradient raises x
        if ctx.hi is not None:
            redirected = torch.where(x >= ctx.hi, grad.clamp(max=0), redirected)
        # As in Lucid, only an image whose plain gradient is zero here takes the redirected one:
        # redirecting every dead unit of every layer makes the gradient explode (norms of 1e7 seen),
        # and Adam's running scale then stalls the optimization for hundreds of steps.
        dead = plain.flatten(1).abs().amax(dim=1) == 0
        return torch.where(dead.view(-1, *([1] * (grad.dim() - 1))), redirected, plain), None, None


def _clamp_range(module: nn.Module) -> tuple[float, float | None] | None:
    if isinstance(module, nn.ReLU6):
        return 0.0, 6.0
    if isinstance(module, nn.ReLU):
        return 0.0, None
    if isinstance(module, nn.Hardtanh) and module.min_val == 0.0:
        return 0.0, module.max_val
    return None


@contextmanager
def redirected_relus(model: nn.Module, active: Callable[[], bool]) -> Iterator[None]:
    """While active(), ReLU/ReLU6 modules pass the gradient that pushes a dead input back to life."""
    handles = []
    saved: dict[int, torch.Tensor] = {}
    try:
        for module in model.modules():
            bounds = _clamp_range(module)
            if bounds is None:
                continue

            def pre(m, inputs):
                if active():
                    saved[id(m)] = inputs[0].clone()  # before an in-place op overwrites it

            def post(m, _inputs, output, bounds=bounds):
                x = saved.pop(id(m), None)
                if x is not None:
                    return _RedirectedClamp.apply(x, *bounds)
                return None

            handles.append(module.register_forward_pre_hook(pre))
            handles.append(module.register_forward_hook(post))
        yield
    finally:
        for handle in handles:
            handle.remove()


# --------------------------------------------------------------------------- image models


def _unit_generators(units: Sequence[int], seed: int) -> list[torch.Generator]:
    # One generator per unit: a unit's image does not depend on its batch or process.
    return [torch.Generator().manual_seed(seed * 1_000_003 + int(u)) for u in units]


def _normal(generators: list[torch.Generator], shape: tuple[int, ...]) -> torch.Tensor:
    return torch.stack([torch.randn(shape, generator=g) for g in generators])


def _uniform(generators: list[torch.Generator], n: int) -> torch.Tensor:
    return torch.stack([torch.rand(n, generator=g) for g in generators])


# Lucid's colour correlation (square root of the ImageNet colour covariance), columns normalized.
_COLOR_SQRT = torch.tensor([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]])
_COLOR_SQRT = _COLOR_SQRT / _COLOR_SQRT.norm(dim=0).max()


class FourierImage(nn.Module):
    """Images from a scaled Fourier spectrum, colours decorrelated, squashed to [0, 1] by a sigmoid."""

    def __init__(self, generators, size: int, init_std: float, device, decay_power: float = 1.0):
        super().__init__()
        fy = torch.fft.fftfreq(size)[:, None]
        fx = torch.fft.rfftfreq(size)[None, :]
        freqs = (fy * fy + fx * fx).sqrt()
        scale = 1.0 / freqs.clamp(min=1.0 / size) ** decay_power
        self.register_buffer("scale", scale[None, None, :, :, None].to(device))  # with the orthonormal inverse FFT, as Lucid
        self.size = size
        spectrum = _normal(generators, (3, size, size // 2 + 1, 2)) * init_std
        self.spectrum = nn.Parameter(spectrum.to(device))

    def forward(self) -> torch.Tensor:
        scaled = torch.view_as_complex((self.spectrum * self.scale).contiguous())
        image = torch.fft.irfft2(scaled, s=(self.size, self.size), norm="ortho") / 4.0
        image = torch.einsum("bchw,dc->bdhw", image, _COLOR_SQRT.to(image.device))
        return torch.sigmoid(image)


def random_transform(images: torch.Tensor, params: torch.Tensor, preset: Preset) -> torch.Tensor:
    """Lucid's transforms, one draw per image: pad, jitter, scale, rotate, jitter, in one resampling.

    params: B x 4 uniform draws (shift y, shift x, scale, angle). The view keeps the
    image's own size and pixel scale (Lucid's crops let it grow by the padding): the
    figures are taken on the image itself, and a unit read at the centre of its map
    must see the same place in both.
    """
    b, _, h, w = images.shape
    padded = F.pad(images, [preset.pad] * 4, value=0.5)
    out = h
    big = padded.shape[-1]
    max_shift = (preset.jitter + preset.jitter // 2) / 2
    shift = (params[:, :2] * 2 - 1) * max_shift * 2 / big  # in normalized coordinates
    lo, hi = preset.scales
    scale = lo + params[:, 2] * (hi - lo)
    angle = (params[:, 3] * 2 - 1) * math.radians(preset.degrees)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    ratio = out / big
    theta = torch.stack([
        torch.stack([cos * ratio, -sin * ratio, shift[:, 1]], dim=1),
        torch.stack([sin * ratio, cos * ratio, shift[:, 0]], dim=1),
    ], dim=1).to(images)
    grid = F.affine_grid(theta, [b, 3, out, out], align_corners=False)
    return F.grid_sample(padded, grid, mode="bilinear", padding_mode="border", align_corners=False)


# --------------------------------------------------------------------------- the loop


def _percentile_mask(values: torch.Tensor, pct: float) -> torch.Tensor:
    """B x H x W -> True where the value is at or above the per-image percentile."""
    flat = values.flatten(1)
    k = max(1, min(flat.shape[1], int(round(pct / 100.0 * flat.shape[1]))))
    threshold = flat.kthvalue(k, dim=1).values
    return values >= threshold[:, None, None]


def _blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    from torchvision.transforms.v2.functional import gaussian_blur

    radius = max(1, int(math.ceil(3 * sigma)))
    return gaussian_blur(x, [2 * radius + 1] * 2, [sigma, sigma])


def optimize_units(loaded: LoadedModel, layer: Layer, units: Sequence[int], preset: Preset, seed: int = 0,
                   size: int | None = None, use_pre: bool = True,
                   progress: Callable[[int, int], None] | None = None,
                   should_stop: Callable[[], bool] | None = None) -> OptimizeResult | None:
    """Optimize one image per unit, all in one batch; None when should_stop() asked to stop."""
    device = loaded.device
    size = size or loaded.card.input_size
    objective = Objective(loaded, layer, use_pre)
    units_t = torch.tensor(list(units), dtype=torch.long, device=device)
    rows = torch.arange(len(units), device=device)
    generators = _unit_generators(units, seed)
    mean = torch.tensor(loaded.card.mean, device=device).view(1, 3, 1, 1)
    std = torch.tensor(loaded.card.std, device=device).view(1, 3, 1, 1)
    # A dry run checks the units against the layer's width.
    with torch.no_grad():
        channels = objective.channels_at_centre(torch.zeros(1, 3, size, size, device=device)).shape[1]
    if len(units) and (min(units) < 0 or max(units) >= channels):
        raise DeepvisError(f"units of {layer.name} are 0..{channels - 1}")

    def target(values: torch.Tensor) -> torch.Tensor:
        return values[rows, units_t]

    if preset.lr_policy == "adam":
        image_model = FourierImage(generators, size, preset.init_std, device)
        # maximize=True: backward sees d(objective)/d(out), the sign the redirected ReLU expects.
        optimizer = torch.optim.Adam(image_model.parameters(), lr=preset.lr, maximize=True)
        draws = torch.stack([torch.rand(preset.steps, 4, generator=g) for g in generators], dim=1).to(device)
        step_now = [0]
        with redirected_relus(loaded.model, lambda: step_now[0] < preset.redirect_steps):
            for step in range(preset.steps):
                if should_stop is not None and should_stop():
                    return None
                step_now[0] = step
                optimizer.zero_grad(set_to_none=True)
                with torch.enable_grad():
                    images = random_transform(image_model(), draws[step], preset)
                    values = objective.channels_at_centre((images - mean) / std)
                    target(values).sum().backward()
                optimizer.step()
                if progress is not None:
                    progress(step + 1, preset.steps)
        with torch.no_grad():
            best = image_model().detach()
    else:
        # Caffe's pixel space: 0..255 with the mean subtracted, so the paper's step sizes carry over.
        low, high = -255.0 * mean, 255.0 * (1 - mean)
        x = (_normal(generators, (3, size, size)).to(device) * preset.init_std).clamp(low, high)
        best = x.clone()
        best_value = torch.full((len(units),), float("-inf"), device=device)
        for step in range(preset.steps):
            if should_stop is not None and should_stop():
                return None
            with torch.enable_grad():
                x.requires_grad_(True)
                values = target(objective.channels_at_centre(x / (255.0 * std)))
                (grad,) = torch.autograd.grad(values.sum(), x)
            x = x.detach()
            with torch.no_grad():
                improved = values.detach() > best_value
                best_value = torch.where(improved, values.detach(), best_value)
                best = torch.where(improved[:, None, None, None], x, best)
                if preset.lr_policy == "progress":
                    lr = (preset.gain / grad.flatten(1).pow(2).sum(dim=1).clamp_min(1e-30)).clamp(max=preset.lr)
                    lr = lr[:, None, None, None]
                else:
                    lr = preset.lr
                x = x + lr * grad
                if step < preset.steps - 1:  # the regularizers are not applied on the last step
                    if preset.decay:
                        x = x * (1.0 - preset.decay)
                    if preset.blur_every and step % preset.blur_every == 0:
                        x = _blur(x, preset.blur_sigma)
                    if preset.norm_pct:
                        x = x * _percentile_mask(x.norm(dim=1), preset.norm_pct)[:, None]
                    if preset.contrib_pct:
                        x = x * _percentile_mask((x * grad).sum(dim=1).abs(), preset.contrib_pct)[:, None]
                x = torch.maximum(torch.minimum(x, high), low)
            if progress is not None:
                progress(step + 1, preset.steps)
        # The last image counts too.
        with torch.no_grad():
            values = target(objective.channels_at_centre(x / (255.0 * std)))
            improved = values > best_value
            best = torch.where(improved[:, None, None, None], x, best)
            best = (best / 255.0 + mean).clamp(0, 1)
    return evaluate(objective, units_t, best, mean, std)


@torch.no_grad()
def evaluate(objective: Objective, units: torch.Tensor, images: torch.Tensor, mean, std) -> OptimizeResult:
    """The figures of the images that are saved (in [0, 1], no transform)."""
    values = objective.channels_at_centre((images - mean) / std).float()
    shown = objective.shown(values)
    rows = torch.arange(len(units), device=values.device)
    mine, mine_shown = values[rows, units], shown[rows, units]
    others_shown = shown.clone()
    others_shown[rows, units] = float("-inf")
    best_other = others_shown.amax(dim=1)
    return OptimizeResult(
        units=units.cpu(), images=images.detach().cpu(), objective=mine.cpu(), shown=mine_shown.cpu(),
        success=(values.argmax(dim=1) == units).cpu() & (values.amax(dim=1) > -math.inf).cpu(),
        success_shown=(mine_shown >= best_other).cpu(), tied_shown=(mine_shown == best_other).cpu(),
        site=objective.kind,
    )
