"""The Learn mode's worker: it owns the trainer and computes the views; the GUI thread runs no torch.

While playing it trains as fast as it can and computes the views at most 30 times a
second (deepvis.learn.loop). Latest wins: a new frame replaces one the GUI has not taken
yet. Commands from the GUI (play, step, reset, show a moment) are fields read at the top
of each loop, never queued.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

import numpy as np
from PyQt6.QtCore import QThread, pyqtSignal

from deepvis import DeepvisError
from deepvis.jobs import Latest, failure_line
from deepvis.learn.data import DataSettings, Dataset, make_dataset
from deepvis.learn.loop import LiveTraining, prepare_thread
from deepvis.learn.network import NetworkSpec
from deepvis.learn.timeline import Timeline
from deepvis.learn.trainer import Trainer, TrainSettings
from deepvis.learn.views import LearnViews, ViewComputer

log = logging.getLogger("deepvis.gui")

GRID = 48


@dataclass(frozen=True)
class LearnSetup:
    """Everything that defines a run; changing the data or the network starts a new one."""

    data: DataSettings = field(default_factory=DataSettings)
    spec: NetworkSpec = field(default_factory=NetworkSpec)
    train: TrainSettings = field(default_factory=TrainSettings)


@dataclass(frozen=True)
class LearnFrame:
    """One moment, ready to draw."""

    run: int  # which run (a reset starts a new one)
    views: LearnViews
    dataset: Dataset
    index: int  # the moment's place in the timeline
    count: int  # snapshots in the timeline
    live: bool  # the newest moment (the slider follows training)
    playing: bool
    curves: dict[str, np.ndarray]
    steps_per_s: float
    failure: str | None


class LearnWorker(QThread):
    frame_ready = pyqtSignal()  # a LearnFrame waits in take()
    failed = pyqtSignal(str)  # a setup that cannot run (e.g. a bad CSV): the old run stays
    stopped = pyqtSignal(str)  # training stopped by itself (NaN)

    def __init__(self, setup: LearnSetup, parent=None):
        super().__init__(parent)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._active = threading.Event()
        self._pending_setup: LearnSetup | None = setup
        self._pending_train: TrainSettings | None = None
        self._playing = False
        self._steps_requested = 0
        self._moment: int | None = None  # a timeline index to show; None: the newest
        self._redraw = True
        self._rewind: int | None = None
        self._stopping = False
        self._frames: Latest[LearnFrame] = Latest()
        self.run_id = 0
        self.live: LiveTraining | None = None
        self.setup = setup
        self.steps_per_s = 0.0

    # -- called from the GUI thread ------------------------------------------------------

    def _command(self, **fields) -> None:
        with self._lock:
            for name, value in fields.items():
                setattr(self, name, value)
        self._wake.set()

    def configure(self, setup: LearnSetup) -> None:
        """Start a new run with these settings (a setup that fails keeps the current run)."""
        self._command(_pending_setup=setup)

    def update_training(self, settings: TrainSettings) -> None:
        """New optimizer settings for the current run, from its next step."""
        self._command(_pending_train=settings)

    def set_playing(self, playing: bool) -> None:
        self._command(_playing=playing, _moment=None if playing else self._moment, _redraw=True)

    def request_step(self) -> None:
        """One block of steps (one snapshot), then a frame; pauses playing."""
        with self._lock:
            self._steps_requested += 1
            self._playing = False
            self._moment = None
        self._wake.set()

    def show_moment(self, index: int | None) -> None:
        """Show the timeline's snapshot `index` (None: the newest)."""
        self._command(_moment=index, _redraw=True)

    def rewind(self, index: int) -> None:
        """Drop the timeline after `index` and train on from that moment."""
        self._command(_rewind=index, _moment=None, _redraw=True)

    def set_active(self, active: bool) -> None:
        """Hidden modes do no work: the loop waits until the mode is shown again."""
        if active:
            self._active.set()
            self._wake.set()
        else:
            self._active.clear()

    @property
    def playing(self) -> bool:
        return self._playing

    def take(self) -> LearnFrame | None:
        return self._frames.take()

    def stop(self, timeout_ms: int = 10000) -> None:
        self._command(_stopping=True)
        self._active.set()
        self.wait(timeout_ms)

    # -- the worker thread ----------------------------------------------------------------

    def run(self) -> None:
        prepare_thread()
        rate_steps, rate_time = 0, time.perf_counter()
        while True:
            with self._lock:
                if self._stopping:
                    break
                setup, self._pending_setup = self._pending_setup, None
                train, self._pending_train = self._pending_train, None
                rewind, self._rewind = self._rewind, None
                playing, moment, redraw = self._playing, self._moment, self._redraw
                steps, self._steps_requested = self._steps_requested, 0
                self._redraw = False
            try:
                if setup is not None:
                    self._start(setup)
                    redraw = True
                live = self.live
                if live is None:
                    self._wait()
                    continue
                if train is not None:
                    live.trainer.update_settings(train)
                if rewind is not None:
                    live.timeline.truncate(rewind)
                    live.trainer.restore(live.timeline[rewind])
                if not self._active.is_set():
                    self._active.wait(0.1)
                    with self._lock:
                        self._redraw = self._redraw or redraw
                    continue
                if playing and not live.trainer.failure:
                    before = live.trainer.step_count
                    snapshot, views = live.tick()
                    rate_steps += live.trainer.step_count - before
                    now = time.perf_counter()
                    if now - rate_time >= 0.5:
                        self.steps_per_s = rate_steps / (now - rate_time)
                        rate_steps, rate_time = 0, now
                    if snapshot is None:
                        self._stopped_by_itself()
                    elif views is not None:
                        self._deliver(views, len(live.timeline) - 1, True)
                elif steps:
                    for _ in range(steps):
                        if live.tick(with_views=False)[0] is None:
                            self._stopped_by_itself()
                            break
                    else:
                        self._show(None, playing=False)
                elif redraw:
                    self._show(moment, playing)
                else:
                    self._wait()
            except DeepvisError as error:  # a setup that cannot run: the current run goes on
                self.failed.emit(str(error))
            except Exception as error:
                self.failed.emit(failure_line(error, "the Learn worker"))
                with self._lock:
                    self._playing = False

    def _wait(self) -> None:
        self._wake.wait(0.05)
        self._wake.clear()

    def _start(self, setup: LearnSetup) -> None:
        dataset = make_dataset(setup.data)  # a bad CSV raises here, and the current run stays
        trainer = Trainer(dataset, setup.spec, setup.train)
        # A 48 x 48 grid: the landscapes are smooth, and the GL surface redraws 4.6k triangles, not 8k.
        self.live = LiveTraining(trainer, ViewComputer(dataset, setup.spec, grid=GRID), Timeline())
        self.setup = setup
        self.run_id += 1
        self.steps_per_s = 0.0

    def _stopped_by_itself(self) -> None:
        with self._lock:
            self._playing = False
        self.stopped.emit(self.live.trainer.failure or "training stopped")
        self._show(None, playing=False)

    def _show(self, moment: int | None, playing: bool) -> None:
        timeline = self.live.timeline
        last = len(timeline) - 1
        index = last if moment is None else max(0, min(moment, last))
        self._deliver(self.live.views(timeline[index]), index, index == last, playing)

    def _deliver(self, views: LearnViews, index: int, live: bool, playing: bool = True) -> None:
        timeline = self.live.timeline
        frame = LearnFrame(self.run_id, views, self.live.trainer.dataset, index, len(timeline), live,
                           playing and self._playing, timeline.curves(), self.steps_per_s,
                           self.live.trainer.failure)
        if self._frames.put(frame):
            self.frame_ready.emit()
