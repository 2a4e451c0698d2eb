"""Top-k from the live stream: for every unit of the shown layer, the k frames of this session that
excited it most, as crops of its receptive field around its maximum.

Everything stays on the device: each frame costs one max over the maps and a
comparison with each unit's kept values; crops are cut and shrunk only for the units the
frame beat, which after the first frames are few.

The k crops are k moments, not k neighbouring frames of one pan: within MIN_GAP_S of a unit's
latest kept frame, a new frame can only replace that one; and a repeat (the same maximum at the
same place: a still image republished, a looping video's next pass) is not kept twice.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

THUMB = 48  # side of a kept crop: 1152 units x 9 crops stay under 75 MB
MIN_GAP_S = 0.5  # a unit's kept frames are at least this far apart in time


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

    def __init__(self, n_units: int, device: torch.device, field=None, k: int = 9, thumb: int = THUMB,
                 min_gap_s: float = MIN_GAP_S):
        self.k, self.thumb, self.field, self.min_gap_s = k, thumb, field, min_gap_s
        self.values = torch.full((n_units, k), float("-inf"), device=device)
        self.frames = torch.full((n_units, k), -1, dtype=torch.long, device=device)
        self.places = torch.full((n_units, k), -1, dtype=torch.long, device=device)  # flat map position
        self.times = torch.full((n_units, k), float("-inf"), device=device)  # seconds since the first frame
        self._start: float | None = None
        self.crops = torch.zeros((n_units, k, thumb, thumb, 3), dtype=torch.uint8, device=device)
        self.frames_seen = 0

    @property
    def n_units(self) -> int:
        return self.values.shape[0]

    def update(self, maps: torch.Tensor, frame: torch.Tensor, frame_index: int, now: float | None = None) -> int:
        """maps: C x H x W (or C) activations of one frame; frame: S x S x 3 uint8, what the model
        saw; now: the frame's time in seconds (default: the clock). Returns how many units this
        frame entered the top-k of."""
        self.frames_seen += 1
        now = time.perf_counter() if now is None else now
        if self._start is None:
            self._start = now
        now -= self._start  # float32 on the device: small numbers keep their milliseconds
        maps = maps.detach()
        flat = maps.reshape(maps.shape[0], -1).float()
        best, where = flat.max(dim=1)
        # Slots are kept unordered: a frame that beats a unit's worst slot takes that slot, so each
        # frame writes one crop per unit it entered, never the unit's other k-1 (sorted on reading).
        # Within the gap of the unit's latest kept frame the new one competes with that frame only.
        latest, latest_slot = self.times.max(dim=1)
        _, worst_slot = self.values.min(dim=1)
        slot = torch.where(now - latest < self.min_gap_s, latest_slot, worst_slot)
        beaten = self.values.gather(1, slot[:, None])[:, 0]
        repeat = ((self.values == best[:, None]) & (self.places == where[:, None])).any(dim=1)
        units = torch.nonzero((best > beaten) & ~repeat).flatten()
        if units.numel() == 0:
            return 0
        width = maps.shape[-1] if maps.dim() == 3 else 1
        slots = slot[units]
        self.crops[units, slots] = self._crops(frame, where[units] // width, where[units] % width,
                                               maps.dim() == 3)
        self.values[units, slots] = best[units]
        self.frames[units, slots] = frame_index
        self.places[units, slots] = where[units]
        self.times[units, slots] = now
        return int(units.numel())

    def _crops(self, frame: torch.Tensor, ys: torch.Tensor, xs: torch.Tensor, spatial: bool) -> torch.Tensor:
        """n x thumb x thumb x 3: each unit's receptive field around its maximum, shrunk."""
        n, (height, width) = ys.numel(), frame.shape[:2]
        field = self.field
        if not spatial or field is None or field.size is None:
            return self._shrink(frame[None]).expand(n, -1, -1, -1)
        box_h, box_w = field.size
        pad = max(box_h, box_w)
        # Grey beyond the frame's edges, as the top-k scan shows a field that leaves the image.
        padded = frame.new_full((height + 2 * pad, width + 2 * pad, 3), 128)
        padded[pad:pad + height, pad:pad + width] = frame
        tops = ((ys.float() * field.stride[0] + field.offset[0]).round().long() + pad).clamp(0, height + pad)
        lefts = ((xs.float() * field.stride[1] + field.offset[1]).round().long() + pad).clamp(0, width + pad)
        # Slices of the H x W x 3 frame, not one advanced-index gather: each box row is copied whole.
        boxes = [padded[top:top + box_h, left:left + box_w] for top, left in zip(tops.tolist(), lefts.tolist())]
        return self._shrink(torch.stack(boxes))

    def _shrink(self, images: torch.Tensor) -> torch.Tensor:
        """n x h x w x 3 uint8 -> n x thumb x thumb x 3 uint8, antialiased."""
        if images.shape[1:3] == (self.thumb, self.thumb):
            return images
        size = (self.thumb, self.thumb)
        planes = images.permute(0, 3, 1, 2)  # NCHW with channels-last strides, no copy
        if planes.device.type == "cpu":  # torch's uint8 kernel: several times faster than float
            small = F.interpolate(planes, size=size, mode="bilinear", antialias=True, align_corners=False)
        else:
            small = F.interpolate(planes.float(), size=size, mode="bilinear", antialias=True, align_corners=False)
            small = small.round().clamp(0, 255).to(torch.uint8)
        return small.permute(0, 2, 3, 1)

    def unit(self, unit: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The unit's (crops, values, frames) on the device, all k slots best first (empty ones at -inf)."""
        order = self.values[unit].argsort(descending=True, stable=True)
        return self.crops[unit, order], self.values[unit, order], self.frames[unit, order]

    def ranked(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Every unit's (crops, values), each unit's slots best first: n x k x thumb x thumb x 3, n x k."""
        order = self.values.argsort(dim=1, descending=True, stable=True)
        rows = torch.arange(self.n_units, device=order.device)[:, None]
        return self.crops[rows, order], self.values.gather(1, order)

    def reset(self) -> None:
        self.values.fill_(float("-inf"))
        self.frames.fill_(-1)
        self.places.fill_(-1)
        self.times.fill_(float("-inf"))
        self._start = None
        self.crops.zero_()
        self.frames_seen = 0


def to_unit_top_frames(crops: np.ndarray, values: np.ndarray, frames: np.ndarray) -> UnitTopFrames:
    """Host arrays of all k slots -> only the filled ones."""
    filled = np.isfinite(values)
    return UnitTopFrames(crops[filled], values[filled].astype(np.float32), frames[filled])
