"""Top-k from the live stream: for every unit of the shown layer, the k frames of this session that
excited it most, as crops of its receptive field around its maximum.

Everything stays on the device: each frame costs one max over the maps and a
comparison with each unit's k-th best; crops are cut (one gather) and shrunk only
for the units the frame beat, which after the first frames are few.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

THUMB = 48  # side of a kept crop: 1152 units x 9 crops stay under 75 MB


@dataclass(frozen=True)
class UnitTopFrames:
    """One unit's live top-k on the host, best first (only the slots filled so far)."""

    crops: np.ndarray  # n x THUMB x THUMB x 3 uint8
    values: np.ndarray  # n float32: the unit's maximum in each of those frames
    frames: np.ndarray  # n int64: the frame indices


class TopFrames:
    """The live top-k of every unit of one layer.

    `field` gives the input box of a map position as (stride, offset, size), in the
    frame's pixels; None (or a size of None) crops the whole frame (fc units, or
    fields larger than the image).
    """

    def __init__(self, n_units: int, device: torch.device, field=None, k: int = 9, thumb: int = THUMB):
        self.k, self.thumb, self.field = k, thumb, field
        self.values = torch.full((n_units, k), float("-inf"), device=device)
        self.frames = torch.full((n_units, k), -1, dtype=torch.long, device=device)
        self.crops = torch.zeros((n_units, k, thumb, thumb, 3), dtype=torch.uint8, device=device)
        self.frames_seen = 0

    @property
    def n_units(self) -> int:
        return self.values.shape[0]

    def update(self, maps: torch.Tensor, frame: torch.Tensor, frame_index: int) -> int:
        """maps: C x H x W (or C) activations of one frame; frame: S x S x 3 uint8, what the model
        saw. Returns how many units this frame entered the top-k of."""
        self.frames_seen += 1
        maps = maps.detach()
        flat = maps.reshape(maps.shape[0], -1).float()
        best, where = flat.max(dim=1)
        units = torch.nonzero(best > self.values[:, -1]).flatten()
        if units.numel() == 0:
            return 0
        width = maps.shape[-1] if maps.dim() == 3 else 1
        crops = self._crops(frame, where[units] // width, where[units] % width, maps.dim() == 3)
        values = torch.cat((self.values[units], best[units, None]), dim=1)
        order = values.argsort(dim=1, descending=True)[:, : self.k]
        self.values[units] = values.gather(1, order)
        frames = torch.cat((self.frames[units], torch.full_like(units[:, None], frame_index)), dim=1)
        self.frames[units] = frames.gather(1, order)
        kept = torch.cat((self.crops[units], crops[:, None]), dim=1)
        self.crops[units] = kept[torch.arange(units.numel(), device=units.device)[:, None], order]
        return int(units.numel())

    def _crops(self, frame: torch.Tensor, ys: torch.Tensor, xs: torch.Tensor, spatial: bool) -> torch.Tensor:
        """n x thumb x thumb x 3: each unit's receptive field around its maximum, shrunk."""
        n, (height, width) = ys.numel(), frame.shape[:2]
        field = self.field
        if not spatial or field is None or field.size is None:
            whole = frame.permute(2, 0, 1)[None].float()
            small = F.interpolate(whole, size=(self.thumb, self.thumb), mode="area")
            return small.round().to(torch.uint8).permute(0, 2, 3, 1).expand(n, -1, -1, -1)
        box_h, box_w = field.size
        pad = max(box_h, box_w)
        # Grey beyond the frame's edges, as the top-k scan shows a field that leaves the image.
        padded = F.pad(frame.permute(2, 0, 1).float(), (pad, pad, pad, pad), value=128.0)
        top = (ys.float() * field.stride[0] + field.offset[0]).round().long() + pad
        left = (xs.float() * field.stride[1] + field.offset[1]).round().long() + pad
        rows = (top[:, None] + torch.arange(box_h, device=top.device)).clamp(0, height + 2 * pad - 1)
        cols = (left[:, None] + torch.arange(box_w, device=top.device)).clamp(0, width + 2 * pad - 1)
        cut = padded[:, rows[:, :, None], cols[:, None, :]]  # 3 x n x h x w
        small = F.interpolate(cut.permute(1, 0, 2, 3), size=(self.thumb, self.thumb), mode="area")
        return small.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1)

    def unit(self, unit: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The unit's (crops, values, frames) on the device, all k slots (empty ones at -inf)."""
        return self.crops[unit], self.values[unit], self.frames[unit]

    def reset(self) -> None:
        self.values.fill_(float("-inf"))
        self.frames.fill_(-1)
        self.crops.zero_()
        self.frames_seen = 0


def to_unit_top_frames(crops: np.ndarray, values: np.ndarray, frames: np.ndarray) -> UnitTopFrames:
    """Host arrays of all k slots -> only the filled ones."""
    filled = np.isfinite(values)
    return UnitTopFrames(crops[filled], values[filled].astype(np.float32), frames[filled])
