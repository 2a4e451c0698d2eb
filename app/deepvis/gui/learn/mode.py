"""The Learn mode: watch a small MLP learn a 2-D problem.

Controls on the left; the decision boundary large in the middle, with the timeline and the
loss/accuracy curves under it; on the right every neuron's landscape (click one for its 3-D
surface) and the data at a chosen stage of the network in 3-D, with the plane of a linear
probe where one separates the classes. Training runs on the mode's worker; views arrive at
display rate; the timeline slider moves every view to an earlier moment.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
from PyQt6.QtCore import Qt
from PyQt6.QtGui import QAction
from PyQt6.QtWidgets import (QFileDialog, QHBoxLayout, QLabel, QMenuBar, QScrollArea, QSlider, QSplitter,
                             QVBoxLayout, QWidget)

from deepvis import DeepvisError
from deepvis.learn.views import BLUE, ORANGE, plane_polygon
from deepvis.gui.learn.controls import LearnControls
from deepvis.gui.learn.panels import BoundaryPane, CurvesPane, LandscapeGrid
from deepvis.gui.learn.views3d import make_scene, opengl_problem
from deepvis.gui.learn.worker import LearnFrame, LearnSetup, LearnWorker
from deepvis.gui.rate import FrameRate
from deepvis.learn.keys import KEYS
from deepvis.gui.mode import ModeContext, WorkerMode
from deepvis.gui.controls import section_title

log = logging.getLogger("deepvis.gui")

READY_STEP = 1000  # `snapshot --mode learn` waits until the network has learned something
CLASS_RGBA = np.array([ORANGE + (235,), BLUE + (235,)], dtype=np.float32) / 255


class LearnMode(WorkerMode):
    name = "learn"
    title = "Learn"

    def __init__(self, context: ModeContext, parent: QWidget | None = None):
        super().__init__(context, parent)
        option = context.options.get("learn")
        setup = option if isinstance(option, LearnSetup) else LearnSetup()
        self.frame: LearnFrame | None = None
        self.stage_index = 2 * len(setup.spec.hidden)  # the last hidden layer's output: the article's view
        self.neuron_index = -1  # the output neuron until one is clicked
        self.frames_displayed = 0
        self.rate = FrameRate()
        self._last_shown: dict[str, tuple] = {}
        self._build(setup)
        self._build_actions()
        self.worker = LearnWorker(setup, self)
        self.worker.frame_ready.connect(self._on_frame)
        self.worker.failed.connect(self._on_failed)
        self.worker.stopped.connect(self._on_stopped)

    # ------------------------------------------------------------------ construction

    def _build(self, setup: LearnSetup) -> None:
        self.controls = LearnControls(setup)
        self.controls.play_clicked.connect(self.toggle_play)
        self.controls.step_clicked.connect(self.step)
        self.controls.reset_clicked.connect(self.reset)
        self.controls.setup_changed.connect(self.apply_setup)
        self.controls.training_changed.connect(self.apply_training)
        self.controls.csv_requested.connect(self.open_csv_dialog)
        scroll = QScrollArea()
        scroll.setWidget(self.controls)
        scroll.setWidgetResizable(True)
        scroll.setMinimumWidth(240)
        scroll.setMaximumWidth(300)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)

        self.boundary = BoundaryPane()
        self.boundary.hovered.connect(self.context.show_hint)
        self.timeline = QSlider(Qt.Orientation.Horizontal)
        self.timeline.setRange(0, 0)
        self.timeline.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.timeline.setToolTip("every moment of the run: drag back to see the network as it was")
        self.timeline.valueChanged.connect(self._timeline_moved)
        self.timeline_label = QLabel("step 0")
        self.timeline_label.setMinimumWidth(190)
        self.timeline_label.setStyleSheet("font-family: 'DejaVu Sans Mono', monospace;")
        row = QHBoxLayout()
        row.addWidget(section_title("TIMELINE"))
        row.addWidget(self.timeline, 1)
        row.addWidget(self.timeline_label)
        self.curves = CurvesPane()
        self.curves.setFixedHeight(170)
        middle = QWidget()
        column = QVBoxLayout(middle)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.boundary, 1)
        column.addLayout(row)
        column.addWidget(self.curves)

        self.grid = LandscapeGrid()
        self.grid.neuron_clicked.connect(self.select_neuron)
        self.surface_title = section_title("NEURON")
        self.surface = make_scene()
        neurons = QWidget()
        top = QHBoxLayout(neurons)
        top.setContentsMargins(0, 0, 0, 0)
        grid_box = QVBoxLayout()
        grid_box.addWidget(section_title("EVERY NEURON · click one"))
        grid_box.addWidget(self.grid, 1)
        surface_box = QVBoxLayout()
        surface_box.addWidget(self.surface_title)
        surface_box.addWidget(self.surface, 1)
        top.addLayout(grid_box, 1)
        top.addLayout(surface_box, 1)

        self.stage_title = section_title("DATA AT A STAGE")
        self.scene = make_scene()
        self.stage_slider = QSlider(Qt.Orientation.Horizontal)
        self.stage_slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.stage_slider.setTickPosition(QSlider.TickPosition.TicksBelow)
        self.stage_slider.setTickInterval(1)
        self.stage_slider.setPageStep(1)
        self.stage_slider.valueChanged.connect(self.select_stage)
        self.stage_name = QLabel("")
        self.stage_name.setMinimumWidth(150)
        stage_row = QHBoxLayout()
        stage_row.addWidget(section_title("STAGE"))
        stage_row.addWidget(self.stage_slider, 1)
        stage_row.addWidget(self.stage_name)
        problem = opengl_problem()
        self.gl_note = section_title(f"software 3-D ({problem}); OpenGL views need a display" if problem else "")
        self.gl_note.setVisible(bool(problem))
        self.gl_note.setWordWrap(True)
        stages = QWidget()
        stage_box = QVBoxLayout(stages)
        stage_box.setContentsMargins(0, 0, 0, 0)
        stage_box.addWidget(self.stage_title)
        stage_box.addWidget(self.scene, 1)
        stage_box.addLayout(stage_row)
        stage_box.addWidget(self.gl_note)

        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(neurons)
        right.addWidget(stages)
        right.setStretchFactor(0, 4)
        right.setStretchFactor(1, 5)
        right.setChildrenCollapsible(False)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setChildrenCollapsible(False)
        for widget, stretch in ((scroll, 0), (middle, 5), (right, 6)):
            self.splitter.addWidget(widget)
            self.splitter.setStretchFactor(self.splitter.count() - 1, stretch)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.splitter)

    def _action(self, text: str, slot, key: str | None = None, checkable: bool = False) -> QAction:
        action = QAction(f"{text}\t{key}" if key else text, self)
        action.setCheckable(checkable)
        action.triggered.connect(lambda _checked=False: slot())
        return action

    def _build_actions(self) -> None:
        self.play_action = self._action("Train / pause", self.toggle_play, "Space")
        self.test_action = self._action("Test points on the boundary", self.toggle_test_points, "t", checkable=True)
        self.test_action.setChecked(True)
        self.learn_entries = [
            self.play_action,
            self._action("Step", self.step, "s"),
            self._action("Reset", self.reset, "r"),
            None,
            self._action("Train on from the moment shown", self.train_from_here),
            self._action("Back to the newest moment", lambda: self.show_moment(None)),
            None,
            self.test_action,
        ]
        self.file_entries = [
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
        return KEYS.run(name, self)

    def key_help(self) -> list[tuple[str, str]]:
        return KEYS.help()

    def status_text(self) -> str:
        setup = self.worker.setup
        parts = [f"{setup.spec.describe()} on {Path(setup.data.source).name}"]
        frame = self.frame
        if frame is not None:
            parts.append(f"step {frame.views.step}")
            if self.worker.playing:
                parts.append(f"{frame.steps_per_s:,.0f} steps/s")
                parts.append(f"{self.rate.fps(time.perf_counter()):.0f} views/s")
            else:
                parts.append("paused")
            if not frame.live:
                parts.append("earlier moment")
        return " | ".join(parts)

    def shown(self, first: bool) -> None:
        if first:  # the first time the mode is shown, the network starts learning
            self.set_playing(True)

    def ready(self) -> bool:
        frame = self.frame
        return frame is not None and (frame.views.step >= READY_STEP or not self.worker.playing
                                      or frame.failure is not None)

    # ------------------------------------------------------------------ actions

    @property
    def playing(self) -> bool:
        return self.worker.playing

    def set_playing(self, playing: bool) -> None:
        live = self.worker.live
        if playing and live is not None and live.trainer.failure:
            self.context.show_message(f"{live.trainer.failure}; change the learning rate, or reset (r)")
            playing = False
        self.worker.set_playing(playing)
        self.controls.set_playing(playing)
        if playing:
            self.timeline.blockSignals(True)
            self.timeline.setValue(self.timeline.maximum())
            self.timeline.blockSignals(False)

    def toggle_play(self) -> None:
        self.set_playing(not self.worker.playing)

    def step(self) -> None:
        self.controls.set_playing(False)
        self.worker.request_step()

    def reset(self) -> None:
        """A new network at step 0 with the settings shown."""
        self.apply_setup(force=True)

    def apply_setup(self, force: bool = False) -> None:
        try:
            setup = self.controls.setup()
        except DeepvisError as error:
            self.context.show_message(str(error))
            return
        if not force and setup == self.worker.setup:
            return
        if setup.spec.hidden != self.worker.setup.spec.hidden:
            self.stage_index = 2 * len(setup.spec.hidden)
            self.neuron_index = -1
        self.curves.reset()
        self.worker.configure(setup)
        self.context.show_message(f"{setup.spec.describe()} on {Path(setup.data.source).name}: a new run")

    def apply_training(self) -> None:
        settings = self.controls.training()
        self.worker.update_training(settings)
        self.context.show_message(f"{settings.optimizer}, learning rate {settings.learning_rate:g}, "
                                  f"batch {settings.batch_size or 'all'}, L1 {settings.l1:g}, L2 {settings.l2:g}")

    def show_moment(self, index: int | None) -> None:
        """Every view at the timeline's snapshot `index` (None: the newest); pauses training."""
        if index is not None and self.worker.playing:
            self.set_playing(False)
        self.worker.show_moment(index)

    def jump_moment(self, direction: int) -> None:
        """A tenth of the timeline back or forward."""
        self.move_moment(direction * max(1, self.timeline.maximum() // 10))

    def move_stage(self, step: int) -> None:
        self.stage_slider.setValue(self.stage_slider.value() + step)

    def move_moment(self, delta: int) -> None:
        self.timeline.setValue(max(0, min(self.timeline.maximum(), self.timeline.value() + delta)))

    def train_from_here(self) -> None:
        frame = self.frame
        if frame is None:
            return
        if not frame.live:
            self.worker.rewind(frame.index)
            self.context.show_message(f"training on from step {frame.views.step}; the later moments are dropped")
        self.set_playing(True)

    def select_stage(self, index: int) -> None:
        self.stage_index = index
        self._show_stage()

    def select_neuron(self, index: int) -> None:
        self.neuron_index = index
        self._show_surface()

    def next_neuron(self) -> None:
        if self.frame is not None:
            count = len(self.frame.views.landscapes)
            self.select_neuron((self.neuron_index % count + 1) % count)

    def toggle_test_points(self) -> None:
        self.boundary.show_test = not self.boundary.show_test
        self.test_action.setChecked(self.boundary.show_test)
        self.boundary.update()

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
                 export.save_landscapes(frame.views, folder / "landscapes.png"),
                 export.save_stages(frame.views, folder / "stages.png")]
        self.context.show_message(f"saved boundary.png, landscapes.png, stages.png in {folder}")
        return paths

    # ------------------------------------------------------------------ from the worker

    def _on_failed(self, text: str) -> None:
        self.context.show_message(text)
        self.controls.set_playing(self.worker.playing)

    def _on_stopped(self, text: str) -> None:
        self.context.show_message(text)
        self.controls.set_playing(False)

    def _timeline_moved(self, value: int) -> None:
        self.show_moment(None if value >= self.timeline.maximum() and self.worker.playing else value)

    def _on_frame(self) -> None:
        frame = self.worker.take()
        if frame is None or frame.run != self.worker.run_id:
            return  # from a run just replaced
        self.frame = frame
        views = frame.views
        self.boundary.set_frame(frame)
        self.grid.selected = self.neuron_index % len(views.landscapes)
        self.grid.set_landscapes(views.landscapes, views.layer_titles)
        self.curves.set_frame(frame)
        self.timeline.blockSignals(True)
        self.timeline.setRange(0, max(0, frame.count - 1))
        self.timeline.setValue(frame.index)
        self.timeline.blockSignals(False)
        s = views.snapshot
        latest = frame.curves["step"][-1] if len(frame.curves["step"]) else s.step
        self.timeline_label.setText(f"step {s.step:,}" + ("" if frame.live else f" of {int(latest):,}"))
        self.stage_slider.blockSignals(True)
        self.stage_slider.setRange(0, len(views.stages) - 1)
        self.stage_index = min(self.stage_index, len(views.stages) - 1)
        self.stage_slider.setValue(self.stage_index)
        self.stage_slider.blockSignals(False)
        self._show_stage()
        self._show_surface()
        self.controls.set_playing(self.worker.playing)
        self.controls.stats.setText(
            f"step {s.step:,}\n"
            f"train  loss {s.train_loss:.4f}  {s.train_accuracy:6.1%}\n"
            f"test   loss {s.test_loss:.4f}  {s.test_accuracy:6.1%}"
            + ("" if frame.live else "\n(an earlier moment)")
            + (f"\n{frame.failure}" if frame.failure else ""))
        self.controls.stats.setWordWrap(True)
        self.rate.displayed(time.perf_counter())
        self.frames_displayed += 1

    def _show_stage(self) -> None:
        frame = self.frame
        if frame is None or not frame.views.stages:
            return
        stage = frame.views.stages[min(self.stage_index, len(frame.views.stages) - 1)]
        polygon = plane_polygon(stage.plane) if stage.plane is not None else None
        key = (frame.run, self.stage_index, stage.projected)
        if not self._unchanged("stage", key, stage.points, polygon):
            colours = CLASS_RGBA[frame.views.labels.astype(int)]
            self.scene.set_points(stage.points, colours, polygon, stage.axes)
        shown = f"PCA {stage.width}→3 ({stage.explained:.0%} of the variance)" if stage.projected else (
            f"{stage.width}-D")
        verdict = "separable: plane drawn" if stage.plane is not None else "not linearly separable here"
        if stage.probe_accuracy >= 1 and stage.plane is None:
            verdict = "separable in full width"
        self.stage_title.setText(f"DATA AT STAGE {stage.name.upper()} · {shown} · linear probe "
                                 f"{stage.probe_accuracy:.1%} · {verdict}")
        self.stage_name.setText(stage.name)

    def _show_surface(self) -> None:
        frame = self.frame
        if frame is None:
            return
        landscapes = frame.views.landscapes
        item = landscapes[self.neuron_index % len(landscapes)]
        heights = (item.values - item.low) / max(item.high - item.low, 1e-12)
        if not self._unchanged("surface", (frame.run, self.neuron_index % len(landscapes)), heights):
            self.surface.set_surface(item.values, item.rgb, item.low, item.high)
        layer = (frame.views.layer_titles[item.layer - 1] if item.layer - 1 < len(frame.views.layer_titles)
                 else f"layer {item.layer}")
        self.surface_title.setText(f"NEURON {item.label} · {layer} · height and colour: "
                                   f"{item.low:.3g} to {item.high:.3g}")

    def _unchanged(self, view: str, key: tuple, *arrays) -> bool:
        """True when a 3-D view would show the same as it does (within 1/500 of the cube):
        a converged network changes little, and each repaint costs a software GL a few ms."""
        last = self._last_shown.get(view)
        self._last_shown[view] = (key, arrays)
        if last is None or last[0] != key or len(last[1]) != len(arrays):
            return False
        for old, new in zip(last[1], arrays):
            if (old is None) != (new is None):
                return False
            if old is not None and (old.shape != new.shape or np.abs(old - new).max() > 2e-3):
                return False
        self._last_shown[view] = last  # compare with what is on screen, so slow drifts still show
        return True
