"""Live's accentuation of a frame for the selected unit, Qt-free: which unit and frame it belongs to,
its newest result and how it stands.

A (or Unit → Accentuate) starts one on the frame on screen; its results come while it refines
(dream.accentuate) and the unit panel shows the newest in place of the optimized images. It belongs
to one unit: selecting another unit, or another model, dismisses it, and a result that arrives
after that belongs to nothing shown. Stopped, it keeps its last result and says "stopped", never
"done".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from deepvis.events import Event
from deepvis.jobstate import JobState


@dataclass(frozen=True)
class AccentJob:
    """One accentuation: the unit and the frame it was asked for."""

    ticket: int
    layer: str
    unit: int
    unit_name: str  # as the panel calls the unit: fc:281 · tabby
    frame_label: str  # as the input pane named the frame: "frame 3720"

    @property
    def key(self) -> tuple[str, int]:
        return self.layer, self.unit


class AccentState:
    """The current accentuation (or none) and its newest result.

    Events:
      changed(state): after every transition and every new result
    """

    def __init__(self) -> None:
        self.jobs = JobState("accentuate")
        self.job: AccentJob | None = None
        self.result: Any = None  # the newest dream.accentuate.Accentuation of `job`
        self.changed = Event()
        self._tickets = 0

    @property
    def running(self) -> bool:
        return self.job is not None and self.jobs.busy

    @property
    def phase(self) -> str:
        return "idle" if self.job is None else self.jobs.phase

    def start(self, layer: str, unit: int, frame_label: str, unit_name: str | None = None) -> AccentJob:
        """A new accentuation replaces the current one (its later results are dropped)."""
        self._tickets += 1
        self.job = AccentJob(self._tickets, layer, unit, unit_name or f"{layer}:{unit}", frame_label)
        self.result = None
        self.jobs.start("accentuate", f"accentuating {frame_label} for {self.job.unit_name}", frame_label)
        self.changed.emit(self)
        return self.job

    def offer(self, job: AccentJob, result: Any) -> bool:
        """A result of `job`: shown when `job` is the current, running one; the final one finishes it."""
        if job is not self.job or not self.jobs.busy:
            return False
        self.result = result
        if result.final:
            self.jobs.finish(result, f"accentuate: {job.unit_name} on {job.frame_label}: {self._figures()}")
        self.changed.emit(self)
        return True

    def fail(self, job: AccentJob, message: str) -> None:
        if job is self.job and self.jobs.busy:
            self.jobs.fail(message)
            self.changed.emit(self)

    def stop(self) -> bool:
        """Stop refining: the last result stays on screen, marked stopped."""
        if not self.running:
            return False
        self.jobs.stop()
        self.changed.emit(self)
        return True

    def dismiss(self) -> bool:
        """Back to the optimized images (a running job is stopped and its results dropped)."""
        if self.job is None:
            return False
        self.jobs.stop()
        self.job, self.result = None, None
        self.changed.emit(self)
        return True

    def follow_selection(self, key: tuple[str, int]) -> None:
        """The selection moved: an accentuation of another unit no longer belongs on the panel."""
        if self.job is not None and self.job.key != key:
            self.dismiss()

    def shown_for(self, key: tuple[str, int]) -> bool:
        """Whether the panel of unit `key` shows the accentuation instead of the optimized images."""
        return self.job is not None and self.job.key == key

    def figures(self, model: str) -> dict:
        """What a saved accentuation records: the unit, the frame, how far it went and its figures."""
        job, r = self.job, self.result
        return {"model": model, "layer": job.layer, "unit": job.unit, "frame": job.frame_label,
                "state": self.jobs.phase, "step": r.step, "steps": r.steps, "size": int(r.image.shape[0]),
                "objective_start": r.objective_start, "objective_end": r.objective, "distance": r.distance,
                "pixel_change": r.pixel_change}

    def title(self) -> str:
        """The panel's section title: which frame, how far along, and how it stands."""
        job = self.job
        if job is None:
            return ""
        text = "accentuation"
        result = self.result
        if self.jobs.phase == "failed":
            return f"{text}: failed"
        if result is None:
            return f"{text} · starting…" if self.running else f"{text} · {self.jobs.phase}"
        state = {"running": "refining…", "done": "done", "stopped": "stopped"}.get(self.jobs.phase, "")
        return f"{text} · step {result.step}/{result.steps} · {state}"

    def detail(self) -> str:
        """For whom and by how much: the unit, its value on the frame and now, the change (or why it failed)."""
        job = self.job
        if job is None:
            return ""
        if self.jobs.phase == "failed":
            return f"{job.unit_name}: {self.jobs.message.removeprefix('accentuate: ')}"
        if self.result is None:
            return f"for {job.unit_name}"
        return f"for {job.unit_name}: {self._figures()}"

    def _figures(self) -> str:
        r = self.result
        return f"unit {r.objective_start:.3g} → {r.objective:.3g}, mean pixel change {r.pixel_change:.3f}"
