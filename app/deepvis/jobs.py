"""One primitive for work off the GUI thread: a latest-wins slot and a cancellable job runner.

Qt-free, so that the engine and the tests use it without a window; gui/jobs.py adapts it to
Qt, handing what a job reports to methods of a receiver on the GUI thread.

- `Latest`: the newest value, once. A value nobody took is replaced, never queued.
- `JobRunner`: one thread that runs submitted jobs one at a time. A new job cancels the
  running one (latest wins); while paused (its mode hidden), a job waits at its next
  checkpoint, holding no CPU; `stop()` cancels and waits for the thread.
- A job is a function of a `Job`: it calls `checkpoint()` between steps, `report(item)` for
  what it has on the way, `progress(done, total)`, and returns its result.
- A `JobListener` hears, on the worker thread: yielded, progressed, returned, failed (one
  line: a DeepvisError's message, or the exception's type and last line, logged with its
  traceback) and ended (after the last of those). Every call carries the job's token, so a
  listener can drop what a replaced job said.
"""

from __future__ import annotations

import importlib
import logging
import sys
import threading
from typing import Any, Callable, Generic, Iterable, Protocol, TypeVar

from deepvis import DeepvisError

log = logging.getLogger("deepvis.jobs")

T = TypeVar("T")


class Latest(Generic[T]):
    """A one-value hand-off where the newest wins."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value: T | None = None
        self._full = False

    def put(self, value: T) -> bool:
        """Replace what is waiting; True when nothing was (the reader needs a wake-up)."""
        with self._lock:
            was_empty, self._value, self._full = not self._full, value, True
        return was_empty

    def take(self) -> T | None:
        """The waiting value, once (None when there is none)."""
        with self._lock:
            value, self._value, self._full = self._value, None, False
        return value


_HEAVY_IMPORTS = threading.Lock()


def preload(modules: Iterable[str]) -> None:
    """Import these modules, one thread at a time. Two threads importing large native libraries at
    once can crash the process: with Weights loading a model (torchvision pulling in triton) on
    its worker while Tabular's worker loaded scikit-learn (scipy's LAPACK), the window died of a
    segfault inside the imports. So each worker imports what its jobs need before its first job,
    under this lock, and so do the model loaders and the GUI thread's own late imports."""
    with _HEAVY_IMPORTS:
        for name in modules:
            if name not in sys.modules:
                importlib.import_module(name)


class Cancelled(Exception):
    """Raised inside a job by checkpoint() once it is cancelled, replaced, or its runner stops."""


def last_line(error: BaseException) -> str:
    """An exception as one line: its type and the last line of its message."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[-1]}" if lines else type(error).__name__


def failure_line(error: BaseException, what: str) -> str:
    """An exception as the one line a user reads: a DeepvisError's own message; anything else is
    logged with its traceback and named by its type and last line (never a silent death)."""
    if isinstance(error, DeepvisError):
        return str(error)
    log.error("%s failed", what, exc_info=error)
    return last_line(error)


class JobListener(Protocol):
    """What a runner tells, on its own thread; each call names the job by its token."""

    def job_yielded(self, token: int, item: Any) -> None: ...

    def job_progressed(self, token: int, done: int, total: int) -> None: ...

    def job_returned(self, token: int, result: Any) -> None: ...

    def job_failed(self, token: int, message: str) -> None: ...

    def job_ended(self, token: int) -> None: ...


class Job:
    """A running job's view of its runner."""

    def __init__(self, runner: "JobRunner", token: int):
        self._runner = runner
        self.token = token

    @property
    def cancelled(self) -> bool:
        """True once the job was cancelled or replaced (without waiting while paused)."""
        return self._runner._cancelled(self.token)

    def should_stop(self) -> bool:
        """Wait here while the runner is paused; then True once the job is cancelled."""
        return self._runner._wait_active(self.token)

    def checkpoint(self) -> None:
        if self.should_stop():
            raise Cancelled

    def report(self, item: Any) -> None:
        """Hand a display-ready result on (latest wins at the receiving end)."""
        self.checkpoint()
        self._runner.listener.job_yielded(self.token, item)

    def progress(self, done: int, total: int) -> None:
        self._runner.listener.job_progressed(self.token, done, total)


class JobRunner:
    """Runs jobs one at a time on a thread of its own, started by the first submit (or start())."""

    def __init__(self, name: str, listener: JobListener, on_thread_start: Callable[[], None] | None = None,
                 imports: Iterable[str] = ()):
        self.name = name
        self.listener = listener
        self._on_thread_start = on_thread_start
        self._imports = tuple(imports)  # modules its jobs import: preloaded by its thread first
        self._condition = threading.Condition()
        self._pending: tuple[int, Callable[[Job], Any]] | None = None
        self._token = 0  # the newest job's; a job whose token is older is cancelled
        self._active = True
        self._stopping = False
        self._running_token: int | None = None
        self._thread: threading.Thread | None = None

    # -- from the owner's thread ----------------------------------------------------------------

    def submit(self, fn: Callable[[Job], Any]) -> int:
        """Run fn(job) next, cancelling the running job; returns the new job's token."""
        with self._condition:
            self._token += 1
            self._pending = (self._token, fn)
            self._condition.notify_all()
            token = self._token
        self.start()
        return token

    def cancel(self) -> None:
        """Cancel the running job and drop a pending one."""
        with self._condition:
            self._token += 1
            self._pending = None
            self._condition.notify_all()

    def set_active(self, active: bool) -> None:
        """Paused (False): a job waits at its next checkpoint until resumed."""
        with self._condition:
            self._active = active
            self._condition.notify_all()

    @property
    def busy(self) -> bool:
        """A job runs or waits to (as the worker thread sees it)."""
        with self._condition:
            return self._pending is not None or self._running_token is not None

    def start(self) -> None:
        with self._condition:
            if self._thread is not None or self._stopping:
                return
            self._thread = threading.Thread(target=self._run, name=f"deepvis {self.name}", daemon=True)
        self._thread.start()

    def is_running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float = 60.0) -> bool:
        """Cancel everything and wait for the thread (one step of a large job on a busy CPU can
        take seconds); True when it ended in time."""
        with self._condition:
            self._stopping = True
            self._token += 1
            self._pending = None
            self._condition.notify_all()
        return self.join(timeout)

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread to end; True when it has (or never started)."""
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.is_running()

    # -- from the job -------------------------------------------------------------------------

    def _cancelled(self, token: int) -> bool:
        with self._condition:
            return self._stopping or token != self._token

    def _wait_active(self, token: int) -> bool:
        with self._condition:
            while not self._active and not self._stopping and token == self._token:
                self._condition.wait()
            return self._stopping or token != self._token

    # -- the thread ---------------------------------------------------------------------------

    def _run(self) -> None:
        if self._on_thread_start is not None:
            self._on_thread_start()
        try:
            preload(self._imports)
        except Exception:  # a job that needs the missing module fails with its own message
            log.exception("%s: preloading %s failed", self.name, ", ".join(self._imports))
        while True:
            with self._condition:
                while self._pending is None and not self._stopping:
                    self._condition.wait()
                if self._stopping:
                    return
                (token, fn), self._pending = self._pending, None
                self._running_token = token
            try:
                result = fn(Job(self, token))
            except Cancelled:
                pass
            except Exception as error:
                self.listener.job_failed(token, failure_line(error, f"{self.name} job"))
            else:
                if not self._cancelled(token):
                    self.listener.job_returned(token, result)
            with self._condition:
                self._running_token = None
            self.listener.job_ended(token)
