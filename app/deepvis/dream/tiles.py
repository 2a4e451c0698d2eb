"""The dream objective's gradient and value on an image of any size, computed one tile at a time.

A forward+backward pass of a whole image keeps every activation up to the
dream layer for the backward: on a 3000 x 3000 photo that passed 14 GB. Cut
into tiles of at most TILE pixels a side, a step needs the memory of one
tile's pass plus the image and its gradient, whatever the image's size.

Each tile keeps the gradient of its middle part and reads a margin of context
around it, so that its edge (padding where a neighbour was) lands outside what
it keeps. As in the TensorFlow DeepDream notebook, the image is rolled by a
random shift before it is cut and the gradient is rolled back, so the seams
fall elsewhere on every step and do not show. The roll is never made as a
rolled copy of the image: each tile gathers its pixels from where the roll
would have put them.

The objective of the whole image is a mean over its activations; each tile's
mean is weighted by the tile's share of the pixels, so that the tiles add up to
it and a smaller tile does not step harder. An image no larger than one tile is
one tile of weight 1 with no margin: its gradient and value are the untiled ones.
"""

from __future__ import annotations

from typing import Callable, Iterator

import torch
from torch import nn

from deepvis.optvis.objectives import Objective
from deepvis.optvis.seeds import ImageRandom

# Pixels a side of one forward+backward pass. At 512 x 512 one pass to EfficientNet-Lite0's blocks.4
# adds about 370 MB (768: 830 MB) and one to SqueezeNet 1.1's fire7 about 120 MB, well under a 2 GB
# budget; smaller tiles spend more of each pass on the context around its kept part.
TILE = 512


def margin_of(tile: int) -> int:
    """Context read on each side of a tile's kept part, where the tile's edge (padding where a
    neighbour was) makes the gradient wrong. Measured on a photo cut at 512 px, EfficientNet-Lite0's
    gradient within 16 px of a bare seam was off by 105% of its size (16-64 px: 51%, beyond 128 px:
    0.7%); 32 px of context (1.3x the pixels through the model) brought that to 47% (23%), 64 px
    (1.8x) to 20% (9%). At 10 steps an octave the moving seams did not show even bare; at one step
    an octave a bare seam showed as a streak on a 3000 x 3000 dream, and with 32 px it did not."""
    return tile // 16


Shift = tuple[int, int]  # rows, columns the image is rolled by (torch.roll's sense)


