"""Training while watching: the trainer runs as fast as it can, the views at display rate.

`LiveTraining.tick()` trains one block of steps (one snapshot, kept in the timeline) and
computes the views only when the display is due for a new frame. The Learn mode's
worker and `deepvis learn --bench` both run it, so the bench measures what the window does.
"""

from __future__ import annotations

import time

import torch

from deepvis.learn.timeline import Timeline
from deepvis.learn.trainer import Snapshot, Trainer
from deepvis.learn.views import LearnViews, ViewComputer

VIEW_RATE = 30.0  # view updates per second while training


def prepare_thread() -> None:
    """Set up the calling thread to run a tiny network fast.

    One torch thread: tensors of a few hundred numbers gain nothing from a team, only
    overhead. Denormal floats flushed to zero (a per-thread CPU flag): saturated sigmoids
    make them by the thousand, and each costs the CPU a hundred times a normal one;
    flushing made training 1.7x and the views 1.6x faster here.
    """
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)


class LiveTraining:
    def __init__(self, trainer: Trainer, computer: ViewComputer, timeline: Timeline | None = None,
                 view_rate: float = VIEW_RATE):
        self.trainer = trainer
        self.computer = computer
        self.timeline = timeline if timeline is not None else Timeline()
        self.view_interval = 1.0 / view_rate if view_rate > 0 else 0.0
        self._last_view = -1e9
        self.view_seconds = 0.0  # time spent computing views
        self.views_computed = 0
        if self.timeline.latest is None:
            first = trainer.advance(0)
            if first is not None:
                self.timeline.append(first)

    def tick(self, steps: int | None = None, with_views: bool = True) -> tuple[Snapshot | None, LearnViews | None]:
        """Train one block; (the new snapshot or None when training failed, views when due)."""
        snapshot = self.trainer.advance(steps or self.trainer.settings.snapshot_every)
        if snapshot is None:
            return None, None
        self.timeline.append(snapshot)
        now = time.perf_counter()
        if not with_views or now - self._last_view < self.view_interval:
            return snapshot, None
        self._last_view = now
        return snapshot, self.views(snapshot)

    def views(self, snapshot: Snapshot) -> LearnViews:
        start = time.perf_counter()
        views = self.computer.compute(snapshot)
        self.view_seconds += time.perf_counter() - start
        self.views_computed += 1
        return views

    def run_for(self, seconds: float, with_views: bool) -> dict[str, float]:
        """Train for about `seconds`; steps/s and view updates/s over that time."""
        start_step, start_views, start_view_s = self.trainer.step_count, self.views_computed, self.view_seconds
        start, start_cpu = time.perf_counter(), time.thread_time()
        while time.perf_counter() - start < seconds and not self.trainer.failure:
            self.tick(with_views=with_views)
        elapsed = time.perf_counter() - start
        updates = self.views_computed - start_views
        # CPU time of this thread too: on a machine shared with other work, wall-clock rates
        # fall with the load while steps per CPU-second measure the code.
        return {"seconds": elapsed, "cpu_seconds": time.thread_time() - start_cpu,
                "steps": self.trainer.step_count - start_step,
                "steps_per_s": (self.trainer.step_count - start_step) / elapsed,
                "view_updates_per_s": updates / elapsed,
                "view_ms": 1000 * (self.view_seconds - start_view_s) / updates if updates else 0.0}
