"""The optimization loop: an objective, an image parameterization, views, regularizers, a step rule.

Each step: image -> random view -> model input -> objective (B values) ->
one backward of their sum (the images do not interact with the model in eval
mode, so each image gets its own gradient) -> step -> regularizers (not after
the last step) -> constraint. For the first `redirect_steps` steps, ReLU/ReLU6
modules pass a gradient that pushes a dead input back to life (Lucid).
"""

from __future__ import annotations

from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import torch
from torch import nn

from deepvis.hooks import hooked
from deepvis.optvis.objectives import Objective
from deepvis.optvis.seeds import ImageRandom
from deepvis.optvis.transforms import Transform

Step = Callable[[Sequence[torch.Tensor]], None]  # applies one ascent step, given the gradients


# --------------------------------------------------------------------------- step rules


@dataclass(frozen=True)
class Constant:
    """x <- x + lr * g."""

    lr: float

    def start(self, params: Sequence[torch.Tensor]) -> Step:
        def step(grads):
            for p, g in zip(params, grads):
                p.add_(g, alpha=self.lr)
        return step


@dataclass(frozen=True)
class Progress:
    """x <- x + lr * g with lr = min(max_lr, gain / ||g||^2) per image: a first-order gain of `gain`."""

    max_lr: float
    gain: float = 2.0

    def start(self, params: Sequence[torch.Tensor]) -> Step:
        def step(grads):
            for p, g in zip(params, grads):
                lr = (self.gain / g.flatten(1).pow(2).sum(dim=1).clamp_min(1e-30)).clamp(max=self.max_lr)
                p.add_(lr.view(-1, *([1] * (g.dim() - 1))) * g)
        return step


@dataclass(frozen=True)
class Adam:
    """torch's Adam, ascending."""

    lr: float

    def start(self, params: Sequence[torch.Tensor]) -> Step:
        optimizer = torch.optim.Adam(params, lr=self.lr, maximize=True)

        def step(grads):
            for p, g in zip(params, grads):
                p.grad = g
            optimizer.step()
        return step


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
        # As in Lucid, only an image whose plain gradient is zero here takes the redirected one:
        # redirecting every dead unit of every layer makes the gradient explode (norms of 1e7 seen),
        # and Adam's running scale then stalls the optimization for hundreds of steps.
        dead = plain.flatten(1).abs().amax(dim=1) == 0
        if not bool(dead.any()):
            return plain, None, None  # the common case: no image needs the redirected gradient here
        redirected = torch.where(x <= ctx.lo, grad.clamp(min=0), grad)  # ascent: a positive gradient raises x
        if ctx.hi is not None:
            redirected = torch.where(x >= ctx.hi, grad.clamp(max=0), redirected)
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
    saved: dict[int, torch.Tensor] = {}

    def save_input(module, inputs):
        if active():
            saved[id(module)] = inputs[0].clone()  # before an in-place op overwrites it

    def redirect(bounds):
        def hook(module, _inputs, _output):
            x = saved.pop(id(module), None)
            return None if x is None else _RedirectedClamp.apply(x, *bounds)
        return hook

    clamps = [(m, bounds) for m in model.modules() if (bounds := _clamp_range(m)) is not None]
    with hooked(forward=[(m, redirect(bounds)) for m, bounds in clamps], pre=[(m, save_input) for m, _ in clamps]):
        yield


# --------------------------------------------------------------------------- the loop


@dataclass
class Rendered:
    images: torch.Tensor  # B x 3 x H x W in [0, 1], detached
    values: torch.Tensor  # B: the objective of each returned image
    # B x 1 x H x W: |d objective / d pixel| summed over colours and steps (MACO's transparency), or None
    alpha: torch.Tensor | None = None