def spans(length: int, tile: int = TILE) -> list[tuple[int, int]]:
    """[start, end) spans of equal length covering 0..length, as few as keep each within `tile`
    (equal ones: a leftover sliver narrower than the network's stride would dream nothing)."""
    count = max(1, -(-length // tile))
    edges = [length * i // count for i in range(count + 1)]
    return list(zip(edges, edges[1:]))


def cuts(length: int, tile: int = TILE) -> list[tuple[int, int, int]]:
    """(start, end, margin) of each tile along an axis: the kept span, read with `margin` pixels
    of context on each side. An axis that fits in one tile is not cut, and reads no context."""
    if length <= tile:
        return [(0, length, 0)]
    margin = margin_of(tile)
    return [(start, end, margin) for start, end in spans(length, tile - 2 * margin)]


def tile_count(height: int, width: int, tile: int = TILE) -> int:
    return len(cuts(height, tile)) * len(cuts(width, tile))


def seam_shift(random: ImageRandom, height: int, width: int, tile: int = TILE) -> Shift:
    """An extra roll, anywhere along each axis that is cut into tiles, so that the seams land
    somewhere else every step; none (and no draw) for an image of one tile."""
    if tile_count(height, width, tile) == 1:
        return 0, 0
    rows, cols = random.uniform(2)[0].tolist()
    return (int(rows * height) if height > tile else 0), (int(cols * width) if width > tile else 0)


class _Tile:
    """One tile of the image rolled by a shift: the pixels it reads (indices into the unrolled
    image: the roll and its wrap without a rolled copy) and the part of them it keeps."""

    def __init__(self, rows: tuple[int, int, int], cols: tuple[int, int, int], shift: Shift,
                 height: int, width: int, device):
        (top, bottom, row_margin), (left, right, col_margin) = rows, cols
        self.rows = (torch.arange(top - row_margin, bottom + row_margin, device=device) - shift[0]) % height
        self.cols = (torch.arange(left - col_margin, right + col_margin, device=device) - shift[1]) % width
        self.keep = (slice(row_margin, row_margin + bottom - top), slice(col_margin, col_margin + right - left))
        self.read_pixels = len(self.rows) * len(self.cols)
        self.kept_pixels = (bottom - top) * (right - left)

    def take(self, pixels: torch.Tensor) -> torch.Tensor:
        return pixels.index_select(2, self.rows).index_select(3, self.cols)

    def put(self, out: torch.Tensor, piece: torch.Tensor) -> None:
        """Write the kept part of a tile-shaped tensor where it belongs in `out`."""
        rows, cols = self.keep
        out[:, :, self.rows[rows, None], self.cols[cols]] = piece[:, :, rows, cols]


def _tiles(pixels: torch.Tensor, shift: Shift, tile: int) -> Iterator[_Tile]:
    height, width = pixels.shape[-2:]
    for rows in cuts(height, tile):
        for cols in cuts(width, tile):
            yield _Tile(rows, cols, shift, height, width, pixels.device)


def tiled_gradient(model: nn.Module, objective: Objective, pixels: torch.Tensor,
                   model_input: Callable[[torch.Tensor], torch.Tensor], out: torch.Tensor,
                   shift: Shift = (0, 0), tile: int = TILE,
                   cancel: Callable[[], bool] | None = None,
                   on_tile: Callable[[int], None] | None = None) -> torch.Tensor | None:
    """Write into `out` the gradient of the objective of `pixels` (1 x 3 x H x W) rolled by
    `shift`, rolled back, and return its mean |g| (shape 1); None when cancel() turned true
    before a tile.

    model_input maps a tile of pixels to the model's input; on_tile(pixels) follows each tile
    with the number of pixels it kept.
    """
    total = pixels.shape[-2] * pixels.shape[-1]
    for part in _tiles(pixels, shift, tile):
        if cancel is not None and cancel():
            return None
        with torch.enable_grad():
            piece = part.take(pixels).requires_grad_(True)
            # The tile's mean activation times its share: its gradient is on the whole image's scale.
            value = objective(model, model_input(piece)) * (part.read_pixels / total)
            (grad,) = torch.autograd.grad(value.sum(), [piece])
        part.put(out, grad)
        del piece, value, grad  # this tile's graph goes before the next tile's is built
        if on_tile is not None:
            on_tile(part.kept_pixels)
    return mean_abs(out, tile)


def row_bands(height: int, width: int, tile: int = TILE) -> list[tuple[int, int]]:
    """Bands of rows of about a tile's pixels each: full-size work done band by band needs a
    tile-sized temporary, not a full-size one. An image of one tile is one band."""
    return spans(height, max(1, tile * tile // max(1, width)))


def mean_abs(tensor: torch.Tensor, tile: int = TILE) -> torch.Tensor:
    """The mean |x| of each image of a B x C x H x W tensor, summed a band of rows at a time (no
    full-size |x| copy); an image of one band sums as tensor.abs().mean() does."""
    height = tensor.shape[-2]
    total = torch.zeros(tensor.shape[0], dtype=tensor.dtype, device=tensor.device)
    for top, bottom in row_bands(height, tensor.shape[-1], tile):
        total += tensor[:, :, top:bottom].abs().flatten(1).mean(dim=1) * ((bottom - top) / height)
    return total


@torch.no_grad()
def tiled_value(model: nn.Module, objective: Objective, pixels: torch.Tensor,
                model_input: Callable[[torch.Tensor], torch.Tensor], tile: int = TILE) -> torch.Tensor:
    """The objective of `pixels` (B values): each tile's (with its context) weighted by the share
    of the pixels it keeps."""
    total = pixels.shape[-2] * pixels.shape[-1]
    value = torch.zeros(pixels.shape[0], device=pixels.device)
    for part in _tiles(pixels, (0, 0), tile):
        value += objective(model, model_input(part.take(pixels))) * (part.kept_pixels / total)
    return value
