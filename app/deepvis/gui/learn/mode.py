"""The Learn mode: watch a small MLP learn a 2-D problem.

Controls on the left; the decision boundary large in the middle, with the timeline and the
loss/accuracy curves under it; on the right every unit's map or the network diagram (whose
weights can be edited), and a 3-D pane: the data at a stage of the network with the plane of a
linear probe, a neuron's surface, or the loss landscape with the training path. What runs and what
is shown lives in the Qt-free view model (deepvis.learn.view_model): the widgets observe its events
and call its actions, and the worker (gui/learn/worker.py) trains and computes the views.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from PyQt6.QtGui import QAction
from PyQt6.QtWidgets import QFileDialog, QMenuBar, QScrollArea, QSplitter, QVBoxLayout, QWidget
from PyQt6.QtCore import Qt

from deepvis import DeepvisError
from deepvis.gui.learn.controls import LearnControls
from deepvis.gui.learn.panes import LearnPanes
from deepvis.gui.learn.worker import LearnWorker
from deepvis.gui.mode import ModeContext, WorkerMode
from deepvis.gui.rate import FrameRate
from deepvis.learn.keys import KEYS
from deepvis.learn.setup import Setup
from deepvis.learn.view_model import LearnFrame, LearnViewModel, stage_count

log = logging.getLogger("deepvis.gui")

READY_STEP = 1000  # `snapshot --mode learn` waits until the network has learned something


class LearnMode(WorkerMode):
    name = "learn"
    title = "Learn"

    def __init__(self, context: ModeContext, parent: QWidget | None = None):
        super().__init__(context, parent)
        option = context.options.get("learn")
        setup = option if isinstance(option, Setup) else Setup()
        self.vm = LearnViewModel(setup)
        self.frames_displayed = 0
        self.rate = FrameRate()
        self._build(setup)
        self._build_actions()
        self.worker = LearnWorker(self)
        self._connect()
        self.worker.set_stage(self.vm.stage)
        self.vm.start()

    # ------------------------------------------------------------------ construction

    def _build(self, setup: Setup) -> None:
        self.controls = LearnControls(setup)
        scroll = QScrollArea()
        scroll.setWidget(self.controls)
        scroll.setWidgetResizable(True)
        scroll.setMinimumWidth(322)
        scroll.setMaximumWidth(360)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self.panes = LearnPanes(self.vm)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(scroll)
        self.splitter.addWidget(self.panes)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.splitter)
        # The panes by their old names: the tests and the snapshot command read them.
        for name in ("boundary", "timeline", "timeline_label", "curves", "grid", "diagram", "scene", "surface",
                     "landscape", "stage_slider", "stage_title", "stage_name", "probe_note", "surface_title",
                     "landscape_title", "gl_note", "view_tabs", "scene_tabs"):
            setattr(self, name, getattr(self.panes, name))

    def _connect(self) -> None:
        vm, worker, controls, panes = self.vm, self.worker, self.controls, self.panes
        vm.run_requested.connect(self._run_requested)
        vm.training_changed.connect(worker.update_training)
        vm.setup_changed.connect(controls.set_setup)
        vm.playing_changed.connect(self._playing_changed)
        vm.step_requested.connect(lambda _none: (worker.request_step(), controls.set_playing(False)))
        vm.moment_requested.connect(worker.show_moment)
        vm.rewind_requested.connect(worker.rewind)
        vm.weight_edit_requested.connect(worker.edit_weight)
        vm.frame_changed.connect(self._draw)
        vm.selection_changed.connect(lambda _vm: (worker.set_stage(vm.stage), panes.show_selection()))
        vm.display_changed.connect(self._display_changed)
        vm.message.connect(self.context.show_message)
        worker.frame_ready.connect(self._on_frame)
        worker.setup_failed.connect(vm.run_failed)
        worker.failed.connect(self._on_failed)
        worker.stopped.connect(vm.stopped)
        controls.changed.connect(self.apply_controls)
        controls.play_clicked.connect(vm.toggle_play)
        controls.step_clicked.connect(vm.step)
        controls.reset_clicked.connect(self.reset)
        controls.regenerate_clicked.connect(vm.regenerate_data)
        controls.csv_requested.connect(self.open_csv_dialog)
        controls.test_points_toggled.connect(lambda on: on != vm.show_test and vm.toggle_test_points())
        controls.discretize_toggled.connect(vm.set_discretize)
        for pane in (panes.boundary, panes.grid, panes.diagram):
            pane.hovered.connect(self.context.show_hint)
        self._display_changed(vm)

    def _action(self, text: str, slot, key: str | None = None, checkable: bool = False) -> QAction:
        action = QAction(f"{text}\t{key}" if key else text, self)
        action.setCheckable(checkable)
        action.triggered.connect(lambda _checked=False: slot())
        return action

    def _build_actions(self) -> None:
        vm = self.vm
        keys = KEYS.action_keys
        self.test_action = self._action("Test points on the boundary", vm.toggle_test_points,
                                        keys["toggle_test_points"], checkable=True)
        self.discretize_action = self._action("Discretize the output", vm.toggle_discretize,
                                              keys["toggle_discretize"], checkable=True)
        self.learn_entries = [
            self._action("Train / pause", vm.toggle_play, keys["toggle_play"]),
            self._action("Step", vm.step, keys["step"]),
            self._action("Reset", self.reset, keys["reset"]),
            self._action("New data, same network init", vm.regenerate_data, keys["regenerate_data"]),
            None,
            self._action("Train on from the moment shown", vm.train_from_here, keys["train_from_here"]),
            self._action("Back to the newest moment", lambda: vm.show_moment(None)),
            None,
            self.test_action,
            self.discretize_action,
            self._action("Every neuron / the network diagram", vm.toggle_view, keys["toggle_view"]),
            self._action("Loss landscape / data at a stage", vm.toggle_landscape, keys["toggle_landscape"]),
        ]
        self.file_entries = [
            self._action("Open setup…", self.open_setup_dialog),
            self._action("Save setup…", self.save_setup_dialog),
            self._action("Export PyTorch script…", self.export_script_dialog),
            None,
            self._action("Open CSV data (two inputs, a 0/1 label)…", self.open_csv_dialog),
            self._action("Save pictures of the moment shown…", self.save_pictures_dialog),
        ]

    # ------------------------------------------------------------------ the shell's interface

    def add_menus(self, menu_bar: QMenuBar) -> list:
        menu = menu_bar.addMenu("&Learn")
        for action in self.learn_entries:
            if action is None:
                menu.addSeparator()
            else:
                menu.addAction(action)
        return [menu]

    def shared_actions(self, menu: str) -> list:
        return self.file_entries if menu == "File" else []

    def handle_key(self, name: str) -> bool:
        return self.vm.press(name)

    def key_help(self) -> list[tuple[str, str]]:
        return KEYS.help()

    def status_text(self) -> str:
        return self.vm.status_text(self.rate.fps(time.perf_counter()))

    def shown(self, first: bool) -> None:
        if first:  # the first time the mode is shown, the network starts learning
            self.vm.set_playing(True)

    def ready(self) -> bool:
        frame = self.frame
        return frame is not None and (frame.views.step >= READY_STEP or not self.vm.playing
                                      or frame.failure is not None)

    # ------------------------------------------------------------------ state, for the tests

    @property
    def frame(self) -> LearnFrame | None:
        return self.vm.frame

    @property
    def playing(self) -> bool:
        return self.vm.playing

    def set_playing(self, playing: bool) -> None:
        self.vm.set_playing(playing)

    # ------------------------------------------------------------------ actions

    def apply_controls(self, force: bool = False) -> None:
        """The setup the controls show: a new run, or new optimizer settings for this one."""
        try:
            setup = self.controls.setup()
        except DeepvisError as error:  # said, and the controls show again what runs
            self.context.show_message(str(error))
            self.controls.set_setup(self.vm.setup)
            return
        self.vm.apply(setup, force=force)

    def reset(self) -> None:
        """A new network at step 0 with the settings shown."""
        self.apply_controls(force=True)

    def _ask_path(self, title: str, kind: str, save: bool, path: str | Path | None) -> str | None:
        if path is not None:
            return str(path)
        dialog = QFileDialog.getSaveFileName if save else QFileDialog.getOpenFileName
        chosen, _ = dialog(self, title, "", kind)
        return chosen or None

    def open_setup_dialog(self, path: str | Path | None = None) -> bool:
        chosen = self._ask_path("Open a Learn setup", "Learn setups (*.json);;All files (*)", False, path)
        return bool(chosen) and self.vm.open_setup(chosen)

    def save_setup_dialog(self, path: str | Path | None = None) -> Path | None:
        chosen = self._ask_path("Save the setup", "Learn setups (*.json)", True, path)
        return self.vm.save_setup(chosen) if chosen else None

    def export_script_dialog(self, path: str | Path | None = None) -> Path | None:
        chosen = self._ask_path("Export a PyTorch script", "Python scripts (*.py)", True, path)
        return self.vm.export_script(chosen) if chosen else None

    def open_csv_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open CSV data", "", "CSV files (*.csv);;All files (*)")
        self.controls.set_csv(path or None)

    def save_pictures_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Save pictures of this moment to…")
        if folder:
            self.save_pictures(Path(folder))

    def save_pictures(self, folder: Path) -> list[Path]:
        """boundary.png, landscapes.png and stages.png of the moment shown (as `deepvis learn` draws them)."""
        from deepvis.learn import export

        frame = self.frame
        if frame is None:
            return []
        folder.mkdir(parents=True, exist_ok=True)
        paths = [export.save_boundary(frame.views, frame.dataset, folder / "boundary.png"),
                 export.save_landscapes(frame.views, folder / "landscapes.png")]
        every_stage = len(frame.views.stages) == stage_count(self.vm.setup)  # while training: the one shown
        if every_stage:
            paths.append(export.save_stages(frame.views, folder / "stages.png"))
        names = ", ".join(path.name for path in paths)
        more = "" if every_stage else " (for stages.png too: pause, with the data at a stage shown)"
        self.context.show_message(f"saved {names} in {folder}{more}")
        return paths

    # ------------------------------------------------------------------ observing the view model

    def _run_requested(self, request) -> None:
        self.panes.curves.reset()
        self.worker.configure(request)

    def _playing_changed(self, playing: bool) -> None:
        self.worker.set_playing(playing)
        self.controls.set_playing(playing)

    def _display_changed(self, vm: LearnViewModel) -> None:
        self.panes.show_display()
        self.controls.set_display(vm.show_test, vm.discretize)
        self.test_action.setChecked(vm.show_test)
        self.discretize_action.setChecked(vm.discretize)
        self.worker.set_discretize(vm.discretize)
        self.worker.set_landscape_wanted(vm.scene == "landscape")
        self.worker.set_stages_wanted(vm.scene == "stage")

    def _on_failed(self, text: str) -> None:
        self.vm.message.emit(text)
        if self.vm.playing and not self.worker.playing:
            self.vm.set_playing(False)

    def _on_frame(self) -> None:
        frame = self.worker.take()
        if frame is not None:
            self.vm.accept_frame(frame)  # one of a run replaced since is dropped there

    def _draw(self, frame: LearnFrame) -> None:
        self.panes.show_frame(frame)
        self.controls.stats.setText(self.vm.stats_text())
        self.controls.set_playing(self.vm.playing)
        self.rate.displayed(time.perf_counter())
        self.frames_displayed += 1
