"""Matplotlib without pyplot (Agg, safe on worker threads): figures to PNG files or RGB arrays,
and the blue/white/red colormap of weights."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure

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
    path = Path(path)
    partial = path.with_name(f".{path.stem}.{os.getpid()}.partial.png")
    figure.savefig(partial, format="png")
    os.replace(partial, path)
    return path


def save_rgb(rgb: np.ndarray, path: str | Path) -> Path:
    """An RGB uint8 array as PNG, atomically."""
    import cv2

    path = Path(path)
    partial = path.with_name(f".{path.stem}.{os.getpid()}.partial.png")
    if not cv2.imwrite(str(partial), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
        raise OSError(f"cannot write {path}")
    os.replace(partial, path)
    return path
