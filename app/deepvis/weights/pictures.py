"""A weight layer as one picture of tiles, with where each unit's tile lies (for hover and click).

First-layer RGB filters as colour tiles (as conv1 of AlexNet is shown); any conv layer's filters
per input channel (a row per unit, a tile per input channel, blue/red); a Linear layer's rows as
images where its inputs have an image's shape; else a heat map of the matrix.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from deepvis.weights.colors import diverging_rgb, grid_shape, signed_rgb, symmetric_scale, tile, upscale
from deepvis.weights.layers import WeightLayer, image_shape

MAX_UNITS = 256  # a picture of one layer shows at most these units (the window pages through all)
MAX_CHANNELS = 16
MAX_BLOCKS = 64  # units drawn as blocks of input-channel kernels
TARGET_TILE = 36  # pixels a small filter is enlarged to (nearest neighbour)
# Units on one page of the window, by style: about as many as stay readable at 1440x900.
PAGE_SIZES = {"rgb": 128, "rows": 128, "channels": MAX_BLOCKS, "heatmap": 64}
MAX_ROW_HEIGHT = 24  # pixels of one heat-map row


@dataclass
class TilePicture:
    """An RGB picture of units first, first + 1, ...: unit first + i covers rects[i] = (x, y, w, h)
    (heat maps: a row each)."""

    rgb: np.ndarray
    style: str  # rgb | channels | rows | heatmap
    rects: list[tuple[int, int, int, int]] = field(default_factory=list)
    ranges: list[tuple[float, float]] = field(default_factory=list)  # each shown unit's weight range
    note: str = ""
    first: int = 0  # the unit of rects[0]
    total: int = 0  # the layer's units

    def unit_at(self, x: float, y: float) -> int | None:
        for index, (rx, ry, rw, rh) in enumerate(self.rects):
            if rx <= x < rx + rw and ry <= y < ry + rh:
                return self.first + index
        return None


def _zoom(size: int) -> int:
    return max(1, TARGET_TILE // max(size, 1))


def unit_ranges(weights: np.ndarray) -> list[tuple[float, float]]:
    """Each unit's (min, max) weight."""
    flat = weights.reshape(len(weights), -1)
    return [(float(lo), float(hi)) for lo, hi in zip(flat.min(axis=1), flat.max(axis=1))]


def _unit_scales(weights: np.ndarray) -> np.ndarray:
    """Each unit's max |weight| (1 for an all-zero unit, which stays white)."""
    peaks = np.abs(weights.reshape(len(weights), -1)).max(axis=1)
    return np.where(peaks > 0, peaks, 1.0)


def _grid(images: np.ndarray, cols: int, pad: int) -> tuple[np.ndarray, list]:
    h, w = images.shape[1:3]
    rgb = tile(images, cols, pad=pad, background=28)
    rects = []
    for i in range(len(images)):
        r, c = divmod(i, cols)
        rects.append((pad + c * (w + pad), pad + r * (h + pad), w, h))
    return rgb, rects


def page_size(layer: WeightLayer, style: str | None = None) -> int:
    return PAGE_SIZES[style or default_style(layer)]


def page_count(layer: WeightLayer, style: str | None = None) -> int:
    return max(1, -(-layer.units // page_size(layer, style)))


def layer_picture(layer: WeightLayer, weights: np.ndarray, style: str | None = None, first: int = 0,
                  count: int = MAX_UNITS, scale: float | None = None) -> TilePicture:
    """The picture of units first .. first + count - 1 of a layer (fewer for the channels style:
    MAX_BLOCKS); style None picks: rgb for a 3-channel conv, heat map for 1x1 convs, rows for
    Linear layers with an image-shaped input, channels for other convs. A heat map's colours use
    `scale` (max |weight| of the whole layer by default), so that every page reads alike."""
    style = style or default_style(layer)
    if style == "channels":
        count = min(count, MAX_BLOCKS)
    shown = weights[first:first + count]
    total = len(weights)
    note = f"units {first + 1}-{first + len(shown)} of {total}" if len(shown) < total else ""
    picture = _draw(style, shown, symmetric_scale(weights) if scale is None else scale)
    picture.note = "; ".join(p for p in (note, picture.note) if p)
    picture.ranges, picture.first, picture.total = unit_ranges(shown), first, total
    return picture


def _draw(style: str, shown: np.ndarray, scale: float) -> TilePicture:
    if style == "rgb":
        zoom = _zoom(shown.shape[-1])
        images = np.stack([upscale(t, zoom) for t in signed_rgb(shown[:, :3])])
        rgb, rects = _grid(images, grid_shape(len(images), 1.6)[1], pad=2)
        return TilePicture(rgb, style, rects, note="each filter on its own scale; grey = 0")
    if style == "rows":
        channels, side, _ = image_shape(shown.shape[1])
        planes = shown.reshape(len(shown), channels, side, side)
        if channels == 3:
            tiles = signed_rgb(planes)
        else:  # each row on its own symmetric scale
            tiles = diverging_rgb(planes[:, 0] / _unit_scales(planes)[:, None, None], 1.0)
        zoom = _zoom(side)
        rgb, rects = _grid(tiles.repeat(zoom, axis=1).repeat(zoom, axis=2), grid_shape(len(tiles), 1.6)[1], pad=2)
        return TilePicture(rgb, style, rects, note="each row as an image on its own symmetric scale")
    if style == "channels":
        # Each unit is a block of its input channels' kernels (one symmetric scale per unit), all
        # drawn in one array operation (a page of 64 blocks of 16 kernels took 120 ms one by one).
        c_in = min(shown.shape[1], MAX_CHANNELS)
        zoom = max(1, 24 // shown.shape[-1])
        kernels = diverging_rgb(shown[:, :c_in] / _unit_scales(shown)[:, None, None, None], 1.0)
        kernels = kernels.repeat(zoom, axis=2).repeat(zoom, axis=3)  # U x c_in x kh x kw x 3
        blocks = tile(kernels, grid_shape(c_in)[1], pad=1, background=90)
        rgb, rects = _grid(blocks, grid_shape(len(blocks), 1.5)[1], pad=4)
        note = "a block per unit, a tile per input channel; one scale per unit"
        if shown.shape[1] > MAX_CHANNELS:
            note += f"; first {MAX_CHANNELS} of {shown.shape[1]} input channels"
        return TilePicture(rgb, style, rects, note=note)
    # heat map: units down, inputs across, one symmetric scale; rows about as tall as the picture is wide
    matrix = shown.reshape(len(shown), -1)
    cell = max(1, min(6, 900 // max(matrix.shape[1], 1)))
    row_h = max(1, min(MAX_ROW_HEIGHT, round(matrix.shape[1] * cell / max(len(matrix), 1))))
    rgb = diverging_rgb(matrix, scale).repeat(row_h, axis=0).repeat(cell, axis=1)
    if row_h >= 8:  # a dark line under each row (2 px: it survives the pane's scaling to about half)
        for gap in range(1, 2 + (row_h >= 12)):
            rgb[row_h - gap::row_h] = 28
    rects = [(0, u * row_h, rgb.shape[1], row_h) for u in range(len(matrix))]
    return TilePicture(rgb, "heatmap", rects, note="units down, inputs across; one symmetric scale; blue +, red -")


def default_style(layer: WeightLayer) -> str:
    if layer.kind == "conv":
        kh, kw = layer.shape[2:]
        if kh * kw == 1:
            return "heatmap"
        return "rgb" if layer.shape[1] == 3 else "channels"
    return "rows" if image_shape(layer.shape[1]) else "heatmap"
