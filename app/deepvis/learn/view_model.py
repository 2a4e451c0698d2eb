"""The Learn mode's view model: the setup of the run, whether it trains, the moment shown, the
selected stage and neuron, what the views show, and the last frame accepted from the worker.

Plain Python, without Qt. The mode's widgets observe its events and call its actions; keys reach
the same actions through learn/keys.py, so every key is tested without a window. The worker
observes the requests (a new run, other training settings, play, a step, a moment, a rewind, a
weight edit) and hands back frames. Each run has a number; a frame of a run replaced since is
dropped here, and a setup that fails to start (a bad CSV) brings back the one still running.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np

from deepvis import DeepvisError
from deepvis.events import Event
from deepvis.learn.diagram import weight_index
from deepvis.learn.keys import KEYS
from deepvis.learn.setup import Setup

VIEWS = ("grid", "diagram")  # the network pane: every neuron's map, or the network drawn
SCENES = ("stage", "neuron", "landscape")  # the 3-D pane: the data at a stage, a neuron's surface, the loss


@dataclass(frozen=True)
class RunRequest:
    """Start run number `run` with this setup."""

    run: int
    setup: Setup


@dataclass(frozen=True)
class WeightEdit:
    """Set one weight of run `run`: flat parameter `index` (from unit `source` of layer-1 to unit
    `target` of `layer`), from the timeline's moment `moment` (None: the newest)."""

    run: int
    moment: int | None
    index: int
    layer: int
    target: int
    source: int
    value: float


@dataclass(frozen=True)
class LearnFrame:
    """One moment, ready to draw (made by the worker)."""

    run: int
    views: Any  # LearnViews
    dataset: Any  # Dataset
    index: int  # the moment's place in the timeline
    count: int  # snapshots in the timeline
    live: bool  # the newest moment (the slider follows training)
    playing: bool
    curves: dict[str, np.ndarray]
    steps_per_s: float
    failure: str | None
    point_colours: tuple[np.ndarray, np.ndarray] = (np.zeros((0, 3), np.uint8),) * 2  # train, test (N, 3) uint8
    matrices: tuple[np.ndarray, ...] = ()  # each layer's (fan_out, fan_in) weights
    landscape: Any = None  # the newest LossLandscape of this run, or None
    landscape_point: np.ndarray | None = None  # (a, b, loss) of the moment shown on that landscape's plane

    @property
    def units(self) -> list:
        """The input features' maps, then every neuron's landscape (the grid's and the diagram's order)."""
        return list(self.views.feature_maps) + list(self.views.landscapes)


def default_stage(setup: Setup) -> int:
    """The last hidden layer's output (the article's view); the input without hidden layers."""
    return 2 * len(setup.spec.hidden)


def stage_count(setup: Setup) -> int:
    return 1 + 2 * (len(setup.spec.hidden) + 1)


def unit_count(setup: Setup) -> int:
    return sum(setup.spec.sizes)


def column_titles(views) -> list[str]:
    """A title for each column of units: the input, each hidden layer, the output."""
    return ["input · features"] + list(views.layer_titles)


def stage_caption(stage, views) -> tuple[str, str]:
    """The 3-D stage pane's title, and a line saying what its linear probe measures."""
    shown = f"PCA {stage.width}→3 ({stage.explained:.0%})" if stage.projected else f"{stage.width}-D"
    if views.task == "regression":
        return (f"DATA AT STAGE {stage.name.upper()} · {shown}",
                "regression: the points are coloured by their targets; a linear probe needs classes")
    accuracy = stage.probe_accuracy
    if stage.plane is not None:
        verdict = "separates them: its plane is drawn"
    elif accuracy >= 1:
        verdict = "separates them in the stage's full width"
    else:
        verdict = "does not separate them here"
    own = views.snapshot.train_accuracy
    return (f"DATA AT STAGE {stage.name.upper()} · {shown} · LINEAR PROBE {accuracy:.1%}",
            f"linear probe: a logistic regression fitted to this stage's {stage.width} values of the training "
            f"points puts {accuracy:.1%} on the right side of its plane ({verdict}). It measures how linearly "
            f"separable the classes are here, not the network's accuracy ({own:.1%}, its output read at 0.5).")


