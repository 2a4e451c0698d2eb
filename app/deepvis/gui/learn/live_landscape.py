"""The loss landscape of a run while it trains, a slice at a time (no Qt; the Learn worker runs it).

One landscape of a 6 x 8 network is a second or more of arithmetic. Computed in one go it would
freeze training and every other view for that long, so its grid points are evaluated in small
chunks between training blocks, within a share of the worker's time (learn/landscape.py's
batched pass, chunk by chunk). Between two landscapes the moment shown is placed on the newest
one's plane, so the current point moves while the network trains.

Li et al. draw the plane over ±1. A small network's valley can be far narrower than that (a
trained 6 x 8 tanh network on the spiral: 0.3% of a ±1 plane lies within a decade of the losses
the path saw), so the half-width follows what the last landscape showed: when under 15% or over
85% of its points lie in that range, the next one is scaled for about a third (the valley's area
grows with the square of the half-width), between 0.05 and 1. The title says it.
"""

from __future__ import annotations

import time
from typing import Sequence

import numpy as np
import torch

from deepvis.learn.landscape import SPAN, LandscapeComputer, LossLandscape, batched_losses, project
from deepvis.learn.trainer import Snapshot

LIVE_GRID = 31  # while training: a quarter of the points, a new landscape every second or so
FULL_GRID = 61  # paused: the grid `deepvis learn` draws
PATH_POINTS = 300  # the path's snapshots at most (evenly spread, the newest kept)
MIN_SPAN = 0.05
LOW, HIGH, AIM = 0.15, 0.85, 0.35  # the share of a landscape in its drawn range: narrow below, widen above


def log_range(landscape: LossLandscape) -> tuple[float, float]:
    """The range of log10(loss) drawn: from the lowest point (of the grid or the path) to a decade
    above the highest loss on the path or at the centre. Far from the weights the loss is orders of
    magnitude above anything training met; clipped there, the height goes to the valley."""
    values = np.log10(np.clip(np.concatenate([landscape.loss.ravel(), landscape.path_loss]), 1e-9, None))
    values = values[np.isfinite(values)]
    if not len(values):
        return -1.0, 0.0
    low, high = float(values.min()), float(values.max())
    seen = np.array([landscape.centre_loss, *landscape.path_loss])
    seen = seen[np.isfinite(seen)]
    if len(seen):
        high = min(high, float(np.log10(max(seen.max(), 1e-9))) + 1.0)
    return low, max(high, low + 1e-6)


def share_in_range(landscape: LossLandscape) -> float:
    """The share of the grid whose loss lies within the drawn range (the rest is clipped flat)."""
    _low, high = log_range(landscape)
    return float(np.mean(np.log10(np.clip(landscape.loss, 1e-9, None)) <= high))


def spread(path: Sequence[Snapshot], count: int = PATH_POINTS) -> list[Snapshot]:
    """At most `count` snapshots of the path, evenly spread, the first and the last kept."""
    if len(path) <= count:
        return list(path)
    picks = np.unique(np.linspace(0, len(path) - 1, count).round().astype(int))
    return [path[i] for i in picks]


class _Job:
    """One landscape being computed: its plane, its points, and how far it got."""

    def __init__(self, computer: LandscapeComputer, snapshot: Snapshot, path: Sequence[Snapshot], grid: int,
                 span: float):
        self.snapshot, self.path, self.grid = snapshot, list(path), grid
        c = computer
        self.centre = snapshot.weights.to(c.device, c.dtype)
        self.d1, self.d2 = c.directions(self.centre)  # loads the centre into c.network
        if self.path:
            stacked = torch.stack([s.weights.to(c.device, c.dtype) for s in self.path])
            self.on_plane = project(stacked, self.centre, self.d1, self.d2)
        else:
            self.on_plane = torch.zeros(0, 2, dtype=c.dtype, device=c.device)
        reach = float(self.on_plane.abs().max()) if len(self.on_plane) else 0.0
        self.span = max(span, 1.05 * reach)
        middle = torch.arange(grid, dtype=c.dtype, device=c.device) - (grid - 1) / 2  # (0, 0) exactly at the middle
        axis = middle * (2 * self.span / max(grid - 1, 1))
        b, a = torch.meshgrid(axis, axis, indexing="ij")
        self.coordinates = axis
        self.points = torch.cat([torch.stack([a.reshape(-1), b.reshape(-1)], 1), self.on_plane])
        self.losses = torch.empty(len(self.points), dtype=c.dtype, device=c.device)
        self.centre_loss = float(c.network.data_loss(c.network.logits(c.inputs), c.targets[:, None]))
        self.cursor = 0
        self.chunk = 64  # grows or shrinks so that a chunk takes about CHUNK_SECONDS

    @property
    def done(self) -> bool:
        return self.cursor >= len(self.points)


