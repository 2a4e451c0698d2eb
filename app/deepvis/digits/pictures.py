"""An MLP's weights as pictures (seed 004): each hidden unit's 784 weights as 28 x 28, the output
units' weights over the hidden units, and for each digit its 3 most positive and 3 most negative
hidden units. Blue positive, red negative, white zero; each weight image on its own symmetric scale."""

from __future__ import annotations

import numpy as np
import torch

from deepvis.digits.data import SIDE
from deepvis.digits.nets import MLP
from deepvis.weights.colors import diverging_rgb, grid_shape, tile, upscale
from deepvis.weights.figures import WEIGHT_CMAP, new_figure

SCALE_NOTE = "blue +, red -, white 0; each image on its own symmetric scale"


def mlp_weights(mlp: MLP) -> tuple[np.ndarray, np.ndarray]:
    """Hidden weights H x 784 and output weights 10 x H, as numpy."""
    with torch.no_grad():
        return mlp.hidden.weight.detach().cpu().numpy(), mlp.output.weight.detach().cpu().numpy()


def unit_image(weights: np.ndarray) -> np.ndarray:
    """One hidden unit's 784 weights as a 28 x 28 x 3 image on its own symmetric scale."""
    return diverging_rgb(weights.reshape(SIDE, SIDE))


def hidden_tiles(w1: np.ndarray, zoom: int = 1, cols: int | None = None) -> tuple[np.ndarray, int]:
    """Every hidden unit's image in one grid (for live views); returns (image, columns)."""
    images = np.stack([upscale(unit_image(w), zoom) for w in w1])
    cols = cols or grid_shape(len(images), 1.3)[1]
    return tile(images, cols, pad=2 * zoom, background=60), cols


def top_units(w2: np.ndarray, digit: int, k: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """The k hidden units with the most positive and the k with the most negative weights into a
    digit's output unit (most extreme first)."""
    order = np.argsort(w2[digit])
    k = min(k, w2.shape[1])
    return order[::-1][:k], order[:k]


def hidden_figure(w1: np.ndarray, title: str = "hidden units' weights"):
    rows, cols = grid_shape(len(w1), 1.3)
    height = 1.35 * rows + 0.7
    figure = new_figure(1.25 * cols + 0.4, height)
    for i, weights in enumerate(w1):
        ax = figure.add_subplot(rows, cols, i + 1)
        ax.imshow(unit_image(weights), interpolation="nearest")
        ax.set_title(f"h{i}  ±{np.abs(weights).max():.2g}", fontsize=8)
        ax.axis("off")
    figure.suptitle(f"{title}\n{SCALE_NOTE}", fontsize=9)
    figure.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=1 - 0.75 / height, wspace=0.1, hspace=0.3)
    return figure


def output_figure(w2: np.ndarray):
    """The 10 output units' weights over the hidden units: digits down, hidden units across."""
    hidden = w2.shape[1]
    figure = new_figure(min(2.5 + 0.32 * hidden, 16), 4.2)
    ax = figure.add_subplot(1, 1, 1)
    scale = float(np.abs(w2).max()) or 1.0
    shown = ax.imshow(w2, cmap=WEIGHT_CMAP, vmin=-scale, vmax=scale, aspect="auto", interpolation="nearest")
    ax.set_yticks(range(10))
    ax.set_ylabel("digit (output unit)")
    ax.set_xticks(range(hidden) if hidden <= 40 else range(0, hidden, max(1, hidden // 20)))
    ax.tick_params(axis="x", labelsize=7)
    ax.set_xlabel("hidden unit")
    figure.colorbar(shown, ax=ax, fraction=0.04, pad=0.02, label="weight")
    ax.set_title("output units' weights over the hidden units (one symmetric scale)", fontsize=9)
    figure.tight_layout()
    return figure


def digit_figure(w1: np.ndarray, w2: np.ndarray, digit: int, k: int = 3):
    """A digit's k most positive (top row) and k most negative (bottom row) hidden units."""
    up, down = top_units(w2, digit, k)
    figure = new_figure(1.9 * max(len(up), 1) + 0.8, 4.6)
    for row, (units, label) in enumerate(((up, "pushes up"), (down, "pushes down"))):
        for col, u in enumerate(units):
            ax = figure.add_subplot(2, len(up), row * len(up) + col + 1)
            ax.imshow(unit_image(w1[u]), interpolation="nearest")
            ax.set_title(f"h{u}  w={w2[digit, u]:+.2f}", fontsize=9,
                         color="#21669c" if w2[digit, u] >= 0 else "#b2182b")
            ax.set_xticks([])
            ax.set_yticks([])
            if col == 0:
                ax.set_ylabel(label, fontsize=9)
    figure.suptitle(f"digit {digit}: its {k} most positive and {k} most negative hidden units\n{SCALE_NOTE}",
                    fontsize=9)
    figure.subplots_adjust(left=0.08, right=0.98, bottom=0.03, top=0.82, wspace=0.15, hspace=0.28)
    return figure
