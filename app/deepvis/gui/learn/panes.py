"""The Learn mode's panes beside the controls: the boundary with the timeline and the curves under
it; on the right, every unit's map or the network diagram (tabs), and under them the 3-D pane (tabs:
the data at a stage, a neuron's surface, the loss landscape). Only what is visible is drawn: a
tab brought to the front draws the frame shown at once.
"""

from __future__ import annotations

import time

import numpy as np
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QHBoxLayout, QSizePolicy, QSlider, QSplitter, QTabWidget, QVBoxLayout, QWidget

from deepvis.learn.view_model import (SCENES, VIEWS, LearnFrame, LearnViewModel, column_titles, stage_caption,
                                      stage_count)
from deepvis.learn.views import plane_polygon
from deepvis.gui.controls import section_title
from deepvis.gui.learn.diagram import NetworkDiagram
from deepvis.gui.learn.landscape3d import make_landscape_scene
from deepvis.gui.learn.panels import BoundaryPane, Caption, CurvesPane, LandscapeGrid
from deepvis.gui.learn.views3d import make_scene, opengl_problem

CURVES_EVERY = 0.125  # seconds between two drawings of the curves while training
VIEW_TABS = {"grid": "Every neuron", "diagram": "Network"}
SCENE_TABS = {"stage": "Data at a stage", "neuron": "Neuron surface", "landscape": "Loss landscape"}


def titled(title: QWidget, *widgets, stretch_first: bool = True) -> QWidget:
    box = QWidget()
    column = QVBoxLayout(box)
    column.setContentsMargins(0, 4, 0, 0)
    column.setSpacing(4)
    column.addWidget(title)
    for i, widget in enumerate(widgets):
        if isinstance(widget, QHBoxLayout):
            column.addLayout(widget)
        else:
            column.addWidget(widget, 1 if (i == 0 and stretch_first) else 0)
    return box


