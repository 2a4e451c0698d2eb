"""The one job primitive (deepvis.jobs): the latest-wins slot and the runner, without Qt; then its Qt
adapter as the Digits and Weights modes use it (Stop is never followed by "done"; a model that
cannot load keeps the one shown)."""

from __future__ import annotations

import threading
import time

import pytest

from deepvis import DeepvisError
from deepvis.jobs import Cancelled, JobRunner, Latest, failure_line

WAIT = 10.0  # s; generous for a loaded machine, never reached when all is well


def test_latest_keeps_only_the_newest_value_and_says_when_the_reader_needs_waking():
    slot = Latest()
    assert slot.take() is None
    assert slot.put(1) is True
    assert slot.put(2) is False  # nobody took 1: replaced, and the reader was already woken
    assert slot.take() == 2 and slot.take() is None
    assert slot.put(3) is True


class Recorder:
    """A JobListener that writes down what it hears, in order."""

    def __init__(self):
        self.events: list[tuple] = []
        self.ended = threading.Event()

    def job_yielded(self, token, item):
        self.events.append(("yielded", token, item))

    def job_progressed(self, token, done, total):
        self.events.append(("progressed", token, done, total))

    def job_returned(self, token, result):
        self.events.append(("returned", token, result))

    def job_failed(self, token, message):
        self.events.append(("failed", token, message))

    def job_ended(self, token):
        self.events.append(("ended", token))
        self.ended.set()

    def kinds(self, token):
        return [e[0] for e in self.events if e[1] == token]


def wait_until(predicate, timeout=WAIT):
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.005)


def endless_job(started: threading.Event):
    """A job that runs until cancelled, setting `started` first."""
    def endless(job):
        started.set()
        while True:
            job.checkpoint()
            time.sleep(0.001)
    return endless


@pytest.fixture
def runner():
    recorder = Recorder()
    runner = JobRunner("test", recorder)
    yield runner, recorder
    assert runner.stop(WAIT)


def test_a_job_reports_progress_and_returns_then_ends(runner):
    runner, heard = runner

    def job(job):
        for i in range(3):
            job.checkpoint()
            job.progress(i + 1, 3)
        job.report("half")
        return 42
    token = runner.submit(job)
    wait_until(lambda: ("ended", token) in heard.events)
    assert heard.kinds(token) == ["progressed"] * 3 + ["yielded", "returned", "ended"]
    assert ("returned", token, 42) in heard.events and not runner.busy


def test_a_new_job_cancels_the_running_one_which_returns_nothing(runner):
    runner, heard = runner
    started = threading.Event()
    endless = endless_job(started)
    first = runner.submit(endless)
    assert started.wait(WAIT)
    second = runner.submit(lambda job: "second")
    wait_until(lambda: ("ended", second) in heard.events)
    assert heard.kinds(first) == ["ended"]  # cancelled: no result, no failure
    assert ("returned", second, "second") in heard.events


def test_cancel_stops_a_job_at_its_next_checkpoint(runner):
    runner, heard = runner
    started = threading.Event()

    def endless(job):
        started.set()
        while not job.should_stop():
            time.sleep(0.001)
        raise Cancelled
    token = runner.submit(endless)
    assert started.wait(WAIT)
    runner.cancel()
    wait_until(lambda: ("ended", token) in heard.events)
    assert heard.kinds(token) == ["ended"] and not runner.busy


def test_a_paused_runner_holds_its_job_at_the_checkpoint_until_resumed(runner):
    runner, heard = runner
    steps = []
    paused = threading.Event()

    def counting(job):
        for i in range(1000):
            job.checkpoint()
            steps.append(i)
            if i == 5:
                runner.set_active(False)
                paused.set()
        return len(steps)
    token = runner.submit(counting)
    assert paused.wait(WAIT)
    time.sleep(0.1)
    assert len(steps) == 6  # waits at step 6's checkpoint, holding no CPU
    runner.set_active(True)
    wait_until(lambda: ("ended", token) in heard.events)
    assert ("returned", token, 1000) in heard.events


def test_failures_are_one_line_and_a_deepvis_error_keeps_its_message(runner, caplog):
    runner, heard = runner

    def broken(_job):
        raise ValueError("first line\nthe last line says what went wrong")
    token = runner.submit(broken)
    wait_until(lambda: ("ended", token) in heard.events)
    assert ("failed", token, "ValueError: the last line says what went wrong") in heard.events
    assert "Traceback" in caplog.text  # logged with its traceback, shown as one line

    def refused(_job):
        raise DeepvisError("no such class 'goldfsh'")
    token = runner.submit(refused)
    wait_until(lambda: ("ended", token) in heard.events)
    assert ("failed", token, "no such class 'goldfsh'") in heard.events
    assert failure_line(KeyError(), "x") == "KeyError"


def test_stop_cancels_the_running_job_and_ends_the_thread():
    heard = Recorder()
    runner = JobRunner("test", heard)
    started = threading.Event()
    endless = endless_job(started)
    runner.set_active(True)
    runner.submit(endless)
    assert started.wait(WAIT)
    assert runner.stop(WAIT) and not runner.is_running()
    runner.submit(lambda job: None)  # after stop nothing starts again
    assert not runner.is_running()


# --------------------------------------------------------------------------- the Qt adapter


def test_the_qt_adapter_drops_what_a_cancelled_job_says_and_takes_only_the_newest(qtbot):
    from PyQt6.QtCore import QObject

    from deepvis.gui.jobs import JobWorker

    class Mode(QObject):
        def __init__(self):
            super().__init__()
            self.yielded, self.returned, self.idle = [], [], 0

        def job_yielded(self, item):
            self.yielded.append(item)

        def job_returned(self, result):
            self.returned.append(result)

        def job_idle(self):
            self.idle += 1

    mode = Mode()
    worker = JobWorker("adapter test", mode, on_thread_start=None)
    reported, release = threading.Event(), threading.Event()

    def many(job):
        for i in range(200):
            job.report(i)
        reported.set()
        release.wait(WAIT)
        return "first"
    worker.submit(many)
    assert worker.busy
    assert reported.wait(WAIT)  # the GUI thread took nothing meanwhile
    qtbot.waitUntil(lambda: bool(mode.yielded), timeout=int(WAIT * 1000))
    qtbot.wait(50)
    assert mode.yielded == [199]  # latest wins: one delivery, of the newest
    worker.cancel()
    assert not worker.busy
    release.set()
    qtbot.wait(200)
    assert mode.returned == [] and mode.idle == 0  # nothing of the cancelled job after Stop
    worker.submit(lambda job: "second")
    qtbot.waitUntil(lambda: mode.idle == 1, timeout=int(WAIT * 1000))
    assert mode.returned == ["second"] and not worker.busy  # busy turns False after the result
    worker.stop()
