"""Every snapshot of a run, so that any earlier moment can be shown again.

A long run would keep growing: past `limit` snapshots every other old one is dropped
(the first and the newest stay), so the timeline still spans the whole run at half the
density. The trainer's thread appends while the GUI reads: a lock guards the list.
"""

from __future__ import annotations

import bisect
import threading

from deepvis.learn.trainer import Snapshot

LIMIT = 4000


class Timeline:
    def __init__(self, limit: int = LIMIT):
        self.limit = max(limit, 4)
        self._snapshots: list[Snapshot] = []
        self._lock = threading.Lock()

    def append(self, snapshot: Snapshot) -> None:
        """Add a snapshot; one of an already recorded step replaces it."""
        with self._lock:
            if self._snapshots and self._snapshots[-1].step >= snapshot.step:
                # A rewind (NaN) or a repeated measure: the newer moment replaces what it overtakes.
                while self._snapshots and self._snapshots[-1].step >= snapshot.step:
                    self._snapshots.pop()
            self._snapshots.append(snapshot)
            if len(self._snapshots) > self.limit:
                kept = self._snapshots[:-1:2] + self._snapshots[-1:]
                self._snapshots = kept

    def clear(self) -> None:
        with self._lock:
            self._snapshots = []

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
