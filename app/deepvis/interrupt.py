"""Stopping a long command cleanly: SIGINT (Ctrl-C) and SIGTERM only set a flag, which the
command's loop reads at its next safe point (a finished batch, epoch or snapshot); the command then
writes what it has done and exits 130 or 143 with one line. A KeyboardInterrupt raised in the
middle of a step would throw that work away.

    with stop_on_signals() as stop:
        for batch in batches:
            ...
            if stop:
                save()
                return stop.exit("stopped after 12 of 40 batches; run the same command again to resume")

Engine code takes the flag as its `cancel` callable (`cancel=stop`), or raises `stop.check(...)`'s
Interrupted from deep inside, which the command turns into its line with `exit()`. A second signal
stops at once (a KeyboardInterrupt). Outside the main thread no handler can be installed: the flag
then never rises, and the signals keep their old meaning.
"""

from __future__ import annotations

import signal
import sys
import threading
from contextlib import contextmanager
from typing import Callable, Iterator

SIGNALS = (signal.SIGINT, signal.SIGTERM)


def exit_code(signum: int) -> int:
    """The shell's code for a process ended by the signal: 130 for SIGINT, 143 for SIGTERM."""
    return 128 + signum


class Interrupted(Exception):
    """Work stopped at a safe point on a signal; the message says where, and what a re-run does."""

    def __init__(self, signum: int, message: str):
        super().__init__(message)
        self.signum = signum

    def exit(self) -> int:
        """Print the one line (on stderr, after any progress bar) and return the exit code."""
        print(f"deepvis: {signal.Signals(self.signum).name}: {self}", file=sys.stderr, flush=True)
        return exit_code(self.signum)


class Stop:
    """Whether a signal asked the work to stop: true in `if stop:`, and callable as a `cancel`."""

    def __init__(self) -> None:
        self.signum: int | None = None

    def __bool__(self) -> bool:
        return self.signum is not None

    def __call__(self) -> bool:
        return self.signum is not None

    def check(self, message: str | Callable[[], str]) -> None:
        """Raise Interrupted (with the message, or what the callable says) once a signal came."""
        if self.signum is not None:
            raise Interrupted(self.signum, message() if callable(message) else message)

    def exit(self, message: str) -> int:
        """The one line and the exit code, for a command that stopped on a signal."""
        return Interrupted(self.signum or signal.SIGINT, message).exit()


@contextmanager
def stop_on_signals() -> Iterator[Stop]:
    """A Stop that SIGINT and SIGTERM set while the block runs; the old handlers come back after."""
    stop = Stop()

    def handle(signum, _frame) -> None:
        if stop.signum is not None:  # asked twice: stop now, whatever is lost
            raise KeyboardInterrupt
        stop.signum = signum

    previous = {}
    if threading.current_thread() is threading.main_thread():
        for signum in SIGNALS:
            previous[signum] = signal.signal(signum, handle)
    try:
        yield stop
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def ignore_interrupts() -> None:
    """For helper processes (DataLoader workers): Ctrl-C reaches the whole process group, and the
    main process decides when to stop; a worker that died of it would fail the next batch."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
