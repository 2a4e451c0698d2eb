"""The Dream mode's worker: one job at a time on its own thread, cancellable between steps and
paused while the mode is hidden."""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable

from PyQt6.QtCore import QThread, pyqtSignal

from deepvis import DeepvisError

log = logging.getLogger("deepvis.gui")

Job = Callable[["DreamWorker"], Any]


class Cancelled(Exception):
    """Raised inside a job by checkpoint() once the job is cancelled."""


class DreamWorker(QThread):
    """Runs submitted jobs; a job is handed this worker to report through and to ask whether to stop.

    A new job cancels the running one (latest wins). While the mode is hidden,
    should_stop() blocks, so the job waits between two steps and no torch runs.
    """

    reported = pyqtSignal(object)  # what a job reports on the way (an octave's image, progress)
    done = pyqtSignal(object)  # a job's return value; None when it was cancelled
    failed = pyqtSignal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._condition = threading.Condition()
        self._job: Job | None = None
        self._cancelled = False
        self._active = True
        self._stopping = False
        self.busy = False

    # -- from the GUI thread --------------------------------------------------------------

    def submit(self, job: Job) -> None:
        with self._condition:
            self._job = job
            self._cancelled = self.busy  # the running job stops at its next step
            self._condition.notify_all()
        if not self.isRunning():
            self.start()

    def cancel(self) -> None:
        with self._condition:
            self._job = None
            self._cancelled = True
            self._condition.notify_all()

    def set_active(self, active: bool) -> None:
        with self._condition:
            self._active = active
            self._condition.notify_all()

    def stop(self, timeout_ms: int = 60000) -> None:
        """Cancel and wait: a QThread destroyed while it runs aborts the process, and one step of a
        large image on a busy CPU can take seconds."""
        with self._condition:
            self._stopping = self._cancelled = True
            self._job = None
            self._condition.notify_all()
        self.wait(timeout_ms)

    # -- from the job, on the worker thread -------------------------------------------------

    def should_stop(self) -> bool:
        """True once the job is cancelled; waits here while the mode is hidden."""
        with self._condition:
            while not self._active and not self._cancelled:
                self._condition.wait()
            return self._cancelled

    def checkpoint(self) -> None:
        if self.should_stop():
            raise Cancelled

    def report(self, item: Any) -> None:
        self.reported.emit(item)

    # -- the thread -------------------------------------------------------------------------

    def run(self) -> None:
        import torch

        from deepvis.gui.worker import WORKER_THREADS, last_line

        torch.set_num_threads(WORKER_THREADS)  # per thread with OpenMP: this one runs the model
        while True:
            with self._condition:
                while self._job is None and not self._stopping:
                    self._condition.wait()
                if self._stopping:
                    return
                job, self._job = self._job, None
                self._cancelled = False
                self.busy = True
            try:
                self.done.emit(job(self))
            except Cancelled:
                self.done.emit(None)
            except DeepvisError as error:
                self.failed.emit(str(error))
            except Exception as error:  # shown in the status bar, never a silent death
                log.exception("dream job failed")
                self.failed.emit(last_line(error))
            finally:
                with self._condition:
                    self.busy = False
