"""A weight layer as one picture of tiles, with where each unit's tile lies (for hover and click).

First-layer RGB filters as colour tiles (as conv1 of AlexNet is shown); any conv layer's filters
per input channel (a row per unit, a tile per input channel, blue/red); a Linear layer's rows as
images where its inputs have an image's shape; else a heat map of the matrix.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from deepvis.weights.colors import diverging_rgb, grid_shape, signed_rgb, tile, upscale
from deepvis.weights.layers import WeightLayer, image_shape

MAX_UNITS = 256  # tiles beyond these are left out, and the picture says so
MAX_CHANNELS = 16
MAX_BLOCKS = 64  # units drawn as blocks of input-channel kernels
TARGET_TILE = 36  # pixels a small filter is enlarged to (nearest neighbour)


@dataclass
class TilePicture:
    """An RGB picture whose unit u covers rects[u] = (x, y, w, h) (heat maps: a row each)."""

    rgb: np.ndarray
    style: str  # rgb | channels | rows | heatmap
    rects: list[tuple[int, int, int, int]] = field(default_factory=list)
    ranges: list[tuple[float, float]] = field(default_factory=list)  # each unit's weight range
    note: str = ""

    def unit_at(self, x: float, y: float) -> int | None:
        for unit, (rx, ry, rw, rh) in enumerate(self.rects):
            if rx <= x < rx + rw and ry <= y < ry + rh:
                return unit
        return None


def _zoom(size: int) -> int:
    return max(1, TARGET_TILE // max(size, 1))


def _unit_ranges(weights: np.ndarray) -> list[tuple[float, float]]:
    flat = weights.reshape(len(weights), -1)
    return [(float(lo), float(hi)) for lo, hi in zip(flat.min(axis=1), flat.max(axis=1))]


def _grid(images: np.ndarray, cols: int, pad: int) -> tuple[np.ndarray, list]:
    h, w = images.shape[1:3]
    rgb = tile(images, cols, pad=pad, background=28)
    rects = []
    for i in range(len(images)):
        r, c = divmod(i, cols)
        rects.append((pad + c * (w + pad), pad + r * (h + pad), w, h))
    return rgb, rects


def layer_picture(layer: WeightLayer, weights: np.ndarray, style: str | None = None) -> TilePicture:
    """The picture of a layer; style None picks: rgb for a 3-channel conv, heat map for 1x1 convs,
    rows for Linear layers with an image-shaped input, channels for other convs."""
    style = style or default_style(layer)
    shown = weights[:MAX_UNITS]
    note = f"first {MAX_UNITS} of {len(weights)} units" if len(weights) > MAX_UNITS else ""
    ranges = _unit_ranges(shown)
    if style == "rgb":
        zoom = _zoom(shown.shape[-1])
        images = np.stack([upscale(t, zoom) for t in signed_rgb(shown[:, :3])])
        rgb, rects = _grid(images, grid_shape(len(images), 1.6)[1], pad=2)
        return TilePicture(rgb, style, rects, ranges, note or "each filter on its own scale; grey = 0")
    if style == "rows":
        channels, side, _ = image_shape(shown.shape[1])
        zoom = _zoom(side)
        planes = shown.reshape(len(shown), channels, side, side)
        if channels == 3:
            tiles = signed_rgb(planes)
        else:
            tiles = np.stack([diverging_rgb(p[0]) for p in planes])
        images = np.stack([upscale(t, zoom) for t in tiles])
        rgb, rects = _grid(images, grid_shape(len(images), 1.6)[1], pad=2)
        return TilePicture(rgb, style, rects, ranges, note or "each row as an image on its own symmetric scale")
    if style == "channels":
        # Each unit is a block of its input channels' kernels (one symmetric scale per unit).
        shown = shown[:MAX_BLOCKS]
        if len(weights) > MAX_BLOCKS:
            note = f"first {MAX_BLOCKS} of {len(weights)} units"
        c_in = min(shown.shape[1], MAX_CHANNELS)
        zoom = max(1, 24 // shown.shape[-1])
        block_cols = grid_shape(c_in)[1]
        blocks = []
        for unit in shown:
            scale = float(np.abs(unit).max()) or 1.0
            kernels = np.stack([upscale(diverging_rgb(k, scale), zoom) for k in unit[:c_in]])
            blocks.append(tile(kernels, block_cols, pad=1, background=90))
        rgb, rects = _grid(np.stack(blocks), grid_shape(len(blocks), 1.5)[1], pad=4)
        if shown.shape[1] > MAX_CHANNELS:
            note = (note + "; " if note else "") + f"first {MAX_CHANNELS} of {shown.shape[1]} input channels"
        return TilePicture(rgb, style, rects, ranges[:len(shown)],
                           note or "a block per unit, a tile per input channel; one scale per unit")
    # heat map: units down, inputs across, one symmetric scale for the whole matrix
    matrix = shown.reshape(len(shown), -1)
    cell = max(1, min(6, 900 // max(matrix.shape[1], 1)))
    row_h = max(1, min(6, 900 // max(len(matrix), 1)))
    rgb = diverging_rgb(matrix).repeat(row_h, axis=0).repeat(cell, axis=1)
    rects = [(0, u * row_h, rgb.shape[1], row_h) for u in range(len(matrix))]
    return TilePicture(rgb, "heatmap", rects, ranges,
                       note or "units down, inputs across; one symmetric scale; blue +, red -")


def default_style(layer: WeightLayer) -> str:
    if layer.kind == "conv":
        kh, kw = layer.shape[2:]
        if kh * kw == 1:
            return "heatmap"
        return "rgb" if layer.shape[1] == 3 else "channels"
    return "rows" if image_shape(layer.shape[1]) else "heatmap"
