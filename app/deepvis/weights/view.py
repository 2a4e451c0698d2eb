"""What the Weights mode shows for one layer, made off the GUI thread and display-ready: its
weights (a page's picture is drawn from them with numpy alone), its histogram, each unit's range,
and for the first conv its filters applied to noise."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from deepvis.weights.colors import symmetric_scale
from deepvis.weights.histograms import histogram
from deepvis.weights.layers import WeightLayer, weights_of
from deepvis.weights.pictures import TilePicture, layer_picture, page_size, unit_ranges


@dataclass
class LayerView:
    layer: WeightLayer
    model_name: str  # the model it was read from (what it belongs to)
    weights: np.ndarray  # float32, the layer's whole weight
    ranges: list[tuple[float, float]]  # each unit's (min, max) weight
    scale: float  # max |weight|: one colour scale for every page of a heat map
    counts: np.ndarray  # the weight histogram
    edges: np.ndarray
    stats: dict[str, float]
    noise_rgb: np.ndarray | None = None  # the first conv's filters applied to noise

    def picture(self, page: int) -> TilePicture:
        """The page's picture: units page * size .. (page + 1) * size - 1. Drawn on the GUI thread
        when a page turns: 64 blocks of 16 kernels take 34-49 ms on two cores shared with other work."""
        size = page_size(self.layer)
        return layer_picture(self.layer, self.weights, first=page * size, count=size, scale=self.scale)


def layer_view(model, layer: WeightLayer, model_name: str = "", with_noise: bool = False) -> LayerView:
    weights = weights_of(model, layer)
    counts, edges = histogram(weights)
    stats = {"min": float(weights.min()), "max": float(weights.max()), "std": float(weights.std())}
    noise = None
    if with_noise and layer.kind == "conv":
        from deepvis.weights.report import noise_picture

        noise = noise_picture(model, size=48, units=min(layer.units, 64), conv=model.get_submodule(layer.path))
    return LayerView(layer, model_name, weights, unit_ranges(weights), symmetric_scale(weights), counts, edges,
                     stats, noise)