class LiveLandscape:
    """Landscapes of one run's snapshots, computed a chunk at a time on the caller's thread."""

    CHUNK_SECONDS = 0.003

    def __init__(self, dataset, spec, device: torch.device | str = "cpu", seed: int = 0):
        self.computer = LandscapeComputer(dataset, spec, device, grid=LIVE_GRID, seed=seed)
        self.job: _Job | None = None
        self.result: LossLandscape | None = None
        self._plane: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor] | None = None
        self.span = SPAN  # the next landscape's half-width, following what the last one showed
        self.seconds = 0.0  # spent computing, for the bench
        self.finished_at = -1e9  # perf_counter() of the newest landscape

    @property
    def busy(self) -> bool:
        return self.job is not None

    def start(self, snapshot: Snapshot, path: Sequence[Snapshot], grid: int = LIVE_GRID) -> None:
        """Begin the landscape around `snapshot` with `path` on it (a running one is dropped)."""
        start = time.perf_counter()
        with torch.no_grad():
            self.job = _Job(self.computer, snapshot, spread(path), grid, self.span)
        self.seconds += time.perf_counter() - start

    def wants(self, snapshot: Snapshot, grid: int) -> bool:
        """True when neither the newest landscape nor the one being computed is around `snapshot`
        at this grid."""
        for have in (self.job, self.result):
            if have is not None and have.grid == grid and self._step(have) == snapshot.step:
                return False
        return True

    @staticmethod
    def _step(have) -> int:
        return have.snapshot.step if isinstance(have, _Job) else have.step

    @torch.no_grad()
    def work(self, seconds: float) -> LossLandscape | None:
        """Evaluate chunks of the running landscape for about `seconds`; the landscape when it is done."""
        job = self.job
        if job is None:
            return None
        c = self.computer
        start = time.perf_counter()
        deadline = start + seconds
        while not job.done:
            begin = time.perf_counter()
            end = min(job.cursor + job.chunk, len(job.points))
            job.losses[job.cursor:end] = batched_losses(c.network, job.centre, job.d1, job.d2,
                                                        job.points[job.cursor:end], c.inputs, c.targets)
            job.cursor = end
            took = time.perf_counter() - begin
            job.chunk = max(8, min(4096, int(job.chunk * (self.CHUNK_SECONDS / max(took, 1e-5)) ** 0.5)))
            if time.perf_counter() >= deadline:
                break
        self.seconds += time.perf_counter() - start
        if not job.done:
            return None
        g = job.grid
        self.result = LossLandscape(
            job.coordinates.cpu().numpy(), job.losses[:g * g].reshape(g, g).cpu().numpy(), job.centre_loss,
            job.on_plane.cpu().numpy(), job.losses[g * g:].cpu().numpy(),
            np.array([s.step for s in job.path], dtype=np.int64), job.snapshot.step, float(job.span), c.task)
        self._plane = (job.centre, job.d1, job.d2, torch.linalg.pinv(torch.stack([job.d1, job.d2], 1)))
        self.job = None
        self.finished_at = time.perf_counter()
        share = share_in_range(self.result)
        if not LOW <= share <= HIGH:
            factor = min(2.0, max(0.1, (max(share, 1e-3) / AIM) ** 0.5))
            self.span = min(SPAN, max(MIN_SPAN, self.result.span * factor))
        return self.result

    @torch.no_grad()
    def place(self, snapshot: Snapshot) -> np.ndarray | None:
        """(a, b, loss): `snapshot`'s weights projected onto the newest landscape's plane, and the
        loss there (what the surface shows at that point)."""
        if self._plane is None:
            return None
        c = self.computer
        centre, d1, d2, inverse = self._plane
        ab = inverse @ (snapshot.weights.to(c.device, c.dtype) - centre)
        loss = batched_losses(c.network, centre, d1, d2, ab[None], c.inputs, c.targets)
        return np.array([float(ab[0]), float(ab[1]), float(loss[0])])
