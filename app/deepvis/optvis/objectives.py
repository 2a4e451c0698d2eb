"""What to maximize: objectives on tensors taken inside a model, with sums and scalings.

An objective maps a batch of model inputs to B values, one per image, higher
being better. Objectives add, subtract and scale like numbers (`a + b`,
`2 * a`, `-a`). With one index per image (`unit(tap, [3, 7, 9])`) a batch of B
images optimizes B different units, and their loss is one vectorized sum.
Tensors are read through `deepvis.hooks`; the forward stops as soon as every
tensor the objective needs is taken.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping, Sequence

import torch
from torch import nn

from deepvis import DeepvisError
from deepvis.hooks import StopForward, first_tensor, hooked, run_stoppable


@dataclass(frozen=True)
class Tap:
    """A tensor of the forward: a module's output, or its input ("input": a pre-activation,
    read before an in-place activation overwrites it)."""

    module: nn.Module
    where: str = "output"  # output | input


def read(model: nn.Module, x: torch.Tensor, taps: Iterable[Tap]) -> dict[Tap, torch.Tensor]:
    """The tensors at the taps (a reused module's first call) from model(x), stopped after the last one."""
    wanted = list(dict.fromkeys(taps))
    taken: dict[Tap, torch.Tensor] = {}

    def take(tap: Tap, tensor: torch.Tensor) -> None:
        taken[tap] = tensor
        if len(taken) == len(wanted):
            raise StopForward

    def on_input(tap: Tap):
        def hook(_module, inputs):
            if tap not in taken and inputs and isinstance(inputs[0], torch.Tensor):
                # A copy, unless this is the last tap: the module may work in place on its input.
                last = len(taken) + 1 == len(wanted)
                take(tap, inputs[0] if last else inputs[0].clone())
        return hook

    def on_output(tap: Tap):
        def hook(_module, _inputs, output):
            tensor = first_tensor(output)
            if tap in taken or tensor is None:
                return None
            take(tap, tensor)
            # The model goes on with a copy, so a later in-place op leaves the taken tensor alone.
            return tensor.clone() if isinstance(output, torch.Tensor) else None
        return hook

    with hooked(forward=[(t.module, on_output(t)) for t in wanted if t.where == "output"],
                pre=[(t.module, on_input(t)) for t in wanted if t.where == "input"]):
        run_stoppable(model, x)
    if len(taken) < len(wanted):
        raise DeepvisError("an objective reads a module that the model's forward does not run")
    return taken


def at_centre(tensor: torch.Tensor) -> torch.Tensor:
    """B x C: a conv map's channels at its centre position; a flat layer's units as they are."""
    if tensor.dim() == 4:
        return tensor[:, :, tensor.shape[2] // 2, tensor.shape[3] // 2]
    return tensor.flatten(1)


# Views per image of the batch being scored: an objective called with views=K scores B * K rows,
# an image's K views one after another, and each view takes its image's index.
_VIEWS: ContextVar[int] = ContextVar("views_per_image", default=1)


def views_per_image() -> int:
    """K while an objective scores K views of each image (see Objective.__call__)."""
    return _VIEWS.get()


def _pick(values: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
    """values[b, indices[b]] for B x C values; one index for all images, or one per image (per view
    of each image when scoring several views of each)."""
    indices = indices.to(values.device)
    if indices.dim() == 0:
        return values[:, indices]
    views = views_per_image()
    if views > 1 and len(values) == len(indices) * views:
        indices = indices.repeat_interleave(views)
    if len(indices) != len(values):
        raise DeepvisError(f"{len(indices)} indices for a batch of {len(values)} images")
    return values.gather(1, indices[:, None]).squeeze(1)


class Objective:
    """B values computed from the tensors at `taps`."""

    def __init__(self, taps: Sequence[Tap], score: Callable[[Mapping[Tap, torch.Tensor]], torch.Tensor],
                 name: str):
        self.taps = tuple(dict.fromkeys(taps))
        self.score = score
        self.name = name

    def __call__(self, model: nn.Module, x: torch.Tensor, views: int = 1) -> torch.Tensor:
        """The values of the B rows of x; views=K: x holds K views of each image, one after another."""
        token = _VIEWS.set(views)
        try:
            return self.score(read(model, x, self.taps))
        finally:
            _VIEWS.reset(token)

    def __repr__(self) -> str:
        return f"Objective({self.name})"

    def __add__(self, other: Objective | float) -> Objective:
        if isinstance(other, Objective):
            return Objective(self.taps + other.taps, lambda t: self.score(t) + other.score(t),
                             f"{self.name} + {other.name}")
        return Objective(self.taps, lambda t: self.score(t) + other, f"{self.name} + {other}")

    __radd__ = __add__  # so that sum(objectives) works

    def __mul__(self, factor: float) -> Objective:
        return Objective(self.taps, lambda t: factor * self.score(t), f"{factor} * ({self.name})")

    __rmul__ = __mul__

    def __neg__(self) -> Objective:
        return -1 * self

    def __sub__(self, other: Objective | float) -> Objective:
        return self + (-other)


def _indices(indices: int | Sequence[int] | torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(indices, dtype=torch.long)


def unit(tap: Tap, units: int | Sequence[int] | torch.Tensor) -> Objective:
    """The unit at the centre of its map (a flat layer's unit itself); image b takes units[b]."""
    chosen = _indices(units)
    return Objective([tap], lambda t: _pick(at_centre(t[tap]), chosen), f"unit {units}")


def channel(tap: Tap, channels: int | Sequence[int] | torch.Tensor) -> Objective:
    """A channel's mean over its map; image b takes channels[b]."""
    chosen = _indices(channels)

    def score(taken):
        tensor = taken[tap]
        means = tensor.flatten(2).mean(dim=2) if tensor.dim() > 2 else tensor
        return _pick(means, chosen)
    return Objective([tap], score, f"channel {channels}")


def layer_l2(tap: Tap) -> Objective:
    """The mean squared activation of the whole tensor, per image (DeepDream's objective)."""
    return Objective([tap], lambda t: t[tap].flatten(1).pow(2).mean(dim=1), "layer L2")


def class_logit(model: nn.Module, classes: int | Sequence[int] | torch.Tensor) -> Objective:
    """The model's output for a class (before any softmax); image b takes classes[b]."""
    tap = Tap(model, "output")
    chosen = _indices(classes)
    return Objective([tap], lambda t: _pick(t[tap].flatten(1), chosen), f"class {classes}")
