"""Matplotlib without pyplot (Agg, safe on worker threads): figures to PNG files or RGB arrays,
and the blue/white/red colormap of weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure

from deepvis.files import atomic_path, write_png_atomic
from deepvis.weights.colors import BLUE, RED, WHITE

WEIGHT_CMAP = LinearSegmentedColormap.from_list("weights", [RED / 255, WHITE / 255, BLUE / 255])


def new_figure(width: float, height: float, dpi: int = 100) -> Figure:
    figure = Figure(figsize=(width, height), dpi=dpi)
    FigureCanvasAgg(figure)
    return figure


def figure_rgb(figure: Figure) -> np.ndarray:
    """H x W x 3 uint8."""
    canvas = figure.canvas
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def save_figure(figure: Figure, path: str | Path) -> Path:
    """Write a PNG atomically (a reader never sees half a file)."""
    with atomic_path(path) as partial:
        figure.savefig(partial, format="png")
    return Path(path)


def save_rgb(rgb: np.ndarray, path: str | Path) -> Path:
    """An RGB uint8 array as PNG, atomically."""
    return write_png_atomic(path, rgb)