def render(model: nn.Module, objective: Objective, param, *, transforms: Transform | None = None,
           regularizers: Sequence[Callable] = (), step_rule=Adam(0.05), steps: int = 512,
           normalize: Callable[[torch.Tensor], torch.Tensor] | None = None, random: ImageRandom | None = None,
           redirect_steps: int = 0, keep_best: bool = False, alpha: bool | torch.Tensor = False,
           progress: Callable[[int, int], None] | None = None,
           cancel: Callable[[], bool] | None = None) -> Rendered | None:
    """Maximize `objective` over `param`'s images; None when cancel() turned true.

    normalize: images in [0, 1] -> the model's input. random: the per-image
    draws of the transforms (default: seeds 0..B-1). A transform may give
    several views per image (an image's views one after another): the image's
    value is then their mean, and its gradient that of their sum. keep_best:
    return each image at its best value seen (of the views each step saw, and
    of the last image), rather than the last image. alpha: also accumulate the
    gradient's magnitude at every pixel of the image over the steps (`alpha_map`
    turns it into a transparency in [0, 1]); given a B x 1 x H x W tensor, into
    that tensor, in place, so that a progress callback sees it grow.
    """
    params = param.params()
    step = step_rule.start(params)
    normalize = normalize or (lambda images: images)
    batch = len(params[0])
    random = random or ImageRandom(range(batch))
    best = best_values = None
    accumulated = alpha if isinstance(alpha, torch.Tensor) else None
    alpha = alpha is not False
    now = 0
    redirecting = redirected_relus(model, lambda: now < redirect_steps) if redirect_steps else nullcontext()
    with redirecting:
        for now in range(steps):
            if cancel is not None and cancel():
                return None
            with torch.enable_grad():
                images = param.image()
                view = transforms(images, random) if transforms is not None else images
                values = objective(model, normalize(view), views=len(view) // batch)
                grads = torch.autograd.grad(values.sum(), [*params, images] if alpha else params)
            with torch.no_grad():
                if alpha:
                    *grads, pixel_grad = grads
                    magnitude = pixel_grad.abs().sum(dim=1, keepdim=True)
                    accumulated = magnitude if accumulated is None else accumulated.add_(magnitude)
                values, images = _per_image(values.detach(), batch), images.detach()
                if keep_best:
                    best, best_values = _better(best, best_values, images, values)
                step(grads)
                if now < steps - 1:  # regularizers shape the image for the next step: none after the last
                    for p, g in zip(params, grads):
                        x = p
                        for regularizer in regularizers:
                            x = regularizer(x, g, now)
                        p.copy_(x)
                param.constrain_()
            if progress is not None:
                progress(now + 1, steps)
    with torch.no_grad():
        images = param.image().detach()
        values = objective(model, normalize(images))
        if keep_best:
            images, values = _better(best, best_values, images, values)
    return Rendered(images=images, values=values, alpha=accumulated)


def _per_image(values: torch.Tensor, batch: int) -> torch.Tensor:
    """B values from B * K views' values (an image's views one after another): their means."""
    return values if len(values) == batch else values.view(batch, -1).mean(dim=1)


def alpha_map(accumulated: torch.Tensor, percentile: float = 99.0) -> torch.Tensor:
    """B x 1 x H x W in [0, 1]: accumulated gradient magnitudes over each image's own `percentile`,
    clipped at 1 (a few very large pixels would otherwise leave the rest transparent)."""
    flat = accumulated.flatten(1).float()
    top = flat.quantile(percentile / 100.0, dim=1).clamp_min(1e-30)
    return (accumulated / top.view(-1, 1, 1, 1).to(accumulated)).clamp(0, 1)


def alpha_blend(images: torch.Tensor, alpha: torch.Tensor, background: float = 1.0) -> torch.Tensor:
    """images (B x 3 x H x W in [0, 1]) over a flat `background` grey level, `alpha` (B x 1 x H x W in
    [0, 1]) the opacity: where the objective's gradient was small, the image fades out."""
    return images * alpha + background * (1 - alpha)


def _better(best, best_values, images, values):
    """Per image, the candidate where its value beats the best so far."""
    if best is None:
        return images.clone(), values.clone()
    improved = values > best_values
    return torch.where(improved[:, None, None, None], images, best), torch.where(improved, values, best_values)
