"""The Learn mode's worker: it owns the trainer and computes the views; the GUI thread runs no torch.

While playing it trains as fast as it can and computes the views at most 30 times a second
(deepvis.learn.loop); the loss landscape, when its view is shown, a chunk at a time within a
share of the time (gui/learn/live_landscape.py). Latest wins: a new frame replaces one the GUI
has not taken yet. Commands from the view model (a new run, play, step, a moment, a rewind) are
fields read at the top of each loop, never queued; weight edits, which must not be lost, are a
short list.
"""

from __future__ import annotations

import logging
import threading
import time

from PyQt6.QtCore import QThread, pyqtSignal

from deepvis import DeepvisError
from deepvis.jobs import Latest, failure_line
from deepvis.learn.data import make_dataset
from deepvis.learn.diagram import weight_matrices
from deepvis.learn.loop import VIEW_RATE, LiveTraining, prepare_thread
from deepvis.learn.timeline import Timeline
from deepvis.learn.trainer import Trainer, TrainSettings
from deepvis.learn.view_model import LearnFrame, RunRequest, WeightEdit
from deepvis.learn.views import LearnViews, ViewComputer, point_colours
from deepvis.gui.learn.live_landscape import FULL_GRID, LIVE_GRID, LiveLandscape

log = logging.getLogger("deepvis.gui")

GRID = 48
VIEW_SHARE = 0.45  # the views take at most this share of the worker's time while training
LANDSCAPE_SHARE = 0.2  # of the worker's time while training
LANDSCAPE_EVERY = 1.0  # seconds between two landscapes while training, at least
LANDSCAPE_SLICE = 0.004  # seconds of landscape work in one go while training
PAUSED_SLICE = 0.03  # ... and while paused (then commands are read between slices)


class ShownViews:
    """The view computer as the worker runs it: the data at a stage (PCA and a probe per stage:
    half to three quarters of a view's time) only while the stage view is shown, and while
    training only the stage shown (`only_stage`); paused, every stage (what Save pictures needs)."""

    def __init__(self, computer: ViewComputer):
        self.computer = computer
        self.stages = True
        self.only_stage: int | None = None

    @property
    def discretize(self) -> bool:
        return self.computer.discretize

    @discretize.setter
    def discretize(self, on: bool) -> None:
        self.computer.discretize = on

    def compute(self, snapshot) -> LearnViews:
        return self.computer.compute(snapshot, stages=self.stages, only_stage=self.only_stage)


