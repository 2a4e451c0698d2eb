"""Weights as colours: blue positive, red negative, white zero, on a symmetric scale; tiles laid out
in a grid. Plain numpy, shared by the Weights and Digits pictures and views."""

from __future__ import annotations

import math

import numpy as np

BLUE = np.array((33, 102, 172), dtype=np.float32)  # the ends of ColorBrewer's RdBu
RED = np.array((178, 24, 43), dtype=np.float32)
WHITE = np.array((255, 255, 255), dtype=np.float32)


def symmetric_scale(values: np.ndarray) -> float:
    """max |value|, or 1 for an all-zero array (so that zero stays white)."""
    peak = float(np.max(np.abs(values))) if values.size else 0.0
    return peak if peak > 0 and math.isfinite(peak) else 1.0


def diverging_rgb(values: np.ndarray, scale: float | None = None) -> np.ndarray:
    """... x 3 uint8: white at 0, BLUE at +scale, RED at -scale (one scale for the whole array;
    max |values| when None)."""
    values = np.asarray(values, dtype=np.float32)
    scale = symmetric_scale(values) if scale is None else float(scale)
    t = np.clip(values / scale, -1.0, 1.0)[..., None]
    ends = np.where(t >= 0, BLUE, RED)
    rgb = WHITE + np.abs(t) * (ends - WHITE)
    return np.rint(rgb).astype(np.uint8)


def signed_rgb(filters: np.ndarray) -> np.ndarray:
    """N x 3 x h x w filters as N x h x w x 3 uint8 colour images: each filter scaled on its own
    so that 0 is mid-grey and its largest |weight| reaches 0 or 255 (how conv1 filters are shown)."""
    flat = filters.reshape(len(filters), -1)
    peak = np.abs(flat).max(axis=1).clip(min=1e-12)
    scaled = 0.5 + 0.5 * filters / peak[:, None, None, None]
    return np.rint(np.clip(scaled, 0, 1) * 255).astype(np.uint8).transpose(0, 2, 3, 1)


def grid_shape(n: int, aspect: float = 1.0) -> tuple[int, int]:
    """(rows, cols) for n tiles, about `aspect` times wider than tall."""
    cols = max(1, math.ceil(math.sqrt(n * aspect)))
    return math.ceil(n / cols), cols


def tile(images: np.ndarray, cols: int | None = None, pad: int = 1, background: int = 40) -> np.ndarray:
    """N x h x w x 3 uint8 tiles -> one image, row by row, `pad` pixels between tiles; B x N x h x w x 3
    -> B such images (one array operation for all of them)."""
    *batch, n, h, w, channels = images.shape
    rows, cols = grid_shape(n) if cols is None else (math.ceil(n / cols), cols)
    cells = np.full((*batch, rows * cols, h + pad, w + pad, channels), background, dtype=np.uint8)
    cells[..., :n, :h, :w, :] = images
    grid = np.swapaxes(cells.reshape(*batch, rows, cols, h + pad, w + pad, channels), -4, -3)
    out = np.full((*batch, rows * (h + pad) + pad, cols * (w + pad) + pad, channels), background, dtype=np.uint8)
    out[..., pad:, pad:, :] = grid.reshape(*batch, rows * (h + pad), cols * (w + pad), channels)
    return out


def tile_origin(index: int, cols: int, h: int, w: int, pad: int = 1) -> tuple[int, int]:
    """(y, x) of tile `index`'s top-left pixel in tile()'s output."""
    r, c = divmod(index, cols)
    return pad + r * (h + pad), pad + c * (w + pad)


def upscale(image: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour enlargement (crisp weight pixels)."""
    return image.repeat(factor, axis=0).repeat(factor, axis=1) if factor > 1 else image
