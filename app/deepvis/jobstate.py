"""What a mode's one job is doing and what its shown results belong to, Qt-free.

A mode with background jobs (Dream, Digits) keeps this state beside its widgets: the widgets
observe `changed` and read the state; the mode writes the job's transitions into it. It is how a
stopped job never turns into "done", a failed one never leaves "computing…" on a pane, and a
result is shown and saved with the input it was made from.

Phases: idle -> running (start) -> done (finish) | failed (fail) | stopped (stop). A start while a
job runs replaces it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from deepvis.events import Event

PHASES = ("idle", "running", "done", "failed", "stopped")


@dataclass(frozen=True)
class JobInfo:
    kind: str  # which job ("dream", "classes", "train", "sweep", ...): which pane it fills
    text: str  # what it does, for the status bar: "dreaming chelsea.png"
    input_name: str = ""  # what its result will belong to


class JobState:
    """The current (or last) job and the newest result of each kind, with what each belongs to."""

    def __init__(self, name: str):
        self.name = name  # the mode, as status lines begin: "dream: ..."
        self.changed = Event()  # emitted with the state after every transition
        self.job: JobInfo | None = None
        self.phase = "idle"
        self.message = ""  # the last transition as one line for the status bar
        self.results: dict[str, tuple[Any, JobInfo]] = {}  # kind -> (result, the job that made it)

    @property
    def busy(self) -> bool:
        return self.phase == "running"

    def start(self, kind: str, text: str, input_name: str = "") -> JobInfo:
        self.job = JobInfo(kind, text, input_name)
        self._set("running", f"{self.name}: {text}…")
        return self.job

    def stop(self) -> bool:
        """The running job is cancelled: said at once, and nothing of it is shown afterwards."""
        if not self.busy:
            return False
        self._set("stopped", f"{self.name}: {self.job.text} stopped")
        return True

    def finish(self, result: Any, message: str | None = None) -> None:
        if not self.busy:
            return  # a job stopped or replaced meanwhile: its result belongs to nothing shown
        self.results[self.job.kind] = (result, self.job)
        self._set("done", message or f"{self.name}: {self.job.text} done")

    def fail(self, message: str) -> None:
        if not self.busy:
            return
        self._set("failed", f"{self.name}: {message}")

    def result(self, kind: str) -> Any:
        """The newest finished result of a kind (None before any)."""
        entry = self.results.get(kind)
        return None if entry is None else entry[0]

    def made_from(self, kind: str) -> JobInfo | None:
        """The job that made the shown result of a kind: what it belongs to."""
        entry = self.results.get(kind)
        return None if entry is None else entry[1]

    def placeholder(self, kind: str) -> str | None:
        """What a pane of this kind says while it has nothing (new) to show: the running job, or
        how the last one of its kind ended; None when it should show its result."""
        job = self.job
        if job is None or job.kind != kind or self.phase == "done":
            return None
        if self.phase == "running":
            return f"{job.text}…"
        if self.phase == "stopped":
            return f"{job.text}: stopped"
        return self.message.removeprefix(f"{self.name}: ")  # failed: why

    def _set(self, phase: str, message: str) -> None:
        self.phase, self.message = phase, message
        self.changed.emit(self)