class LearnWorker(QThread):
    frame_ready = pyqtSignal()  # a LearnFrame waits in take()
    setup_failed = pyqtSignal(int, str)  # a run that cannot start (e.g. a bad CSV): the old run stays
    failed = pyqtSignal(str)  # something else went wrong: training pauses
    stopped = pyqtSignal(str)  # training stopped by itself (NaN)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._active = threading.Event()
        self._pending_run: RunRequest | None = None
        self._pending_train: TrainSettings | None = None
        self._edits: list[WeightEdit] = []
        self._playing = False
        self._steps_requested = 0
        self._moment: int | None = None  # a timeline index to show; None: the newest
        self._redraw = True
        self._rewind: int | None = None
        self._discretize = False
        self._landscape_wanted = False
        self._stages_wanted = True
        self._stage = 0  # the stage shown
        self._stopping = False
        self._frames: Latest[LearnFrame] = Latest()
        self.run_id = 0
        self.live: LiveTraining | None = None
        self.landscape: LiveLandscape | None = None
        self.setup = None
        self.steps_per_s = 0.0
        self.native_id: int | None = None
        self._colours = None
        self._shown: tuple[LearnViews, int, bool] | None = None  # the views last delivered
        self._allowance = 0.0  # landscape seconds earned by training time
        self._view_cost: float | None = None  # seconds of one view update, smoothed
        self._view_interval = 1.0 / VIEW_RATE
        self._last_view = -1e9

    # -- called from the GUI thread ------------------------------------------------------

    def _command(self, **fields) -> None:
        with self._lock:
            for name, value in fields.items():
                setattr(self, name, value)
        self._wake.set()

    def configure(self, request: RunRequest) -> None:
        """Start a new run (a setup that fails keeps the current run)."""
        self._command(_pending_run=request)

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

    def edit_weight(self, edit: WeightEdit) -> None:
        with self._lock:
            self._edits.append(edit)
            self._moment = None
        self._wake.set()

    def set_discretize(self, on: bool) -> None:
        if on != self._discretize:
            self._command(_discretize=on, _redraw=True)

    def set_stages_wanted(self, wanted: bool) -> None:
        """The data at a stage is shown: compute the stages (only then)."""
        if wanted != self._stages_wanted:
            self._command(_stages_wanted=wanted, _redraw=True)

    def set_stage(self, index: int) -> None:
        """The stage shown: while training, the only one computed."""
        self._stage = index

    def set_landscape_wanted(self, wanted: bool) -> None:
        """The loss landscape's view is shown: compute landscapes (only then)."""
        if wanted != self._landscape_wanted:
            self._command(_landscape_wanted=wanted, _redraw=True)

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
        self.native_id = threading.get_native_id()  # its CPU time, for scripts/learn_window_speed.py
        prepare_thread()
        rate_steps, rate_time = 0, time.perf_counter()
        while True:
            with self._lock:
                if self._stopping:
                    break
                request, self._pending_run = self._pending_run, None
                train, self._pending_train = self._pending_train, None
                rewind, self._rewind = self._rewind, None
                edits, self._edits = self._edits, []
                playing, moment, redraw = self._playing, self._moment, self._redraw
                steps, self._steps_requested = self._steps_requested, 0
                discretize, wanted, stages = self._discretize, self._landscape_wanted, self._stages_wanted
                self._redraw = False
            try:
                if request is not None:
                    self._start(request)
                    redraw = True
                live = self.live
                if live is None:
                    self._wait()
                    continue
                live.computer.discretize = discretize
                live.computer.stages = stages
                if train is not None:
                    live.trainer.update_settings(train)
                if rewind is not None and rewind < len(live.timeline):
                    live.timeline.truncate(rewind)
                    live.trainer.restore(live.timeline[rewind])
                for edit in edits:
                    redraw = self._apply_edit(edit) or redraw
                if not self._active.is_set():
                    self._active.wait(0.1)
                    with self._lock:
                        self._redraw = self._redraw or redraw
                    continue
                if playing and not live.trainer.failure:
                    before, started = live.trainer.step_count, time.perf_counter()
                    snapshot, _ = live.tick(with_views=False)
                    rate_steps += live.trainer.step_count - before
                    now = time.perf_counter()
                    if now - rate_time >= 0.5:
                        self.steps_per_s = rate_steps / (now - rate_time)
                        rate_steps, rate_time = 0, now
                    if snapshot is None:
                        self._stopped_by_itself()
                        continue
                    if now - self._last_view >= self._view_interval:
                        self._last_view = now
                        self._deliver(self._paced_views(snapshot), len(live.timeline) - 1, True)
                    if wanted:
                        self._landscape_while_training(now - started)
                elif steps:
                    for _ in range(steps):
                        if live.tick(with_views=False)[0] is None:
                            self._stopped_by_itself()
                            break
                    else:
                        self._show(None, playing=False)
                elif redraw:
                    self._show(moment, playing)
                elif wanted and self._landscape_while_paused():
                    pass
                else:
                    self._wait()
            except DeepvisError as error:  # a setup that cannot run: the current run goes on
                self.setup_failed.emit(request.run if request is not None else self.run_id, str(error))
            except Exception as error:
                log.exception("the Learn worker")
                self.failed.emit(failure_line(error, "the Learn worker"))
                with self._lock:
                    self._playing = False

    def _paced_views(self, snapshot) -> LearnViews:
        """The views of the newest moment; the next are due in 1/30 s, or later where one takes so
        long (a wide network's, or on a machine busy with other work) that 30 a second would leave
        training less than 1 - VIEW_SHARE of the worker's time."""
        began = time.perf_counter()
        self.live.computer.only_stage = self._stage
        try:
            views = self.live.views(snapshot)
        finally:
            self.live.computer.only_stage = None
        cost = time.perf_counter() - began
        self._view_cost = cost if self._view_cost is None else 0.8 * self._view_cost + 0.2 * cost
        self._view_interval = max(1.0 / VIEW_RATE, self._view_cost / VIEW_SHARE)
        return views

    def _wait(self) -> None:
        self._wake.wait(0.05)
        self._wake.clear()

    def _start(self, request: RunRequest) -> None:
        setup = request.setup
        dataset = make_dataset(setup.data)  # a bad CSV raises here, and the current run stays
        trainer = Trainer(dataset, setup.spec, setup.train)
        # A 48 x 48 grid: the landscapes are smooth, and the GL surface redraws 4.6k triangles, not 8k.
        computer = ShownViews(ViewComputer(dataset, setup.spec, grid=GRID, discretize=self._discretize))
        computer.stages = self._stages_wanted
        self.live = LiveTraining(trainer, computer, Timeline())
        self.landscape = LiveLandscape(dataset, trainer.spec, trainer.device, seed=setup.train.seed)
        self._colours = (point_colours(dataset.y_train, dataset.task), point_colours(dataset.y_test, dataset.task))
        self.setup = setup
        self.run_id = request.run
        self.steps_per_s = 0.0
        self._shown = None
        self._view_cost, self._view_interval = None, 1.0 / VIEW_RATE

    def _apply_edit(self, edit: WeightEdit) -> bool:
        """Set one weight (from the moment it was edited at); the edited network is the newest moment."""
        live = self.live
        if edit.run != self.run_id:
            return False
        timeline = live.timeline
        if edit.moment is not None and edit.moment < len(timeline) - 1:  # made at an earlier moment
            timeline.truncate(edit.moment)
            live.trainer.restore(timeline[edit.moment])
        timeline.append(live.trainer.set_weight(edit.index, edit.value))
        with self._lock:
            self._moment = None
        return True

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
        self._shown = (views, index, live)
        timeline = self.live.timeline
        trainer = self.live.trainer
        landscape = self.landscape
        result = landscape.result if self._landscape_wanted else None
        point = landscape.place(views.snapshot) if result is not None else None
        matrices = tuple(weight_matrices(trainer.spec.sizes, views.snapshot.weights.cpu().numpy()))
        frame = LearnFrame(self.run_id, views, trainer.dataset, index, len(timeline), live,
                           playing and self._playing, timeline.curves(), self.steps_per_s, trainer.failure,
                           self._colours, matrices, result, point)
        if self._frames.put(frame):
            self.frame_ready.emit()

    # -- the loss landscape -----------------------------------------------------------------

    def _landscape_while_training(self, trained: float) -> None:
        """A chunk of the landscape when training has earned it (LANDSCAPE_SHARE of the time), a
        new landscape around the newest moment once a second at most."""
        landscape, timeline = self.landscape, self.live.timeline
        now = time.perf_counter()
        if not landscape.busy and now - landscape.finished_at >= LANDSCAPE_EVERY:
            landscape.start(timeline.latest, timeline.snapshots(), LIVE_GRID)
            self._allowance = 0.0
        if not landscape.busy:
            return
        self._allowance = min(self._allowance + trained * LANDSCAPE_SHARE / (1 - LANDSCAPE_SHARE), 0.05)
        if self._allowance >= LANDSCAPE_SLICE:
            spent = time.perf_counter()
            landscape.work(self._allowance)
            self._allowance = max(0.0, self._allowance - (time.perf_counter() - spent))

    def _landscape_while_paused(self) -> bool:
        """Paused: the landscape around the moment shown, at the full grid; True while working."""
        if self._shown is None:
            return False
        views, index, live = self._shown
        landscape = self.landscape
        if landscape.wants(views.snapshot, FULL_GRID):
            path = self.live.timeline.snapshots()[:index + 1]
            landscape.start(views.snapshot, path, FULL_GRID)
        if not landscape.busy:
            return False
        if landscape.work(PAUSED_SLICE) is not None:
            self._deliver(views, index, live, playing=False)
        return True
