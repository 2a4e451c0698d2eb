"""The main window: panes in the original toolbox's arrangement, keys, menus, the status bar.

The window holds the view state (an immutable ViewState plus a few display flags);
user intent changes it, the panes are updated at once, and the new state goes to the
worker, whose next result re-renders the grid.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from pathlib import Path
from typing import Callable

import numpy as np
from PyQt6.QtCore import Qt, QTimer
from PyQt6.QtGui import QAction, QActionGroup, QKeyEvent
from PyQt6.QtWidgets import (QFileDialog, QInputDialog, QLabel, QMainWindow, QProgressBar, QSplitter,
                             QVBoxLayout, QWidget)

from deepvis.backprop import next_backprop_mode, next_filter
from deepvis.config import BACKPROP_FILTERS, BACKPROP_MODES, COLORMAPS, Config
from deepvis.paths import SAMPLE_IMAGES
from deepvis.pipeline import ViewState
from deepvis.sources import CameraSource, FrameSource, SourceError, open_source, open_source_with_fallback
from deepvis.zoo import LoadedModel, builtin_models
from deepvis.gui import keys
from deepvis.gui.background import BackgroundCall
from deepvis.gui.images import rgb_from_qimage
from deepvis.gui.panes import GridPane, HelpOverlay, ImagePane, LayerBar, PredictionsPane, UnitTrace
from deepvis.gui.unit_panel import ComputeTask, UnitPanel
from deepvis.gui.worker import Delivery, ModelInfo, PipelineWorker

log = logging.getLogger("deepvis.gui")

FILE_FILTER = "Images and videos (*.png *.jpg *.jpeg *.bmp *.webp *.tif *.tiff *.mp4 *.avi *.mov *.mkv *.webm *.m4v);;All files (*)"
RECORD_FPS = 10


def initial_view(config: Config, layer: str, unit: int = 0) -> ViewState:
    return ViewState(layer=layer, unit=unit, crop=config.crop, boost=config.boost, gamma=config.gamma,
                     colormap=config.colormap, backprop=config.backprop, backprop_filter=config.backprop_filter)


def describe_source(source: FrameSource) -> str:
    return source.name


class MainWindow(QMainWindow):
    def __init__(self, config: Config, loaded: LoadedModel, source: FrameSource, layer: str | None = None,
                 unit: int = 0, message: str | None = None,
                 model_loader: Callable[[str], LoadedModel] | None = None, camera_mode: bool | None = None):
        super().__init__()
        self.config = config
        self.loaded = loaded
        self.source = source
        self.layer_names = [l.name for l in loaded.layers]
        self.units: dict[str, int] = {}
        self.view = initial_view(config, layer or loaded.default_layer().name, unit)
        self.model_loader = model_loader or (lambda name: _load_model(name, config))
        self.file_spec: str | None = None if isinstance(source, CameraSource) else getattr(source, "path", None)
        # True while showing a camera, or the sample video that stands in for a missing one ('c').
        self.camera_mode = isinstance(source, CameraSource) if camera_mode is None else camera_mode
        self.zoom = "off"
        self.frozen = False
        self.last_delivery: Delivery | None = None
        self.frames_displayed = 0
        self.display_times: deque[float] = deque(maxlen=60)
        self.latency_ms = 0.0
        self._latency_origin: float | None = None
        self._tasks: set[BackgroundCall] = set()
        self.model_task: BackgroundCall | None = None
        self.source_task: BackgroundCall | None = None
        self.compute_task: ComputeTask | None = None
        self.recorder = None
        self.message = ""

        self.setWindowTitle("deepvis")
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._build_panes()
        self._build_status_bar()
        self._build_menus()
        self.resize(config.window.width, config.window.height)

        self.worker = PipelineWorker(loaded, source, self.view, self)
        self.worker.result_ready.connect(self._on_result)
        self.worker.model_ready.connect(self._on_model_ready)
        self.worker.failed.connect(self.show_message)
        self.unit_panel.set_model(loaded.name)
        self._apply_view(self.view, send=False)
        self.worker.start()
        self.show_message(message or loaded.message or f"{loaded.card.title} · {describe_source(source)}")

        self.status_timer = QTimer(self)
        self.status_timer.timeout.connect(self._refresh_status)
        self.status_timer.start(250)

    # ------------------------------------------------------------------ construction

    def _build_panes(self) -> None:
        self.input_pane = ImagePane("input", smooth=True, placeholder="waiting for a frame…")
        self.backprop_pane = ImagePane("backprop", smooth=True, placeholder="backprop off\n(b cycles the modes)")
        self.predictions = PredictionsPane()
        self.layer_bar = LayerBar()
        self.layer_bar.layer_clicked.connect(self.select_layer)
        self.grid_pane = GridPane()
        self.grid_pane.unit_clicked.connect(self.select_unit)
        self.grid_pane.unit_hovered.connect(self._on_hover)
        self.grid_pane.on_painted = self._on_grid_painted
        self.unit_pane = ImagePane("unit", smooth=False, placeholder="")
        self.unit_trace = UnitTrace()
        self.unit_panel = UnitPanel(self.config.store_path)
        self.unit_panel.compute_requested.connect(self.compute_unit)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.setSpacing(6)
        left_layout.addWidget(self.input_pane, 1)
        left_layout.addWidget(self.predictions)
        left_layout.addWidget(self.backprop_pane, 1)

        middle = QWidget()
        middle_layout = QVBoxLayout(middle)
        middle_layout.setContentsMargins(0, 0, 0, 0)
        middle_layout.setSpacing(6)
        middle_layout.addWidget(self.layer_bar)
        middle_layout.addWidget(self.grid_pane, 1)

        self.right = QWidget()
        right_layout = QVBoxLayout(self.right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.setSpacing(6)
        right_layout.addWidget(self.unit_pane, 2)
        right_layout.addWidget(self.unit_trace)
        right_layout.addWidget(self.unit_panel, 5)
        self.unit_panel.setAutoFillBackground(True)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setHandleWidth(6)
        self._user_sized = False  # once the user drags a splitter handle, resizing keeps their split
        self.splitter.splitterMoved.connect(lambda *_: setattr(self, "_user_sized", True))
        for widget, stretch in ((left, 1), (middle, 2), (self.right, 1)):
            self.splitter.addWidget(widget)
            self.splitter.setStretchFactor(self.splitter.count() - 1, stretch)
        central = QWidget()
        central.setObjectName("central")
        layout = QVBoxLayout(central)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.splitter)
        self.setCentralWidget(central)
        for widget in (left, middle, self.right, self.splitter, central):
            widget.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.help_overlay = HelpOverlay([(k, b.text) for b in keys.BINDINGS for k in [" / ".join(b.keys)]], central)
        self.panes = {"input": self.input_pane, "grid": self.grid_pane, "unit": self.unit_pane,
                      "backprop": self.backprop_pane, "predictions": self.predictions,
                      "unit panel": self.unit_panel}

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.status_label = QLabel()
        self.message_label = QLabel()
        self.message_label.setStyleSheet("color: #c9a45a;")
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(180)
        self.progress.hide()
        bar.addWidget(self.status_label)
        bar.addWidget(self.message_label, 1)
        bar.addPermanentWidget(self.progress)

    def _action(self, menu, text: str, slot, name: str | None = None, checkable: bool = False) -> QAction:
        """A menu entry; the key of a binding is shown, and handled by keyPressEvent (no duplicate shortcuts)."""
        key = keys.ACTION_KEYS.get(name or "")
        action = QAction(f"{text}\t{key}" if key else text, self)
        action.setCheckable(checkable)
        action.triggered.connect(lambda _checked=False: slot())
        menu.addAction(action)
        if name:
            self.actions_by_name[name] = action
        return action

    def _build_menus(self) -> None:
        self.actions_by_name: dict[str, QAction] = {}
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        self._action(file_menu, "Open image or video…", self.open_file_dialog)
        self._action(file_menu, "Open folder…", self.open_folder_dialog)
        self._action(file_menu, "Camera…", self.choose_camera)
        self._action(file_menu, "Camera vs files", self.toggle_camera, "toggle_camera")
        self._action(file_menu, "Next file", self.next_file, "next_file")
        self._action(file_menu, "Previous file", self.prev_file, "prev_file")
        file_menu.addSeparator()
        self._action(file_menu, "Save screenshot of the window…", lambda: self.save_screenshot_dialog(None))
        pane_menu = file_menu.addMenu("Save screenshot of a pane")
        for name in ("input", "grid", "unit", "backprop", "predictions", "unit panel"):
            self._action(pane_menu, name, lambda name=name: self.save_screenshot_dialog(name))
        self.record_action = self._action(file_menu, "Record the window to MP4…", self.toggle_recording,
                                          checkable=True)
        file_menu.addSeparator()
        self._action(file_menu, "Quit", self.close, "quit")

        self.model_menu = bar.addMenu("&Model")
        self.model_group = QActionGroup(self)
        self.model_actions: dict[str, QAction] = {}
        for card in builtin_models():
            action = self._action(self.model_menu, card.title, lambda name=card.name: self.switch_model(name),
                                  checkable=True)
            self.model_group.addAction(action)
            self.model_actions[card.name] = action
        self._check_model(self.loaded.name)

        view_menu = bar.addMenu("&View")
        for title, name, values, current in (
            ("Colormap", "colormap", COLORMAPS, self.view.colormap),
            ("Boost", "boost", keys.BOOST_STEPS, self.view.boost),
            ("Gamma", "gamma", keys.GAMMA_STEPS, self.view.gamma),
        ):
            sub = view_menu.addMenu(title)
            group = QActionGroup(self)
            for value in values:
                action = self._action(sub, f"{value:g}" if isinstance(value, float) else str(value),
                                      lambda name=name, value=value: self.change_view(**{name: value}),
                                      checkable=True)
                action.setChecked(value == current)
                group.addAction(action)
        self._action(view_menu, "Cycle gamma", self.cycle_gamma, "cycle_gamma")
        self._action(view_menu, "Cycle boost", self.cycle_boost, "cycle_boost")
        self._action(view_menu, "Crop vs stretch", self.toggle_crop, "toggle_crop")
        view_menu.addSeparator()
        layout_menu = view_menu.addMenu("Layout")
        self._action(layout_menu, "Predictions", self.toggle_predictions, "toggle_predictions", checkable=True)
        self._action(layout_menu, "Per-unit panel", self.toggle_unit_panel, "toggle_unit_panel", checkable=True)
        self._action(layout_menu, "Zoom", self.cycle_zoom, "cycle_zoom")
        self._action(layout_menu, "Equal pane widths", self.reset_layout)
        self.actions_by_name["toggle_predictions"].setChecked(True)
        self.actions_by_name["toggle_unit_panel"].setChecked(True)
        view_menu.addSeparator()
        self._action(view_menu, "Freeze the frame", self.toggle_freeze, "toggle_freeze")
        self._action(view_menu, "Pause the source", self.toggle_pause, "toggle_pause")
        self._action(view_menu, "Reset the view", self.reset, "reset")

        unit_menu = bar.addMenu("&Unit")
        for binding in keys.BINDINGS:
            if binding.action.startswith("move_") or binding.action.endswith("_layer"):
                self._action(unit_menu, binding.text.capitalize(), getattr(self, binding.action), binding.action)
        unit_menu.addSeparator()
        self._action(unit_menu, "Compute the unit's images now", self.compute_unit, "compute_unit")

        back_menu = bar.addMenu("&Backprop")
        self._action(back_menu, "Cycle modes", self.cycle_backprop, "cycle_backprop")
        modes = back_menu.addMenu("Mode")
        for mode in BACKPROP_MODES:
            self._action(modes, mode, lambda mode=mode: self.change_view(backprop=mode))
        self._action(back_menu, "Cycle filter", self.cycle_filter, "cycle_filter")
        filters = back_menu.addMenu("Filter")
        for name in BACKPROP_FILTERS:
            self._action(filters, name, lambda name=name: self.change_view(backprop_filter=name))
        self._action(back_menu, "Freeze the origin", self.toggle_origin, "toggle_origin")
        self._action(back_menu, "Backward signal in the grid", self.toggle_backprop_in_grid, "toggle_backprop_in_grid")

        help_menu = bar.addMenu("&Help")
        self._action(help_menu, "Keys", self.toggle_help, "toggle_help")

    # ------------------------------------------------------------------ the view state

    def change_view(self, **changes) -> None:
        self._apply_view(self.view.with_changes(**changes))

    def _apply_view(self, view: ViewState, send: bool = True) -> None:
        """Update what can be shown at once (labels, outline, unit panel) and tell the worker."""
        self.view = view
        if send:
            self.worker.set_view(view)
        self.layer_bar.set_layers(self.layer_names, view.layer)
        self.grid_pane.set_selected(view.unit if self.zoom == "off" else None)
        self.grid_pane.title = f"{view.layer}" + (" · backward signal" if view.backprop_in_grid else "")
        self.unit_pane.title = f"unit {view.layer}:{view.unit}"
        self.unit_pane.badge = ""
        self.backprop_pane.title = f"backprop · {view.backprop} {view.backprop_filter}" if view.backprop != "off" else "backprop"
        if view.backprop == "off":
            self.backprop_pane.set_placeholder("backprop off\n(b cycles the modes)")
        if self.last_delivery is not None and (self.last_delivery.result.view.layer, self.last_delivery.result.view.unit) != (view.layer, view.unit):
            self.unit_pane.badge = "updating…"
        self.unit_pane.update()
        self.unit_panel.show_unit(view.layer, view.unit)
        self._refresh_status()

    def n_units(self) -> int | None:
        count = self.units.get(self.view.layer)
        if count is None and self.last_delivery is not None and self.last_delivery.result.view.layer == self.view.layer:
            count = self.last_delivery.result.layout.n_units
        return count

    def select_unit(self, unit: int) -> None:
        count = self.n_units()
        if count is not None:
            unit = min(max(unit, 0), count - 1)
        self.change_view(unit=max(unit, 0))

    def select_layer(self, layer: str) -> None:
        count = self.units.get(layer)
        unit = self.view.unit if count is None else min(self.view.unit, count - 1)
        self.change_view(layer=layer, unit=unit)

    def _move(self, d_row: int, d_col: int) -> None:
        layout = None
        if self.last_delivery is not None and self.last_delivery.result.view.layer == self.view.layer:
            layout = self.last_delivery.result.layout
        if layout is None:
            self.select_unit(self.view.unit + d_col)
            return
        self.select_unit(layout.move(self.view.unit, d_row, d_col))

    # the key actions (keys.BINDINGS names them)
    def move_left(self): self._move(0, -1)
    def move_right(self): self._move(0, 1)
    def move_up(self): self._move(-1, 0)
    def move_down(self): self._move(1, 0)
    def move_left_3(self): self._move(0, -3)
    def move_right_3(self): self._move(0, 3)
    def move_up_3(self): self._move(-3, 0)
    def move_down_3(self): self._move(3, 0)

    def _step_layer(self, step: int) -> None:
        names = self.layer_names
        index = names.index(self.view.layer) if self.view.layer in names else 0
        self.select_layer(names[(index + step) % len(names)])

    def prev_layer(self): self._step_layer(-1)
    def next_layer(self): self._step_layer(1)

    def toggle_freeze(self) -> None:
        self.frozen = not self.frozen
        self.worker.set_frozen(self.frozen)
        self.show_message("frame frozen (f)" if self.frozen else "frame live")

    def toggle_pause(self) -> None:
        self.source.paused = not self.source.paused
        self.show_message("source paused (space)" if self.source.paused else "source running")

    def next_file(self) -> None:
        self.source.next_item()

    def prev_file(self) -> None:
        self.source.prev_item()

    def toggle_crop(self) -> None:
        self.change_view(crop="stretch" if self.view.crop == "crop" else "crop")

    def cycle_backprop(self) -> None:
        mode, filter_name = next_backprop_mode(self.view.backprop, self.view.backprop_filter)
        self.change_view(backprop=mode, backprop_filter=filter_name)

    def cycle_filter(self) -> None:
        self.change_view(backprop_filter=next_filter(self.view.backprop_filter))

    def toggle_origin(self) -> None:
        origin = None if self.view.backprop_origin else (self.view.layer, self.view.unit)
        self.change_view(backprop_origin=origin)
        self.show_message(f"backprop origin frozen at {origin[0]}:{origin[1]}" if origin else "backprop origin follows the selection")

    def toggle_backprop_in_grid(self) -> None:
        self.change_view(backprop_in_grid=not self.view.backprop_in_grid)

    def cycle_zoom(self) -> None:
        self.zoom = keys.ZOOM_MODES[(keys.ZOOM_MODES.index(self.zoom) + 1) % len(keys.ZOOM_MODES)]
        self.grid_pane.set_selected(self.view.unit if self.zoom == "off" else None)
        if self.last_delivery is not None:
            self._show_grid(self.last_delivery.result)

    def cycle_gamma(self) -> None:
        self.change_view(gamma=keys.next_step(keys.GAMMA_STEPS, self.view.gamma))

    def cycle_boost(self) -> None:
        self.change_view(boost=keys.next_step(keys.BOOST_STEPS, self.view.boost))

    def toggle_predictions(self) -> None:
        self.predictions.setVisible(not self.predictions.isVisible())
        self.actions_by_name["toggle_predictions"].setChecked(self.predictions.isVisible())

    def toggle_unit_panel(self) -> None:
        self.right.setVisible(not self.right.isVisible())
        self.actions_by_name["toggle_unit_panel"].setChecked(self.right.isVisible())

    def toggle_help(self) -> None:
        self.help_overlay.setGeometry(self.centralWidget().rect())
        self.help_overlay.setVisible(not self.help_overlay.isVisible())
        self.help_overlay.raise_()

    def reset(self) -> None:
        if self.help_overlay.isVisible():
            self.help_overlay.hide()
            return
        if self.frozen:
            self.toggle_freeze()
        self.zoom = "off"
        self.predictions.show()
        self.right.show()
        self._apply_view(initial_view(self.config, self.loaded.default_layer().name))
        self.show_message("view reset")

    def reset_layout(self) -> None:
        self._user_sized = False
        self._fit_splitter()

    def _fit_splitter(self) -> None:
        """The grid (square) gets about the height of the window; the side columns share the rest."""
        width, height = self.splitter.width(), self.splitter.height()
        if width <= 0 or height <= 0:
            return
        middle = int(min(max(height - 10, width * 0.42), width * 0.6))
        side = (width - middle) // 2
        self.splitter.setSizes([side, middle, width - middle - side])

    def quit(self) -> None:
        self.close()

    # ------------------------------------------------------------------ keys

    def keyPressEvent(self, event: QKeyEvent) -> None:
        action = keys.KEYMAP.get(keys.key_name(event.key(), event.text()))
        if action is None:
            super().keyPressEvent(event)
            return
        getattr(self, action)()
        event.accept()

    # ------------------------------------------------------------------ results from the worker

    def _on_result(self) -> None:
        delivery = self.worker.take()
        if delivery is None:
            return
        result = delivery.result
        if delivery.model_name != self.loaded.name and self.units:
            return  # from the model just replaced
        self.last_delivery = delivery
        self._latency_origin = delivery.frame_timestamp
        self.input_pane.set_array(result.input_rgb)
        self.input_pane.title = f"input · {delivery.frame_label}"
        self.predictions.set_predictions(result.top)
        if result.view.layer == self.view.layer:
            count = result.layout.n_units
            if self.view.unit >= count:
                self.select_unit(count - 1)
        self._show_grid(result)
        if (result.view.layer, result.view.unit) == (self.view.layer, self.view.unit):
            self.unit_pane.set_array(result.unit_rgb)
            self.unit_pane.badge = ""
            unit = min(result.view.unit, len(result.unit_max) - 1)
            self.unit_trace.add((result.view.layer, unit), float(result.unit_max[unit]))
        if result.backprop_rgb is not None:
            self.backprop_pane.set_array(result.backprop_rgb)
        elif self.view.backprop != "off":
            self.backprop_pane.set_placeholder(f"{self.view.backprop}: waiting for the backprop engine…")
        for notice in result.notices:
            self.show_message(notice)
        now = time.perf_counter()
        self.display_times.append(now)
        self.frames_displayed += 1

    def _show_grid(self, result) -> None:
        if self.zoom == "unit":
            self.grid_pane.set_grid(result.unit_rgb, None, result.view.layer, result.unit_max)
        elif self.zoom == "backprop" and result.backprop_rgb is not None:
            self.grid_pane.set_grid(result.backprop_rgb, None, result.view.layer, result.unit_max)
        else:
            self.grid_pane.set_grid(result.grid, result.layout, result.view.layer, result.unit_max)
        self.grid_pane.title = {"off": result.view.layer, "unit": f"{result.view.layer}:{result.view.unit} · zoom",
                                "backprop": f"{result.view.layer}:{result.view.unit} · backprop zoom"}[self.zoom]
        if self.view.backprop_in_grid and self.zoom == "off":
            self.grid_pane.title += " · backward signal"

    def _on_grid_painted(self) -> None:
        if self._latency_origin is not None:
            latency = (time.perf_counter() - self._latency_origin) * 1000.0
            self.latency_ms = latency if self.latency_ms == 0 else 0.8 * self.latency_ms + 0.2 * latency
            self._latency_origin = None

    def _on_hover(self, unit) -> None:
        self.message_label.setText(self.grid_pane.hover_text(unit) if unit is not None else self.message)

    def measured_fps(self) -> float:
        times = self.display_times
        if len(times) < 2 or time.perf_counter() - times[-1] > 2.0:
            return 0.0
        return (len(times) - 1) / (times[-1] - times[0])

    def status_text(self) -> str:
        view = self.view
        back = "off" if view.backprop == "off" else f"{view.backprop}" + (
            f" {view.backprop_filter}" if view.backprop_filter != "raw" else "")
        if view.backprop_origin:
            back += f" from {view.backprop_origin[0]}:{view.backprop_origin[1]}"
        parts = [f"fwd {view.layer}:{view.unit}", f"back: {back}", f"boost {view.boost:g}/{view.gamma:g}",
                 f"{self.measured_fps():.1f} FPS", f"{self.latency_ms:.0f} ms"]
        flags = [name for name, on in (("frozen", self.frozen), ("paused", self.source.paused),
                                        ("stretch", view.crop == "stretch"), ("REC", self.recorder is not None)) if on]
        return " | ".join(parts + flags)

    def _refresh_status(self) -> None:
        self.status_label.setText(self.status_text())

    def show_message(self, text: str) -> None:
        self.message = text
        self.message_label.setText(text)
        if text:
            log.info(text)

    # ------------------------------------------------------------------ models

    def _check_model(self, name: str) -> None:
        action = self.model_actions.get(name)
        if action is not None:
            action.setChecked(True)
        else:
            for action in self.model_actions.values():
                action.setChecked(False)

    def switch_model(self, name: str) -> None:
        """Load a model in the background; the current one keeps running until it is ready."""
        if self.model_task is not None and self.model_task.is_running():
            self.show_message("a model is already loading")
            self._check_model(self.loaded.name)
            return
        self.show_message(f"loading {name}…")
        self.progress.setRange(0, 0)
        self.progress.show()
        task = BackgroundCall(lambda: self.model_loader(name), "model loader", self)
        task.done.connect(self._on_model_loaded)
        task.failed.connect(self._on_model_failed)
        self.model_task = task
        task.start()

    def _on_model_loaded(self, loaded: LoadedModel) -> None:
        self.progress.hide()
        self.loaded = loaded
        self.units = {}
        self.layer_names = [l.name for l in loaded.layers]
        self._check_model(loaded.name)
        view = self.view.with_changes(layer=loaded.default_layer().name, unit=0, backprop_origin=None)
        self.worker.set_model(loaded, view)
        self.unit_panel.set_model(loaded.name)
        self._apply_view(view, send=False)
        self.show_message(loaded.message or f"{loaded.card.title}")

    def _on_model_failed(self, message: str) -> None:
        self.progress.hide()
        self._check_model(self.loaded.name)
        self.show_message(message)

    def _on_model_ready(self, info: ModelInfo) -> None:
        if info.loaded is self.loaded:
            self.units = dict(info.units)

    # ------------------------------------------------------------------ sources

    def open_path(self, path: str) -> None:
        self._switch_source(lambda: open_source(path).start(), file_spec=path)

    def open_camera(self, index: int) -> None:
        def opener():
            source, message = open_source_with_fallback("camera", index)
            return source, message
        self._switch_source(opener, camera=True)

    def _switch_source(self, opener, file_spec: str | None = None, camera: bool = False) -> None:
        """Open a source off the GUI thread (a camera can take seconds to answer), then swap."""
        def run():
            result = opener()
            return result if isinstance(result, tuple) else (result, None)

        task = BackgroundCall(run, "source opener", self)
        task.done.connect(lambda pair: self._on_source_opened(pair[0], pair[1], file_spec, camera))
        task.failed.connect(self.show_message)
        self._tasks.add(task)
        task.done.connect(lambda _=None, t=task: self._tasks.discard(t))
        task.failed.connect(lambda _=None, t=task: self._tasks.discard(t))
        self.source_task = task
        task.start()

    def _on_source_opened(self, source: FrameSource, message: str | None, file_spec: str | None,
                          camera: bool) -> None:
        old, self.source = self.source, source
        self.camera_mode = camera
        self.worker.set_source(source)
        if file_spec is not None:
            self.file_spec = file_spec
        self.show_message(message or f"showing {describe_source(source)}")
        QTimer.singleShot(0, lambda: old.stop(timeout=2.0))

    def toggle_camera(self) -> None:
        if self.camera_mode:
            self.open_path(str(self.file_spec or SAMPLE_IMAGES))
        else:
            self.open_camera(self.config.camera_index)

    def open_file_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open an image or a video", "", FILE_FILTER)
        if path:
            self.open_path(path)

    def open_folder_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a folder of images")
        if path:
            self.open_path(path)

    def choose_camera(self) -> None:
        index, ok = QInputDialog.getInt(self, "Camera", "Camera index:", self.config.camera_index, 0, 64)
        if ok:
            self.config = self.config.replace(camera_index=index)
            self.open_camera(index)

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        urls = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if urls:
            self.open_path(urls[0])
            event.acceptProposedAction()

    # ------------------------------------------------------------------ unit images on demand

    def compute_unit(self) -> None:
        if self.compute_task is not None and self.compute_task.isRunning():
            self.show_message("a unit is already being computed")
            return
        store = self.unit_panel.store
        if store is None:
            self.show_message(self.unit_panel.store_error or "no unit store")
            return
        layer, unit = self.view.layer, self.view.unit
        task = ComputeTask(self.worker.request_model_copy(), layer, unit, store, self)
        task.progress.connect(lambda step, total: self.unit_panel.show_progress(step, total, f"{layer}:{unit}  {step}/{total}"))
        task.finished_ok.connect(lambda _images: self._on_unit_computed(layer, unit))
        task.failed.connect(self._on_unit_failed)
        self.compute_task = task
        self.unit_panel.show_progress(0, 1, f"{layer}:{unit}  preparing…")
        self.show_message(f"computing the images of {layer}:{unit} in the background")
        task.start()

    def _on_unit_computed(self, layer: str, unit: int) -> None:
        self.unit_panel.hide_progress()
        self.unit_panel.refresh()
        self.show_message(f"images of {layer}:{unit} computed")

    def _on_unit_failed(self, message: str) -> None:
        self.unit_panel.hide_progress()
        self.show_message(message)

    # ------------------------------------------------------------------ screenshots and recording

    def grab_pane(self, name: str | None):
        widget = self if name is None else self.panes[name]
        return widget.grab()

    def save_screenshot(self, path: str | Path, pane: str | None = None) -> Path:
        path = Path(path)
        if path.suffix.lower() != ".png":
            path = path.with_suffix(".png")
        if not self.grab_pane(pane).save(str(path), "PNG"):
            raise OSError(f"cannot write {path}")
        return path

    def save_screenshot_dialog(self, pane: str | None) -> None:
        default = f"deepvis-{pane or 'window'}.png".replace(" ", "-")
        path, _ = QFileDialog.getSaveFileName(self, "Save a screenshot", default, "PNG images (*.png)")
        if path:
            try:
                self.show_message(f"saved {self.save_screenshot(path, pane)}")
            except OSError as error:
                self.show_message(str(error))

    def toggle_recording(self) -> None:
        if self.recorder is not None:
            self.stop_recording()
            return
        path, _ = QFileDialog.getSaveFileName(self, "Record the window", "deepvis.mp4", "MP4 video (*.mp4)")
        if path:
            self.start_recording(path)
        else:
            self.record_action.setChecked(False)

    def start_recording(self, path: str | Path) -> None:
        import cv2

        path = Path(path).with_suffix(".mp4")
        size = (self.width() // 2 * 2, self.height() // 2 * 2)
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), RECORD_FPS, size)
        if not writer.isOpened():
            self.show_message(f"cannot record to {path}")
            self.record_action.setChecked(False)
            return
        self.recorder = (writer, size, path)
        self.record_timer = QTimer(self)
        self.record_timer.timeout.connect(self._record_frame)
        self.record_timer.start(1000 // RECORD_FPS)
        self.record_action.setChecked(True)
        self.show_message(f"recording to {path}")

    def _record_frame(self) -> None:
        import cv2

        writer, size, _ = self.recorder
        rgb = rgb_from_qimage(self.grab().toImage())
        if (rgb.shape[1], rgb.shape[0]) != size:
            rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))

    def stop_recording(self) -> Path | None:
        if self.recorder is None:
            return None
        self.record_timer.stop()
        writer, _, path = self.recorder
        writer.release()
        self.recorder = None
        self.record_action.setChecked(False)
        self.show_message(f"recorded {path}")
        return path

    # ------------------------------------------------------------------ shutdown

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if not self._user_sized:
            QTimer.singleShot(0, self._fit_splitter)  # after the layouts have given the splitter its size
        if self.help_overlay.isVisible():
            self.help_overlay.setGeometry(self.centralWidget().rect())

    def shutdown(self) -> None:
        """Stop every thread this window started; safe to call twice."""
        self.status_timer.stop()
        self.stop_recording()
        if self.compute_task is not None:
            self.compute_task.stop()
            self.compute_task.wait(10000)
        self.worker.stop()
        self.unit_panel.pool.waitForDone(5000)
        self.source.stop()

    def closeEvent(self, event) -> None:
        self.shutdown()
        super().closeEvent(event)


def _load_model(name: str, config: Config) -> LoadedModel:
    from deepvis.zoo import load_model

    return load_model(name, None, config.device)
