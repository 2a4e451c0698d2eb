"""DeepDream's pieces on top of optvis: what to amplify, the roll jitter and the normalized step.

optvis has the layer's L2 but not one channel's, and neither a roll nor the
g / mean|g| rule; they are built here from its Objective, its transform calling
convention `transform(images, random)` and its step-rule interface `start(params)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from torch import nn

from deepvis import DeepvisError
from deepvis.optvis.objectives import Objective, Tap, layer_l2, read
from deepvis.optvis.seeds import ImageRandom
from deepvis.zoo import OUTPUT, SOFTMAX, Layer, LoadedModel


def channel_l2(tap: Tap, channel: int) -> Objective:
    """The mean squared activation of one channel, per image."""
    def score(taken):
        tensor = taken[tap]
        return tensor[:, channel].flatten(1).pow(2).mean(dim=1)
    return Objective([tap], score, f"channel {channel} L2")


def layer_tap(loaded: LoadedModel, layer: Layer) -> Tap:
    """The tensor a layer shows; the softmax pseudo-layer is read as the logits it comes from."""
    if layer.path in (SOFTMAX, OUTPUT):
        return Tap(loaded.model, "output")
    return Tap(loaded.module(layer.path), "output")


@torch.no_grad()
def layer_width(model: nn.Module, tap: Tap, size: int, device) -> int:
    """The number of channels (units) at the tap, from a dry run on a small grey image."""
    tensor = read(model, torch.zeros(1, 3, size, size, device=device), [tap])[tap]
    return int(tensor.shape[1])


def dream_objective(loaded: LoadedModel, layer: Layer, unit: int | None, probe_size: int = 64) -> Objective:
    """The layer's mean squared activation, or one unit's (channel's) when `unit` is given."""
    tap = layer_tap(loaded, layer)
    if unit is None:
        return layer_l2(tap)
    width = layer_width(loaded.model, tap, probe_size, loaded.device)
    if not 0 <= unit < width:
        raise DeepvisError(f"--unit {unit} is out of range: {layer.name} has units 0..{width - 1}")
    return channel_l2(tap, unit)


class Roll:
    """A random circular shift of up to `pixels` each way, one per image (dream.ipynb's jitter).

    Used as an optvis transform: the gradient flows back through the roll, so
    the step lands on the unshifted image, which is the notebook's "roll back".
    """

    draws = 2

    def __init__(self, pixels: int):
        self.pixels = int(pixels)

    def shifts(self, random: ImageRandom) -> list[tuple[int, int]]:
        span = 2 * self.pixels + 1
        draws = random.uniform(2)
        return [(int(dy * span) - self.pixels, int(dx * span) - self.pixels) for dy, dx in draws.tolist()]

    def __call__(self, images: torch.Tensor, random: ImageRandom) -> torch.Tensor:
        if self.pixels <= 0:
            return images
        views = [torch.roll(image, shifts=shift, dims=(1, 2)) for image, shift in zip(images, self.shifts(random))]
        return torch.stack(views)


@dataclass(frozen=True)
class NormalizedStep:
    """x <- x + lr * g / mean|g| per image: every step moves the pixels by lr on average."""

    lr: float

    def start(self, params: Sequence[torch.Tensor]):
        def step(grads):
            for p, g in zip(params, grads):
                scale = g.abs().flatten(1).mean(dim=1).clamp_min(1e-12)
                p.add_(g * (self.lr / scale).view(-1, *([1] * (g.dim() - 1))))
        return step
