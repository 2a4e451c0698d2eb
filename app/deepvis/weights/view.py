"""What the Weights mode shows for one layer, made off the GUI thread and display-ready."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from torch import nn

from deepvis.weights.histograms import histogram
from deepvis.weights.layers import WeightLayer, weights_of
from deepvis.weights.pictures import TilePicture, layer_picture


@dataclass
class LayerView:
    layer: WeightLayer
    picture: TilePicture
    counts: np.ndarray  # the weight histogram
    edges: np.ndarray
    stats: dict[str, float]
    noise_rgb: np.ndarray | None = None  # the first conv's filters applied to noise


def layer_view(model: nn.Module, layer: WeightLayer, with_noise: bool = False) -> LayerView:
    weights = weights_of(model, layer)
    counts, edges = histogram(weights)
    stats = {"min": float(weights.min()), "max": float(weights.max()), "std": float(weights.std())}
    noise = None
    if with_noise and layer.kind == "conv":
        from deepvis.weights.report import noise_picture

        noise = noise_picture(model, size=48, units=min(layer.units, 64), conv=model.get_submodule(layer.path))
    return LayerView(layer, layer_picture(layer, weights), counts, edges, stats, noise)