class LearnViewModel:
    """The Learn mode's state.

    Events (each emits the value named):
      run_requested(RunRequest): start a new run (the worker)
      training_changed(TrainSettings): the running run's optimizer settings changed (the worker)
      setup_changed(Setup): the setup changed from elsewhere than the controls (a file, a failed
        start, new data): the controls show it
      playing_changed(bool): training starts or pauses
      step_requested(None): one block of steps, then pause
      moment_requested(int | None): show the timeline's moment (None: the newest)
      rewind_requested(int): drop the moments after this one and train on from it
      weight_edit_requested(WeightEdit): set one weight
      frame_changed(LearnFrame): a frame of the current run was accepted
      selection_changed(vm): the stage or the neuron changed
      display_changed(vm): test points, discretize, the network view or the 3-D scene changed
      message(str): a line for the status bar
    """

    def __init__(self, setup: Setup | None = None):
        self.setup = setup or Setup()
        self.run = 1
        self._running = (self.run, self.setup)  # the run the worker is known to train
        self.playing = False
        self.moment: int | None = None  # the timeline index shown; None: the newest
        self.stage = default_stage(self.setup)
        self.neuron = -1  # index in the frame's units; -1: the output neuron
        self.show_test = True
        self.discretize = False
        self.view = VIEWS[0]
        self.scene = SCENES[0]
        self.frame: LearnFrame | None = None
        self.failure: str | None = None  # training stopped by itself (NaN) until settings change
        self.edits: list[tuple[int, str]] = []  # (step, what) of the weights edited in this run
        self.run_requested, self.training_changed, self.setup_changed = Event(), Event(), Event()
        self.playing_changed, self.step_requested, self.moment_requested = Event(), Event(), Event()
        self.rewind_requested, self.weight_edit_requested = Event(), Event()
        self.frame_changed, self.selection_changed, self.display_changed, self.message = (
            Event(), Event(), Event(), Event())

    # -- the setup -----------------------------------------------------------------------

    def start(self) -> None:
        """Ask for the first run (the worker is connected)."""
        self.run_requested.emit(RunRequest(self.run, self.setup))

    def apply(self, setup: Setup, force: bool = False) -> None:
        """The controls' setup: other data, network or init seed start a new run; other optimizer
        settings apply to the running one from its next step."""
        old = self.setup
        if force or (setup.data, setup.spec, setup.train.seed) != (old.data, old.spec, old.train.seed):
            self._new_run(setup)
        elif setup != old:
            self.setup = setup
            if setup.train != old.train:
                self.failure = None
                self.training_changed.emit(setup.train)
                t = setup.train
                self.message.emit(f"{t.optimizer}, learning rate {t.learning_rate:g}, batch {t.batch_size or 'all'}, "
                                  f"L1 {t.l1:g}, L2 {t.l2:g}" + (" with per-layer penalties"
                                                                  if t.layer_l1 or t.layer_l2 else ""))

    def reset(self) -> None:
        """A new network at step 0 with the same setup."""
        self.apply(self.setup, force=True)

    def regenerate_data(self) -> None:
        """New points (the data's next seed) under the same network init."""
        self._new_run(replace(self.setup, data=replace(self.setup.data, seed=self.setup.data.seed + 1)))
        self.setup_changed.emit(self.setup)

    def _new_run(self, setup: Setup) -> None:
        if setup.spec.sizes != self.setup.spec.sizes:  # other layers: the old selection means nothing
            self.stage, self.neuron = default_stage(setup), -1
            self.selection_changed.emit(self)
        self.run += 1
        self.setup, self.moment, self.failure, self.edits = setup, None, None, []
        self.run_requested.emit(RunRequest(self.run, setup))
        self.message.emit(f"{setup.spec.describe()} on {Path(setup.data.source).name}: a new run")

    def run_failed(self, run: int, text: str) -> None:
        """A setup could not start (a bad CSV, say): the run before it goes on, and is shown."""
        self.message.emit(text)
        if run == self.run and run != self._running[0]:
            self.run, self.setup = self._running
            self.stage = min(self.stage, stage_count(self.setup) - 1)
            self.setup_changed.emit(self.setup)
            self.selection_changed.emit(self)

    def open_setup(self, path: str | Path) -> bool:
        """Run the setup a file holds (learn/setup.py's format); a bad file is one message."""
        from deepvis.learn.setup import load_setup

        try:
            setup = load_setup(path)
        except DeepvisError as error:
            self.message.emit(str(error))
            return False
        self.apply(setup, force=True)
        self.setup_changed.emit(self.setup)
        return True

    def save_setup(self, path: str | Path) -> Path | None:
        from deepvis.learn.setup import save_setup

        return _write_and_say(self.message, lambda: save_setup(path, self.setup),
                              lambda written: f"saved the setup to {written}")

    def export_script(self, path: str | Path) -> Path | None:
        """A standalone PyTorch script that trains this setup (learn/export_code.py)."""
        from deepvis.learn.export_code import write_script

        return _write_and_say(self.message, lambda: write_script(path, self.setup),
                              lambda written: f"wrote {written}: `python {written.name}` trains the same run in "
                                              "plain PyTorch")

    # -- training ------------------------------------------------------------------------

    def set_playing(self, playing: bool) -> None:
        if playing and self.failure:
            self.message.emit(f"{self.failure}; change the learning rate, or reset (r)")
            playing = False
        if playing:
            self.moment = None
        self.playing = playing
        self.playing_changed.emit(playing)

    def toggle_play(self) -> None:
        self.set_playing(not self.playing)

    def step(self) -> None:
        """One snapshot's steps from the newest moment, then pause."""
        if self.playing:
            self.set_playing(False)
        self.moment = None
        self.step_requested.emit(None)

    def stopped(self, text: str) -> None:
        """Training stopped by itself (the loss became NaN)."""
        self.failure = text
        self.message.emit(text)
        if self.playing:
            self.playing = False
            self.playing_changed.emit(False)

    # -- the timeline ----------------------------------------------------------------------

    def show_moment(self, index: int | None) -> None:
        """Every view at the timeline's snapshot `index` (None: the newest); an earlier moment pauses."""
        if index is not None and self.playing:
            self.set_playing(False)
        self.moment = index
        self.moment_requested.emit(index)

    def timeline_moved(self, value: int) -> None:
        """The slider: its right end while training follows the newest moment."""
        last = self.frame.count - 1 if self.frame else 0
        self.show_moment(None if value >= last and self.playing else value)

    def move_moment(self, delta: int) -> None:
        if self.frame is None:
            return
        index = self.frame.index if self.moment is None else self.moment
        self.show_moment(max(0, min(self.frame.count - 1, index + delta)))

    def jump_moment(self, direction: int) -> None:
        """A tenth of the timeline back or forward."""
        count = self.frame.count if self.frame else 1
        self.move_moment(direction * max(1, (count - 1) // 10))

    def train_from_here(self) -> None:
        """Drop the moments after the one shown and train on from it."""
        frame = self.frame
        if frame is None:
            return
        if not frame.live and self._frame_fits():  # a moment of the run still training
            self.rewind_requested.emit(frame.index)
            self.edits = [edit for edit in self.edits if edit[0] <= frame.views.step]
            self.message.emit(f"training on from step {frame.views.step}; the later moments are dropped")
        self.set_playing(True)

    # -- a weight edited by hand -----------------------------------------------------------

    def edit_weight(self, layer: int, target: int, source: int, value: float) -> WeightEdit | None:
        """Set the weight from unit `source` of layer-1 to unit `target` of `layer`; it takes
        effect at the next step and is a moment of the timeline. Edited at an earlier moment, the
        run goes on from there (the later moments are dropped)."""
        sizes = self.setup.spec.sizes
        try:
            index = weight_index(sizes, layer, target, source)
        except IndexError as error:
            self.message.emit(str(error))
            return None
        if not math.isfinite(value):
            self.message.emit(f"a weight must be a finite number, not {value}")
            return None
        frame = self.frame if self._frame_fits() else None  # the frame of a run just replaced has no say
        moment = None if frame is None or frame.live else frame.index
        step = frame.views.step if frame is not None else 0
        edit = WeightEdit(self.run, moment, index, layer, target, source, float(value))
        what = f"weight {self.unit_name(layer - 1, source)} → {self.unit_name(layer, target)} set to {value:+.4g}"
        self.edits = [e for e in self.edits if e[0] <= step] + [(step, what)]
        self.moment = None
        self.weight_edit_requested.emit(edit)
        self.message.emit(f"{what} at step {step:,}; training goes on from it")
        return edit

    def unit_name(self, layer: int, unit: int) -> str:
        """x1² (an input feature), 2:3 (a hidden neuron) or output."""
        from deepvis.learn.features import LABELS

        spec = self.setup.spec
        if layer == 0:
            return LABELS[spec.features[unit]]
        return "output" if layer == len(spec.sizes) - 1 else f"{layer}:{unit}"

    # -- the selection ---------------------------------------------------------------------

    def select_stage(self, index: int) -> None:
        """The data at this stage in the 3-D pane (input, then each layer's Wx+b and activation)."""
        count = stage_count(self.setup)
        self.stage = max(0, min(count - 1, int(index)))
        shown = self.set_scene("stage", announce=False)
        self.selection_changed.emit(self)
        if shown:
            self.display_changed.emit(self)

    def move_stage(self, step: int) -> None:
        self.select_stage(self.stage + step)

    def select_neuron(self, index: int) -> None:
        """A unit (the input features first, then every neuron) and its surface in the 3-D pane."""
        count = len(self.frame.units) if self._frame_fits() else unit_count(self.setup)
        self.neuron = int(index) % count
        shown = self.set_scene("neuron", announce=False)
        self.selection_changed.emit(self)
        if shown:
            self.display_changed.emit(self)

    def next_neuron(self) -> None:
        self.select_neuron(self.neuron + 1)  # select_neuron wraps it to the units there are

    def selected_unit(self):
        """The selected unit's Landscape in the frame shown (None without one)."""
        if self.frame is None:
            return None
        units = self.frame.units
        return units[self.neuron % len(units)]

    def _frame_fits(self) -> bool:
        return self.frame is not None and self.frame.run == self.run

    # -- what is shown -------------------------------------------------------------------------

    def toggle_test_points(self) -> None:
        self.show_test = not self.show_test
        self.display_changed.emit(self)

    def set_discretize(self, on: bool) -> None:
        """The boundary in classes (a regression's sign) rather than the output's shades."""
        if bool(on) != self.discretize:
            self.discretize = bool(on)
            self.display_changed.emit(self)

    def toggle_discretize(self) -> None:
        self.set_discretize(not self.discretize)

    def set_view(self, view: str) -> None:
        if view in VIEWS and view != self.view:
            self.view = view
            self.display_changed.emit(self)

    def toggle_view(self) -> None:
        """Every neuron's map, or the network diagram."""
        self.set_view(VIEWS[(VIEWS.index(self.view) + 1) % len(VIEWS)])

    def set_scene(self, scene: str, announce: bool = True) -> bool:
        """True when the scene changed; `announce`: say so (display_changed), else the caller does."""
        if scene not in SCENES or scene == self.scene:
            return False
        self.scene = scene
        if announce:
            self.display_changed.emit(self)
        return True

    def toggle_landscape(self) -> None:
        """The loss landscape in the 3-D pane, or back to the data at a stage."""
        self.set_scene("stage" if self.scene == "landscape" else "landscape")

    # -- keys --------------------------------------------------------------------------------

    def press(self, key: str) -> bool:
        """Run the action bound to a key name; False when the key is not bound."""
        return KEYS.run(key, self)

    # -- frames from the worker ------------------------------------------------------------

    def accept_frame(self, frame: LearnFrame) -> bool:
        """Show a frame of the current run; one of a run replaced since is dropped (False)."""
        if frame.run != self.run:
            return False
        self.frame = frame
        self._running = (self.run, self.setup)
        self.frame_changed.emit(frame)
        return True

    # -- what the window says ----------------------------------------------------------------

    def moment_text(self) -> str:
        """The timeline's label: the step shown, of how many, and an edit made there."""
        frame = self.frame
        if frame is None:
            return "step 0"
        step = frame.views.step
        latest = int(frame.curves["step"][-1]) if len(frame.curves["step"]) else step
        text = f"step {step:,}" + ("" if frame.live else f" of {latest:,}")
        edited = [what for at, what in self.edits if at == step]
        return text + (" · edited" if edited else "")

    def stats_text(self) -> str:
        """Losses and accuracies of the moment shown (regression: mean squared errors)."""
        frame = self.frame
        if frame is None:
            return ""
        s = frame.views.snapshot
        if frame.views.task == "regression":
            lines = [f"step {s.step:,}", f"train  MSE {s.train_loss:.5f}", f"test   MSE {s.test_loss:.5f}"]
        else:
            lines = [f"step {s.step:,}", f"train  loss {s.train_loss:.4f}  {s.train_accuracy:6.1%}",
                     f"test   loss {s.test_loss:.4f}  {s.test_accuracy:6.1%}"]
        if not frame.live:
            lines.append("(an earlier moment)")
        lines += [what for at, what in self.edits if at == s.step]
        if frame.failure:
            lines.append(frame.failure)
        return "\n".join(lines)

    def status_text(self, views_per_s: float = 0.0) -> str:
        setup = self.setup
        parts = [f"{setup.spec.describe()} on {Path(setup.data.source).name}"]
        frame = self.frame
        if frame is not None:
            parts.append(f"step {frame.views.step:,}")
            if self.playing:
                parts += [f"{frame.steps_per_s:,.0f} steps/s", f"{views_per_s:.0f} views/s"]
            else:
                parts.append("paused")
            if not frame.live:
                parts.append("earlier moment")
        return " | ".join(parts)


def _write_and_say(message, write: Callable[[], Path], said: Callable[[Path], str]) -> Path | None:
    """write() a file and say `said(path)`, or say why it could not be written (None)."""
    try:
        written = write()
    except DeepvisError as error:
        message.emit(str(error))
        return None
    message.emit(said(written))
    return written
