"""One-off background calls (model loading, opening a camera) that report back on the GUI thread."""

from __future__ import annotations

import threading
from typing import Any, Callable

from PyQt6.QtCore import QObject, pyqtSignal

from deepvis.jobs import failure_line


class BackgroundCall(QObject):
    """Runs fn() on a daemon thread; `done(result)` or `failed(message)` arrive on the GUI thread."""

    done = pyqtSignal(object)
    failed = pyqtSignal(str)

    def __init__(self, fn: Callable[[], Any], name: str, parent: QObject | None = None):
        super().__init__(parent)
        self._fn = fn
        self._kept_in: set | None = None
        self._thread = threading.Thread(target=self._run, name=f"deepvis {name}", daemon=True)

    def start(self) -> "BackgroundCall":
        self._thread.start()
        return self

    def is_running(self) -> bool:
        return self._thread.is_alive()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def _run(self) -> None:
        try:
            result = self._fn()
        except Exception as error:
            self.failed.emit(failure_line(error, self._thread.name))
        else:
            self.done.emit(result)

    def _forget(self, _result=None) -> None:
        if self._kept_in is not None:
            self._kept_in.discard(self)


def keep_until_done(call: BackgroundCall, calls: set[BackgroundCall]) -> None:
    """Start a call, holding a reference to it in `calls` until it has reported."""
    calls.add(call)
    call._kept_in = calls
    # A method of the call, not a closure: Qt drops a reply whose receiver is gone (see ComputeTask).
    call.done.connect(call._forget)
    call.failed.connect(call._forget)
    call.start()
