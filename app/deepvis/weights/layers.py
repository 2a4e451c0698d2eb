"""The layers of a model that hold weights worth drawing: every Conv2d and Linear, by module path.

WeightLayer is plain data (the Weights view model reads it without torch); torch is imported by
the functions that read a model."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from deepvis import DeepvisError

if TYPE_CHECKING:
    import numpy as np
    from torch import nn


@dataclass(frozen=True)
class WeightLayer:
    path: str  # module path from named_modules()
    kind: str  # conv | linear
    shape: tuple[int, ...]  # the weight's shape: O x I x kh x kw, or O x I
    index: int  # its position among the weight layers (0: the first)

    @property
    def units(self) -> int:
        return self.shape[0]

    def describe(self) -> str:
        dims = "x".join(str(d) for d in self.shape)
        return f"{self.path} ({self.kind} {dims})"


def weight_layers(model: nn.Module) -> list[WeightLayer]:
    from torch import nn

    found = []
    for path, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            found.append(WeightLayer(path, "conv", tuple(module.weight.shape), len(found)))
        elif isinstance(module, nn.Linear):
            found.append(WeightLayer(path, "linear", tuple(module.weight.shape), len(found)))
    return found


def find_weight_layer(layers: list[WeightLayer], name: str) -> WeightLayer:
    for layer in layers:
        if layer.path == name:
            return layer
    known = ", ".join(l.path for l in layers[:8]) + (" ..." if len(layers) > 8 else "")
    raise DeepvisError(f"no conv or linear layer '{name}' (module paths: {known})")


def weights_of(model: nn.Module, layer: WeightLayer) -> np.ndarray:
    """The weight as float32 numpy (copied off the device)."""
    import torch

    with torch.no_grad():
        return model.get_submodule(layer.path).weight.detach().float().cpu().numpy()


def image_shape(inputs: int) -> tuple[int, int, int] | None:
    """(channels, h, w) when a Linear layer's inputs look like a square image (1 or 3 channels)."""
    for channels in (1, 3):
        if inputs % channels == 0:
            side = math.isqrt(inputs // channels)
            if side * side * channels == inputs and side >= 4:
                return channels, side, side
    return None