class LearnPanes(QWidget):
    """Everything right of the controls; it draws what the view model says is shown."""

    def __init__(self, vm: LearnViewModel, parent: QWidget | None = None):
        super().__init__(parent)
        self.vm = vm
        self._last_shown: dict[str, tuple] = {}
        self._curves_drawn = (0, 0.0)  # the run and the time the curves were last drawn

        self.boundary = BoundaryPane()
        self.timeline = QSlider(Qt.Orientation.Horizontal)
        self.timeline.setRange(0, 0)
        self.timeline.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.timeline.setToolTip("every moment of the run: drag back to see the network as it was")
        self.timeline_label = Caption("step 0", "mono")
        self.timeline_label.setFixedWidth(200)  # a longer label must not squeeze the slider
        self.timeline_label.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
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
        self.diagram = NetworkDiagram()
        self.view_tabs = QTabWidget()
        self.view_tabs.addTab(titled(section_title("EVERY UNIT'S OUTPUT OVER [-1, 1]² · click one for its surface",
                                                   elastic=True), self.grid), VIEW_TABS["grid"])
        self.view_tabs.addTab(self.diagram, VIEW_TABS["diagram"])

        self.stage_title = Caption("DATA AT A STAGE")
        self.scene = make_scene()
        self.stage_slider = QSlider(Qt.Orientation.Horizontal)
        self.stage_slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.stage_slider.setTickPosition(QSlider.TickPosition.TicksBelow)
        self.stage_slider.setTickInterval(1)
        self.stage_slider.setPageStep(1)
        self.stage_name = Caption("", "mono")
        self.stage_name.setFixedWidth(110)
        self.stage_name.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        stage_row = QHBoxLayout()
        stage_row.addWidget(section_title("STAGE"))
        stage_row.addWidget(self.stage_slider, 1)
        stage_row.addWidget(self.stage_name)
        self.probe_note = Caption("", "note", lines=4)
        self.surface_title = Caption("NEURON")
        self.surface = make_scene()
        self.landscape_title = Caption("LOSS LANDSCAPE")
        self.landscape = make_landscape_scene()
        problem = opengl_problem()
        self.gl_note = section_title(f"software 3-D ({problem}); OpenGL views need a display" if problem else "",
                                     elastic=True)
        self.gl_note.setVisible(bool(problem))
        self.scene_tabs = QTabWidget()
        self.scene_tabs.addTab(titled(self.stage_title, self.scene, stage_row, self.probe_note), SCENE_TABS["stage"])
        self.scene_tabs.addTab(titled(self.surface_title, self.surface), SCENE_TABS["neuron"])
        self.scene_tabs.addTab(titled(self.landscape_title, self.landscape), SCENE_TABS["landscape"])
        scenes = QWidget()
        scene_box = QVBoxLayout(scenes)
        scene_box.setContentsMargins(0, 0, 0, 0)
        scene_box.addWidget(self.scene_tabs, 1)
        scene_box.addWidget(self.gl_note)

        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.view_tabs)
        right.addWidget(scenes)
        right.setStretchFactor(0, 5)
        right.setStretchFactor(1, 4)
        right.setChildrenCollapsible(False)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setChildrenCollapsible(False)
        for widget, stretch in ((middle, 5), (right, 6)):
            self.splitter.addWidget(widget)
            self.splitter.setStretchFactor(self.splitter.count() - 1, stretch)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.splitter)

        self.timeline.valueChanged.connect(vm.timeline_moved)
        self.stage_slider.valueChanged.connect(vm.select_stage)
        self.grid.neuron_clicked.connect(vm.select_neuron)
        self.diagram.neuron_clicked.connect(vm.select_neuron)
        self.diagram.weight_edited.connect(vm.edit_weight)
        self.view_tabs.currentChanged.connect(lambda i: vm.set_view(VIEWS[i]))
        self.scene_tabs.currentChanged.connect(lambda i: vm.set_scene(SCENES[i]))

    # -- what the view model says -------------------------------------------------------------

    def show_frame(self, frame: LearnFrame) -> None:
        """Draw a new frame: the boundary, the curves and the timeline, and the visible tabs."""
        self.boundary.set_frame(frame)
        now = time.perf_counter()
        # The curves move slowly and cost more to draw than any other pane: 8 times a second
        # while training is plenty; a paused window draws each moment.
        if not frame.playing or now - self._curves_drawn[1] >= CURVES_EVERY or frame.run != self._curves_drawn[0]:
            self.curves.set_frame(frame)
            self._curves_drawn = (frame.run, now)
        self.timeline.blockSignals(True)
        self.timeline.setRange(0, max(0, frame.count - 1))
        self.timeline.setValue(frame.index)
        self.timeline.blockSignals(False)
        self.timeline_label.setText(self.vm.moment_text())
        self.stage_slider.blockSignals(True)
        self.stage_slider.setRange(0, stage_count(self.vm.setup) - 1)
        self.stage_slider.setValue(self.vm.stage)
        self.stage_slider.blockSignals(False)
        self._show_network(frame)
        self._show_scene(frame)

    def show_display(self) -> None:
        """Tabs, test points and the like changed: bring the tabs forward and draw them."""
        vm = self.vm
        for tabs, names, chosen in ((self.view_tabs, VIEWS, vm.view), (self.scene_tabs, SCENES, vm.scene)):
            tabs.blockSignals(True)
            tabs.setCurrentIndex(names.index(chosen))
            tabs.blockSignals(False)
        if self.boundary.show_test != vm.show_test:
            self.boundary.show_test = vm.show_test
            self.boundary.update()
        if vm.frame is not None:
            self._show_network(vm.frame)
            self._show_scene(vm.frame)

    def show_selection(self) -> None:
        frame = self.vm.frame
        self.stage_slider.blockSignals(True)
        self.stage_slider.setValue(self.vm.stage)
        self.stage_slider.blockSignals(False)
        if frame is not None:
            self._show_network(frame)
            self._show_scene(frame)

    # -- drawing --------------------------------------------------------------------------------

    def _show_network(self, frame: LearnFrame) -> None:
        units, titles = frame.units, column_titles(frame.views)
        selected = self.vm.neuron % len(units)
        if self.vm.view == "grid":
            self.grid.selected = selected
            self.grid.set_landscapes(units, titles)
        else:
            self.diagram.selected = selected
            sizes = (frame.matrices[0].shape[1], *(m.shape[0] for m in frame.matrices))
            self.diagram.set_network(sizes, list(frame.matrices), units, titles)

    def _show_scene(self, frame: LearnFrame) -> None:
        scene = self.vm.scene
        if scene == "stage":
            self._show_stage(frame)
        elif scene == "neuron":
            self._show_surface(frame)
        else:
            self._show_landscape(frame)

    def _show_stage(self, frame: LearnFrame) -> None:
        stages, offset = frame.views.stages, frame.views.stage_offset
        index = self.vm.stage
        if not 0 <= index - offset < len(stages):  # made while another stage (or none) was shown
            self.stage_title.setText("DATA AT A STAGE · computing…")
            return
        stage = stages[index - offset]
        polygon = plane_polygon(stage.plane) if stage.plane is not None else None
        if not self._unchanged("stage", (frame.run, index, stage.projected), stage.points, polygon):
            colours = np.concatenate([frame.point_colours[0] / 255.0, np.full((len(stage.points), 1), 0.92)], 1)
            self.scene.set_points(stage.points, colours.astype(np.float32), polygon, stage.axes)
        title, note = stage_caption(stage, frame.views)
        self.stage_title.setText(title)
        self.probe_note.setText(note)
        self.stage_name.setText(stage.name)

    def _show_surface(self, frame: LearnFrame) -> None:
        item = self.vm.selected_unit()
        if item is None:
            return
        heights = (item.values - item.low) / max(item.high - item.low, 1e-12)
        if not self._unchanged("surface", (frame.run, self.vm.neuron % len(frame.units)), heights):
            self.surface.set_surface(item.values, item.rgb, item.low, item.high)
        titles = column_titles(frame.views)
        layer = titles[item.layer] if item.layer < len(titles) else f"layer {item.layer}"
        what = "INPUT FEATURE" if item.layer == 0 else "NEURON"
        self.surface_title.setText(f"{what} {item.label} · {layer} · height and colour: "
                                   f"{item.low:.3g} to {item.high:.3g}")

    def _show_landscape(self, frame: LearnFrame) -> None:
        landscape = frame.landscape
        if landscape is None:
            self.landscape_title.setText("LOSS LANDSCAPE · computing…")
            return
        self.landscape.set_landscape(landscape, frame.landscape_point)
        loss = "MSE" if landscape.task == "regression" else "loss"
        point = frame.landscape_point
        here = f" · red: step {frame.views.step:,}, {loss} {point[2]:.3g}" if point is not None else ""
        self.landscape_title.setText(f"LOSS LANDSCAPE AROUND STEP {landscape.step:,} · ±{landscape.span:.2g}{here}")
        self.landscape_title.setToolTip(
            f"the training {loss} over a plane through the weights of step {landscape.step:,}, spanned by two "
            f"filter-normalized random directions (Li et al. 2018), {landscape.grid} x {landscape.grid} points; "
            f"height and colour: log loss. White: the training path ({len(landscape.path)} snapshots projected "
            "onto the plane); red: the moment shown")

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
