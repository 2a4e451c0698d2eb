"""The layer grid, computed with torch on the device and handed over as uint8 RGB.

Every channel of a layer becomes one tile of a near-square grid with thin
borders. Values are normalized jointly over the layer, then each channel may be
boosted (scaled by its own max^-boost) and gamma-corrected, as in the original
toolbox. Fully connected and prob layers are drawn as one square tile per unit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

BORDER_RGB = (48, 48, 52)
SELECTED_RGB = (255, 170, 0)
_CV2_COLORMAPS = {"jet": "COLORMAP_JET", "viridis": "COLORMAP_VIRIDIS", "inferno": "COLORMAP_INFERNO",
                  "magma": "COLORMAP_MAGMA", "hot": "COLORMAP_HOT", "bone": "COLORMAP_BONE"}


@dataclass(frozen=True)
class GridLayout:
    """Where each unit's tile lies in the rendered grid image (pixels)."""

    n_units: int
    rows: int
    cols: int
    tile_h: int  # tile content size after scaling, without the border
    tile_w: int
    border: int

    @property
    def width(self) -> int:
        return self.cols * (self.tile_w + self.border) + self.border

    @property
    def height(self) -> int:
        return self.rows * (self.tile_h + self.border) + self.border

    def tile_rect(self, unit: int) -> tuple[int, int, int, int]:
        """(x, y, w, h) of a unit's tile content."""
        row, col = divmod(unit, self.cols)
        return (self.border + col * (self.tile_w + self.border), self.border + row * (self.tile_h + self.border),
                self.tile_w, self.tile_h)

    def unit_at(self, x: float, y: float) -> int | None:
        """The unit whose tile (border included) holds pixel (x, y), or None."""
        if x < 0 or y < 0:
            return None
        col, row = int(x // (self.tile_w + self.border)), int(y // (self.tile_h + self.border))
        if col >= self.cols or row >= self.rows:
            return None
        unit = row * self.cols + col
        return unit if unit < self.n_units else None

    def move(self, unit: int, d_row: int, d_col: int) -> int:
        """The unit reached from `unit` by moving in the grid, clamped to its edges."""
        row, col = divmod(unit, self.cols)
        row = min(max(row + d_row, 0), self.rows - 1)
        col = min(max(col + d_col, 0), self.cols - 1)
        return min(row * self.cols + col, self.n_units - 1)


def grid_shape(n_units: int) -> tuple[int, int]:
    """Rows and columns of a near-square grid (columns >= rows)."""
    cols = max(1, math.ceil(math.sqrt(n_units)))
    rows = max(1, math.ceil(n_units / cols))
    return rows, cols


def as_maps(act: torch.Tensor) -> torch.Tensor:
    """A layer's activation as C x H x W maps: batch dim dropped, fc units as 1x1 maps."""
    if act.dim() in (2, 4):
        act = act[0]
    if act.dim() == 1:
        act = act[:, None, None]
    if act.dim() != 3:
        raise ValueError(f"cannot tile an activation of shape {tuple(act.shape)}")
    return act


def layout_for(maps_shape: tuple[int, ...], min_size: int = 480, border: int = 1) -> GridLayout:
    """The grid for C maps of HxW, tiles scaled up by a whole factor so the grid is about min_size wide."""
    n, h, w = maps_shape
    rows, cols = grid_shape(n)
    if h == 1 and w == 1:
        # fc units: square tiles, as large as the target size allows.
        side = max(2, (min_size - border) // cols - border)
        return GridLayout(n, rows, cols, side, side, border)
    scale = max(1, (min_size - border - cols * border) // (cols * w))
    return GridLayout(n, rows, cols, h * scale, w * scale, border)


def normalize(maps: torch.Tensor, boost: float = 0.0, gamma: float = 1.0, signed: bool = False) -> torch.Tensor:
    """C x H x W values -> [0, 1], jointly over the layer.

    signed: values are centred on grey (0.5) with the layer's largest |value| at
    0 and 1, as for backward signals. boost in [0, 1]: each channel is scaled by
    its own max^-boost (1: every channel fills the range). gamma is applied last.
    """
    maps = maps.float()
    if signed:
        peak = maps.abs().amax().clamp_min(1e-12)
        out = maps / peak
        if boost > 0:
            chan = out.abs().amax(dim=(1, 2), keepdim=True).clamp_min(1e-6)
            out = (out * chan.pow(-boost)).clamp(-1, 1)
        out = out.sign() * out.abs().pow(gamma) if gamma != 1 else out
        return out * 0.5 + 0.5
    low, high = torch.aminmax(maps)
    low = low.clamp(max=0.0)
    out = (maps - low).div_((high - low).clamp_min(1e-12))
    if boost > 0:
        chan = out.amax(dim=(1, 2), keepdim=True).clamp_min(1e-6)
        out = (out * chan.pow(-boost)).clamp(0, 1)
    return out.pow(gamma) if gamma != 1 else out


@lru_cache(maxsize=16)
def _colormap_lut_cpu(name: str) -> torch.Tensor:
    ramp = np.arange(256, dtype=np.uint8)
    if name == "gray":
        return torch.from_numpy(np.repeat(ramp[:, None], 3, axis=1).copy())
    import cv2

    bgr = cv2.applyColorMap(ramp.reshape(256, 1), getattr(cv2, _CV2_COLORMAPS[name]))  # 256x1x3
    return torch.from_numpy(bgr[:, 0, ::-1].copy())


def colormap_lut(name: str, device: torch.device) -> torch.Tensor:
    """256 x 3 uint8 RGB lookup table on the device."""
    if name != "gray" and name not in _CV2_COLORMAPS:
        raise ValueError(f"unknown colormap {name!r}")
    return _colormap_lut_cpu(name).to(device)


def to_levels(values: torch.Tensor) -> torch.Tensor:
    """[0, 1] values -> uint8 levels 0..255."""
    return values.mul(255).clamp_(0, 255).round_().to(torch.uint8)


def colorize_levels(levels: torch.Tensor, colormap: str = "gray") -> torch.Tensor:
    """uint8 levels of any shape -> the same shape + 3, uint8 RGB."""
    if colormap == "gray":
        channel = levels.unsqueeze(-1)
        return torch.cat([channel, channel, channel], dim=-1)
    lut = colormap_lut(colormap, levels.device)
    return lut.index_select(0, levels.reshape(-1).int()).view(*levels.shape, 3)


def colorize(values: torch.Tensor, colormap: str = "gray") -> torch.Tensor:
    """[0, 1] values of any shape -> the same shape + 3, uint8 RGB, on the same device."""
    return colorize_levels(to_levels(values), colormap)


def tile(levels: torch.Tensor, layout: GridLayout, colormap: str = "gray", selected: int | None = None) -> torch.Tensor:
    """C x h x w uint8 levels -> the grid image (H x W x 3 uint8 RGB) with borders and the selection outlined.

    Tiling happens on one channel and colour comes last, so each pixel is copied once.
    """
    n, h, w = levels.shape
    th, tw, b = layout.tile_h, layout.tile_w, layout.border
    rows, cols = layout.rows, layout.cols
    if (h, w) != (th, tw):
        # Nearest-neighbour enlargement keeps units' pixels crisp.
        levels = levels.repeat_interleave(th // h, dim=1).repeat_interleave(tw // w, dim=2)
    flat = torch.zeros(layout.height, layout.width, dtype=torch.uint8, device=levels.device)
    # A view of the grid as rows x tile_h x cols x tile_w cells: every tile written in one copy.
    cells = flat[b:, b:].view(rows, th + b, cols, tw + b)[:, :th, :, :tw]
    full_rows = n // cols
    if full_rows:
        cells[:full_rows] = levels[: full_rows * cols].view(full_rows, cols, th, tw).transpose(1, 2)
    rest = n - full_rows * cols
    if rest:
        cells[full_rows, :, :rest] = levels[full_rows * cols :].transpose(0, 1)
    grid = colorize_levels(flat, colormap)
    border = torch.tensor(BORDER_RGB, dtype=torch.uint8, device=levels.device)
    for i in range(b):
        grid[i :: th + b] = border
        grid[:, i :: tw + b] = border
    if rest:  # the empty cells after the last unit
        x0 = layout.tile_rect(n)[0]
        grid[layout.height - th - b :, x0 - b :] = border
    if selected is not None and 0 <= selected < n:
        outline(grid, layout.tile_rect(selected), layout.border)
    return grid


def outline(image: torch.Tensor, rect: tuple[int, int, int, int], border: int, width: int = 2) -> None:
    """Draw the selection colour around rect, over its border and into the tile."""
    x, y, w, h = rect
    x0, y0 = max(0, x - border), max(0, y - border)
    x1, y1 = min(image.shape[1], x + w + border), min(image.shape[0], y + h + border)
    color = torch.tensor(SELECTED_RGB, dtype=torch.uint8, device=image.device)
    image[y0 : y0 + width, x0:x1] = color
    image[y1 - width : y1, x0:x1] = color
    image[y0:y1, x0 : x0 + width] = color
    image[y0:y1, x1 - width : x1] = color


class GridRenderer:
    """Renders a layer's activation (or backward signal) as the tiled grid."""

    def __init__(self, boost: float = 0.0, gamma: float = 1.0, colormap: str = "gray", min_size: int = 480,
                 border: int = 1):
        self.boost = boost
        self.gamma = gamma
        self.colormap = colormap
        self.min_size = min_size
        self.border = border

    def layout(self, act: torch.Tensor) -> GridLayout:
        return layout_for(tuple(as_maps(act).shape), self.min_size, self.border)

    def render_tensor(self, act: torch.Tensor, selected: int | None = None,
                      signed: bool = False) -> tuple[torch.Tensor, GridLayout]:
        """The grid as an H x W x 3 uint8 tensor on the activation's device, and its layout."""
        maps = as_maps(act)
        layout = layout_for(tuple(maps.shape), self.min_size, self.border)
        levels = to_levels(normalize(maps, self.boost, self.gamma, signed))
        return tile(levels, layout, self.colormap, selected), layout

    def render(self, act: torch.Tensor, selected: int | None = None,
               signed: bool = False) -> tuple[np.ndarray, GridLayout]:
        """The grid as a uint8 RGB numpy array: one device-to-host transfer."""
        grid, layout = self.render_tensor(act, selected, signed)
        return grid.cpu().numpy(), layout


def enlarge_unit(act: torch.Tensor, unit: int, size: int, colormap: str = "gray", gamma: float = 1.0) -> torch.Tensor:
    """One unit's activation map scaled to size x size (nearest), normalized to its own range; uint8 RGB."""
    maps = as_maps(act)
    unit_map = maps[unit : unit + 1].float()
    values = normalize(unit_map, 0.0, gamma)[0]
    big = F.interpolate(values[None, None], size=(size, size), mode="nearest")[0, 0]
    return colorize(big, colormap)
