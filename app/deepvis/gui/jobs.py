"""The job runner's Qt adapter: what a mode's jobs report reaches methods of the mode, on the
GUI thread.

Reports cross threads as queued signals to methods of this QObject, which call the
receiver's methods by name: Qt drops a queued call to a deleted QObject, while a lambda
outlives its owner (a unit-image job's progress once reached a closed window that way and
crashed the process). What a job yields waits in a Latest slot, so a slow GUI takes only the
newest. Anything from a job replaced since it was said is dropped here, on the GUI thread, so
a result always belongs to the job the mode asked for last.

The receiver may define any of: job_yielded(item), job_progressed(done, total),
job_returned(result), job_failed(message), job_idle().
"""

from __future__ import annotations

from typing import Any, Callable

from PyQt6.QtCore import QObject, pyqtSignal

from deepvis.jobs import Job, JobRunner, Latest


# What deepvis.weights.figures imports: matplotlib without pyplot, for the jobs that draw figures.
FIGURE_MODULES = ("matplotlib.figure", "matplotlib.backends.backend_agg", "matplotlib.colors")


_default_threads: int | None = None  # torch's own default, taken before the GUI thread drops to one


def worker_threads() -> int:
    """The CPU threads a worker's torch runs on: torch's default for this machine."""
    import torch

    return _default_threads or torch.get_num_threads()


def keep_gui_thread_single_threaded() -> None:
    """Run the GUI thread's few torch calls (loading a model) on one CPU thread.

    With OpenMP, each thread that runs a parallel op keeps a team of helper threads
    for good. Once the GUI thread has one, the process holds more such threads than
    there are cores, OpenMP stops spinning between parallel regions, and the worker's
    forward keeps waking sleeping helpers: on 2 cores it ran 6-37% slower than the
    same forward in a process with the worker's team alone. Each worker sets its own
    thread count (worker_threads()) when it starts.
    """
    global _default_threads
    import torch

    if _default_threads is None:
        _default_threads = torch.get_num_threads()
    torch.set_num_threads(1)


def _worker_threads() -> None:
    import torch

    torch.set_num_threads(worker_threads())  # per thread with OpenMP: this one runs the model


def _ignore(*_args) -> None:
    pass


class JobWorker(QObject):
    """One thread running a mode's jobs (deepvis.jobs.JobRunner); `busy` as the GUI thread sees it:
    from submit() until the job's end has been delivered (after its last result)."""

    _yielded = pyqtSignal(int)  # token; the item waits in the slot
    _progressed = pyqtSignal(int, int, int)
    _returned = pyqtSignal(int, object)
    _failed = pyqtSignal(int, str)
    _ended = pyqtSignal(int)

    def __init__(self, name: str, receiver: QObject, on_thread_start: Callable[[], None] | None = _worker_threads,
                 imports: tuple[str, ...] = ()):
        """imports: the large libraries the jobs import (see deepvis.jobs.preload)."""
        super().__init__(receiver)
        self.runner = JobRunner(name, self, on_thread_start, imports)
        self._slot: Latest[tuple[int, Any]] = Latest()
        self._token = 0  # the newest job the GUI asked for
        self.busy = False
        self._on_yielded = getattr(receiver, "job_yielded", _ignore)
        self._on_progressed = getattr(receiver, "job_progressed", _ignore)
        self._on_returned = getattr(receiver, "job_returned", _ignore)
        self._on_failed = getattr(receiver, "job_failed", _ignore)
        self._on_idle = getattr(receiver, "job_idle", _ignore)
        self._yielded.connect(self._deliver_yielded)
        self._progressed.connect(self._deliver_progressed)
        self._returned.connect(self._deliver_returned)
        self._failed.connect(self._deliver_failed)
        self._ended.connect(self._deliver_ended)

    # -- the owner's side (GUI thread) -------------------------------------------------------

    def submit(self, fn: Callable[[Job], Any]) -> None:
        self._token = self.runner.submit(fn)
        self.busy = True

    def cancel(self) -> None:
        """Cancel the running job: nothing more of it is delivered."""
        self.runner.cancel()
        self._token = -1
        self.busy = False

    def set_active(self, active: bool) -> None:
        self.runner.set_active(active)

    def start(self) -> None:
        self.runner.start()

    def isRunning(self) -> bool:  # noqa: N802  (the QThread name WorkerMode calls)
        return self.runner.is_running()

    def stop(self, timeout_ms: int = 60000) -> None:
        self.runner.stop(timeout_ms / 1000)
        self._token = -1
        self.busy = False

    def wait(self, timeout_ms: int = 60000) -> bool:
        """QThread's name for joining the thread: WorkerMode.shutdown calls it after stop()."""
        return self.runner.join(timeout_ms / 1000)

    # -- the runner's side (worker thread) ------------------------------------------------------

    def job_yielded(self, token: int, item: Any) -> None:
        if self._slot.put((token, item)):
            self._yielded.emit(token)

    def job_progressed(self, token: int, done: int, total: int) -> None:
        self._progressed.emit(token, done, total)

    def job_returned(self, token: int, result: Any) -> None:
        self._returned.emit(token, result)

    def job_failed(self, token: int, message: str) -> None:
        self._failed.emit(token, message)

    def job_ended(self, token: int) -> None:
        self._ended.emit(token)

    # -- delivered on the GUI thread ----------------------------------------------------------

    def _deliver_yielded(self, _token: int) -> None:
        taken = self._slot.take()
        if taken is not None and taken[0] == self._token:
            self._on_yielded(taken[1])

    def _deliver_progressed(self, token: int, done: int, total: int) -> None:
        if token == self._token:
            self._on_progressed(done, total)

    def _deliver_returned(self, token: int, result: Any) -> None:
        if token == self._token:
            self._on_returned(result)

    def _deliver_failed(self, token: int, message: str) -> None:
        if token == self._token:
            self._on_failed(message)

    def _deliver_ended(self, token: int) -> None:
        if token == self._token:
            self.busy = False
            self._on_idle()
