"""Per-layer weight histograms, one small panel per layer, in the model's order."""

from __future__ import annotations

import math

import numpy as np

from deepvis.weights.figures import new_figure
from deepvis.weights.layers import WeightLayer

BINS = 60


def histogram(weights: np.ndarray, bins: int = BINS) -> tuple[np.ndarray, np.ndarray]:
    """Counts and edges over a symmetric range (so 0 sits at the centre)."""
    peak = float(np.abs(weights).max()) or 1.0
    return np.histogram(weights.ravel(), bins=bins, range=(-peak, peak))


def histogram_figure(layers: list[tuple[WeightLayer, np.ndarray]], width: float = 12.0):
    cols = min(4, max(1, len(layers)))
    rows = math.ceil(len(layers) / cols)
    height = 1.7 * rows + 0.6
    figure = new_figure(width, height)
    for i, (layer, weights) in enumerate(layers):
        ax = figure.add_subplot(rows, cols, i + 1)
        counts, edges = histogram(weights)
        centres = (edges[:-1] + edges[1:]) / 2
        ax.bar(centres, counts, width=edges[1] - edges[0], color=np.where(centres >= 0, "#21669c", "#b2182b"))
        ax.set_yscale("log")
        ax.set_title(f"{layer.path}  {'x'.join(map(str, layer.shape))}", fontsize=7.5)
        ax.tick_params(labelsize=6.5)
        ax.text(0.98, 0.95, f"std {weights.std():.3g}", transform=ax.transAxes, ha="right", va="top", fontsize=6.5)
    figure.suptitle("weight histograms (log counts; blue +, red -)", fontsize=9)
    figure.subplots_adjust(left=0.04, right=0.99, bottom=0.04, top=1 - 0.8 / height, hspace=0.65, wspace=0.25)
    return figure
