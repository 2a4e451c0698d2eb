"""Every snapshot of a run, so that any earlier moment can be shown again.

A long run would keep growing: past `limit` snapshots every other one is dropped and
from then on only every other new one is kept (the newest always stays), so the timeline
spans the whole run at an even, halved density. The trainer's thread appends while the
GUI reads: a lock guards the lists.
"""

from __future__ import annotations

import bisect
import threading

import numpy as np

from deepvis.learn.trainer import Snapshot

LIMIT = 4000


class Timeline:
    def __init__(self, limit: int = LIMIT):
        self.limit = max(limit, 4)
        self._snapshots: list[Snapshot] = []
        self._numbers: list[int] = []  # each snapshot's place in the sequence appended
        self._count = 0
        self._stride = 1
        self._lock = threading.Lock()

    def append(self, snapshot: Snapshot) -> None:
        """Add the newest snapshot; one at or before the newest step (a rewind) replaces what it overtakes."""
        with self._lock:
            while self._snapshots and self._snapshots[-1].step >= snapshot.step:
                self._snapshots.pop()
                self._numbers.pop()
            if self._numbers and self._numbers[-1] % self._stride:
                self._snapshots.pop()  # the previous newest was only kept for being the newest
                self._numbers.pop()
            self._snapshots.append(snapshot)
            self._numbers.append(self._count)
            self._count += 1
            if len(self._snapshots) > self.limit:
                self._stride *= 2
                keep = [i for i, n in enumerate(self._numbers) if n % self._stride == 0]
                if keep[-1] != len(self._numbers) - 1:
                    keep.append(len(self._numbers) - 1)
                self._snapshots = [self._snapshots[i] for i in keep]
                self._numbers = [self._numbers[i] for i in keep]

    def truncate(self, index: int) -> None:
        """Drop every snapshot after `index` (to train on from an earlier moment)."""
        with self._lock:
            del self._snapshots[index + 1:]
            del self._numbers[index + 1:]

    def curves(self) -> dict[str, np.ndarray]:
        """step, train_loss, test_loss, train_accuracy, test_accuracy as arrays, for plotting."""
        snapshots = self.snapshots()
        return {key: np.array([getattr(s, key) for s in snapshots], dtype=np.float64)
                for key in ("step", "train_loss", "test_loss", "train_accuracy", "test_accuracy")}

    def clear(self) -> None:
        with self._lock:
            self._snapshots, self._numbers, self._count, self._stride = [], [], 0, 1

    def __len__(self) -> int:
        return len(self._snapshots)

    def __getitem__(self, index: int) -> Snapshot:
        with self._lock:
            return self._snapshots[index]

    @property
    def latest(self) -> Snapshot | None:
        with self._lock:
            return self._snapshots[-1] if self._snapshots else None

    def snapshots(self) -> list[Snapshot]:
        with self._lock:
            return list(self._snapshots)

    def index_of_step(self, step: int) -> int:
        """The index of the snapshot nearest to `step` (-1 when empty)."""
        with self._lock:
            steps = [s.step for s in self._snapshots]
        if not steps:
            return -1
        i = bisect.bisect_left(steps, step)
        if i == len(steps):
            return i - 1
        if i > 0 and step - steps[i - 1] <= steps[i] - step:
            return i - 1
        return i

    def history(self) -> list[dict]:
        return [s.metrics() for s in self.snapshots()]
