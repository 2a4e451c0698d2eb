"""The Live mode: a source streamed through a CNN, in the original toolbox's pane layout.

The view model (deepvis.live.view_model) holds what the user looks at; the panes
observe it and write intent back; every change goes to the worker, whose next
result re-renders the grid. The worker runs only while this mode is visible.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QAction, QActionGroup
from PyQt6.QtWidgets import QMenu, QMenuBar, QSizePolicy, QVBoxLayout, QWidget

from deepvis.config import BACKPROP_FILTERS, BACKPROP_MODES, COLORMAPS, Config
from deepvis.live import keys
from deepvis.live.unit_names import unit_title
from deepvis.live.view_model import Display, LiveViewModel
from deepvis.live.pipeline import ViewState
from deepvis.sources import FolderSource, FrameSource, ImageSource
from deepvis.zoo import LoadedModel
from deepvis.gui.mode import ModeContext, WorkerMode
from deepvis.gui.rate import FrameRate
from deepvis.gui.panes import GridPane, ImagePane, LayerBar, PredictionsPane, UnitTrace
from deepvis.gui.live.frame_hold import FrameHold
from deepvis.gui.live.layout import ColumnSplitter, ask_png_path, save_widget_png
from deepvis.gui.live.accent_jobs import AccentJobs
from deepvis.gui.live.unit_jobs import UnitImageJobs
from deepvis.gui.live.model_switch import ModelSwitch
from deepvis.gui.live.source_switch import SourceSwitch
from deepvis.gui.live.unit_panel import UnitPanel
from deepvis.gui.live.worker import Delivery, ModelInfo, PipelineWorker
from deepvis.gui.controls import column

PANE_NAMES = ("input", "grid", "unit", "backprop", "predictions", "unit panel")


@dataclass
class LiveStart:
    """How the Live mode starts: given by `deepvis` / `snapshot` through ModeContext.options["live"]."""

    loaded: LoadedModel
    source: FrameSource
    layer: str | None = None
    unit: int = 0
    message: str | None = None
    model_loader: Callable[[str], LoadedModel] | None = None
    camera_mode: bool | None = None  # True while showing a camera, or the sample video standing in for one


class LiveMode(WorkerMode):
    name = "live"
    title = "Live"

    def __init__(self, context: ModeContext, parent: QWidget | None = None):
        super().__init__(context, parent)
        start: LiveStart = context.options["live"]
        config: Config = context.config
        self.config = config
        self.models = ModelSwitch(start.loaded, config, context.show_message, start.model_loader, self)
        self.last_delivery: Delivery | None = None
        self.frames_displayed = 0
        self.rate = FrameRate()
        self._latency_origin: float | None = None
        self.model_failed_message: str | None = None

        self.model = LiveViewModel(config, [l.name for l in start.loaded.layers],
                                   start.layer or start.loaded.default_layer().name, start.unit)
        self.sources = SourceSwitch(start.source, start.camera_mode, config, self.context.show_message, self)
        self.sources.accept_drops(self)  # a file or folder dropped on the mode opens
        self._build_panes()
        self._build_actions()

        self.worker = PipelineWorker(self.loaded, start.source, self.model.view, self,
                                     track_top_frames=config.live_top_frames)
        self.sources.switched.connect(self.worker.set_source)
        self.hold = FrameHold(self.worker, self.sources, lambda: self.model.display.frozen)
        self.sources.switched.connect(self.hold.source_switched)
        if not config.live_top_frames:
            self.unit_panel.set_live_off()
        self.worker.result_ready.connect(self._on_result)
        self.worker.model_ready.connect(self._on_model_ready)
        self.worker.failed.connect(self.context.show_message)
        self.worker.model_failed.connect(self._on_worker_model_failed)
        self.unit_jobs = UnitImageJobs(self.unit_panel, self.worker, lambda: self.loaded, self.context.show_message,
                                       auto=config.auto_unit_images, parent=self)
        self._show_model_store()
        self.accent_jobs = AccentJobs(self.unit_panel, self.worker, lambda: self.loaded, self.context.show_message,
                                      give_way=self.unit_jobs.give_way, parent=self)
        self.accent = self.accent_jobs.state
        self.unit_jobs.hold_background = lambda: self.accent.running

        self.model.view_changed.connect(self._on_view_changed)
        self.model.display_changed.connect(self._on_display_changed)
        self.model.layers_changed.connect(lambda names: self.layer_bar.set_layers(names, self.view.layer))
        self.model.message.connect(self.context.show_message)
        self.model.requested.connect(self._on_request)
        self.share = context.live
        self.share.unit_requested.connect(self._on_unit_requested)
        self.share.publish_model(self.loaded, self.worker.request_model_copy)
        self._on_view_changed(self.view, send=False)
        self.initial_message = start.message or self.loaded.message or f"{self.loaded.card.title} · {self.source.name}"

    # ------------------------------------------------------------------ state read by the shell and tests

    @property
    def source(self) -> FrameSource:
        return self.sources.source

    @property
    def view(self) -> ViewState:
        return self.model.view

    def panel_key(self, view: ViewState) -> tuple[str, int]:
        """The unit the per-unit panel shows for a view: a softmax unit shows its class's logit's images."""
        return self.loaded.images_layer(view.layer), view.unit

    def unit_title(self, layer: str, unit: int) -> str:
        """layer:unit, with the class name of an output unit (fc:281 · tabby)."""
        return unit_title(self.loaded, layer, unit, self.model.unit_counts.get(layer))

    # ------------------------------------------------------------------ construction

    def _build_panes(self) -> None:
        self.input_pane = ImagePane("input", smooth=True, placeholder="waiting for a frame…")
        self.backprop_pane = ImagePane("backprop", smooth=True, placeholder="backprop off\n(b cycles the modes)")
        self.predictions = PredictionsPane()
        self.layer_bar = LayerBar()
        self.layer_bar.layer_clicked.connect(self.model.select_layer)
        self.grid_pane = GridPane()
        self.grid_pane.unit_clicked.connect(self.model.select_unit)
        self.grid_pane.hint.connect(self.context.show_hint)
        self.grid_pane.unit_name = self.unit_title
        self.grid_pane.on_painted = self._on_grid_painted
        self.unit_pane = ImagePane("unit", smooth=False, placeholder="")
        self.unit_trace = UnitTrace()
        self.unit_panel = UnitPanel(self.config.store_path)

        left = column((self.input_pane, 1), (self.predictions, 0), (self.backprop_pane, 1))
        middle = column((self.layer_bar, 0), (self.grid_pane, 1))
        self.right = column((self.unit_pane, 2), (self.unit_trace, 0), (self.unit_panel, 5))
        self.unit_panel.setAutoFillBackground(True)
        # The right column is shared by stretch alone: what the panel shows (images, the empty page,
        # a progress bar) never moves the panes above it.
        for widget in (self.unit_pane, self.unit_panel):
            widget.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Ignored)

        self.splitter = ColumnSplitter([(left, 1), (middle, 2), (self.right, 1)])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.splitter)
        for widget in (left, middle, self.right, self.splitter, self):
            widget.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.panes = {"input": self.input_pane, "grid": self.grid_pane, "unit": self.unit_pane,
                      "backprop": self.backprop_pane, "predictions": self.predictions,
                      "unit panel": self.unit_panel}

    def _action(self, text: str, slot, name: str | None = None, checkable: bool = False) -> QAction:
        """A menu entry; a bound key is shown beside it and handled by the key table (no shortcuts)."""
        key = keys.ACTION_KEYS.get(name or "")
        action = QAction(f"{text}\t{key}" if key else text, self)
        action.setCheckable(checkable)
        action.triggered.connect(lambda _checked=False: slot())
        if name:
            self.actions_by_name[name] = action
        return action

    def _run(self, name: str) -> Callable[[], None]:
        return lambda: self.model.run(name)

    def _build_actions(self) -> None:
        self.actions_by_name: dict[str, QAction] = {}
        run = self._run
        self.file_entries = [
            self._action("Open image or video…", self.sources.open_file_dialog),
            self._action("Open folder…", self.sources.open_folder_dialog),
            self._action("Camera…", self.sources.choose_camera),
            self._action("Camera vs files", run("toggle_camera"), "toggle_camera"),
            self._action("Next file", run("next_file"), "next_file"),
            self._action("Previous file", run("prev_file"), "prev_file"),
            None,
            self._submenu("Save screenshot of a pane", [
                self._action(name, lambda name=name: self.save_pane_dialog(name)) for name in PANE_NAMES]),
        ]
        self.view_entries: list[QAction | None] = []
        for title, name, values, current in (
            ("Colormap", "colormap", COLORMAPS, self.view.colormap),
            ("Boost", "boost", keys.BOOST_STEPS, self.view.boost),
            ("Gamma", "gamma", keys.GAMMA_STEPS, self.view.gamma),
        ):
            self.view_entries.append(self._choice_menu(title, name, values, current))
        self.view_entries += [
            self._action("Cycle gamma", run("cycle_gamma"), "cycle_gamma"),
            self._action("Cycle boost", run("cycle_boost"), "cycle_boost"),
            self._action("Crop vs stretch", run("toggle_crop"), "toggle_crop"),
            None,
            self._submenu("Layout", [
                self._action("Predictions", run("toggle_predictions"), "toggle_predictions", checkable=True),
                self._action("Per-unit panel", run("toggle_unit_panel"), "toggle_unit_panel", checkable=True),
                self._action("Zoom", run("cycle_zoom"), "cycle_zoom"),
                self._action("Equal pane widths", self.splitter.reset)]),
            None,
            self._action("Freeze the frame", run("toggle_freeze"), "toggle_freeze"),
            self._action("Pause the source", run("toggle_pause"), "toggle_pause"),
            self._action("Reset the view", run("reset"), "reset"),
            None,
        ]
        self.actions_by_name["toggle_predictions"].setChecked(True)
        self.actions_by_name["toggle_unit_panel"].setChecked(True)
        self.models.menu_actions(self._action)
        self.models.progress.connect(self.progress)
        self.models.switched.connect(self._on_model_switched)

    def _submenu(self, title: str, actions: list[QAction]) -> QAction:
        menu = QMenu(title, self)
        menu.addActions(actions)
        return menu.menuAction()

    def _choice_menu(self, title: str, name: str, values, current) -> QAction:
        """A submenu of exclusive choices for one ViewState field."""
        actions = []
        for value in values:
            action = self._action(f"{value:g}" if isinstance(value, float) else str(value),
                                  lambda name=name, value=value: self.model.change(**{name: value}),
                                  checkable=True)
            action.setChecked(value == current)
            actions.append(action)
        menu_action = self._submenu(title, actions)
        group = QActionGroup(menu_action.menu())
        for action in actions:
            group.addAction(action)
        return menu_action

    def shared_actions(self, menu: str) -> list:
        return {"File": self.file_entries, "View": self.view_entries}.get(menu, [])

    def add_menus(self, menu_bar: QMenuBar) -> list:
        model_menu = menu_bar.addMenu("&Model")
        for action in self.models.actions.values():
            model_menu.addAction(action)
        model_menu.addSeparator()
        model_menu.addAction(self._action("Load weights…", self.models.load_weights_dialog))
        unit_menu = menu_bar.addMenu("&Unit")
        for binding in keys.BINDINGS:
            if binding.action.startswith("move_") or binding.action.endswith("_layer"):
                unit_menu.addAction(self._action(binding.text.capitalize(), self._run(binding.action), binding.action))
        unit_menu.addSeparator()
        unit_menu.addAction(self._action("Compute the unit's images now", self.unit_jobs.compute_now, "compute_unit"))
        unit_menu.addAction(self._action("Compute its MACO image now, and where the unit looks",
                                         lambda: self.unit_jobs.compute_now("maco")))
        unit_menu.addAction(self._action("Accentuate this frame for the unit", self.accentuate, "accentuate_unit"))
        unit_menu.addAction(self._action("Stop the accentuation", self.accent_jobs.stop_from_menu))
        unit_menu.addAction(self._action("Save the accentuation…", lambda: self.accent_jobs.save_dialog(self)))
        unit_menu.addAction(self._action("DeepDream this frame", lambda: self.send_to_dream(False), "dream_frame"))
        unit_menu.addAction(self._action("DeepDream this frame on the unit", lambda: self.send_to_dream(True),
                                         "dream_unit"))
        unit_menu.addSeparator()
        unit_menu.addAction(self._action("Reset the top-9 seen live", self.unit_jobs.reset_top_frames))
        unit_menu.addAction(self._action("Save the top-9 seen live into the store", self._save_top_frames))
        back_menu = menu_bar.addMenu("&Backprop")
        back_menu.addAction(self._action("Cycle modes", self._run("cycle_backprop"), "cycle_backprop"))
        modes = back_menu.addMenu("Mode")
        for mode in BACKPROP_MODES:
            modes.addAction(self._action(mode, lambda mode=mode: self.model.change(backprop=mode)))
        back_menu.addAction(self._action("Cycle filter", self._run("cycle_filter"), "cycle_filter"))
        filters = back_menu.addMenu("Filter")
        for name in BACKPROP_FILTERS:
            filters.addAction(self._action(name, lambda name=name: self.model.change(backprop_filter=name)))
        back_menu.addAction(self._action("Freeze the origin", self._run("toggle_origin"), "toggle_origin"))
        back_menu.addAction(self._action("Backward signal in the grid", self._run("toggle_backprop_in_grid"),
                                         "toggle_backprop_in_grid"))
        self.model_menu = model_menu
        return [model_menu, unit_menu, back_menu]

    # ------------------------------------------------------------------ the shell's interface

    def handle_key(self, name: str) -> bool:
        return self.model.press(name)

    def key_help(self) -> list[tuple[str, str]]:
        return [(" / ".join(b.keys), b.text) for b in keys.BINDINGS]

    def activate(self) -> None:
        if not self._stopped:
            self.sources.resume()
        super().activate()

    def shown(self, first: bool) -> None:
        if first:
            self.context.show_message(self.initial_message)
        self.unit_jobs.set_active(True)

    def deactivate(self) -> None:
        """Hidden: the worker waits and the source stops decoding (the user's pause is kept aside)."""
        self.sources.pause_hidden()
        super().deactivate()
        self.unit_jobs.set_active(False)
        self.accent_jobs.stop()

    def ready(self) -> bool:
        d = self.last_delivery
        return d is not None and d.result.view == self.view and self.unit_panel.shown_key == self.panel_key(self.view)

    def status_text(self) -> str:
        view = self.view
        back = "off" if view.backprop == "off" else f"{view.backprop}" + (
            f" {view.backprop_filter}" if view.backprop_filter != "raw" else "")
        if view.backprop_origin:
            back += f" from {view.backprop_origin[0]}:{view.backprop_origin[1]}"
        # A still image is computed once per change of view: a frame rate would read 0.
        still = isinstance(self.source, (ImageSource, FolderSource))
        rate = "still image" if still else f"{self.rate.fps(time.perf_counter()):.1f} FPS"
        parts = [f"fwd {view.layer}:{view.unit}", f"back: {back}", f"boost {view.boost:g}/{view.gamma:g}",
                 rate, f"{self.rate.latency_ms:.0f} ms"]
        flags = [name for name, on in (("frozen", self.model.display.frozen),
                                        ("paused", self.source.paused and self.active),
                                        ("stretch", view.crop == "stretch")) if on]
        return " | ".join(parts + flags)

    def shutdown(self) -> None:
        """Stop every thread this mode started; safe to call twice."""
        self.unit_jobs.shutdown()
        self.accent_jobs.shutdown()
        super().shutdown()
        self.unit_panel.pool.waitForDone(5000)
        self.sources.stop()

    # ------------------------------------------------------------------ the view model's events

    def _on_view_changed(self, view: ViewState, send: bool = True) -> None:
        """Update what can be shown at once (labels, outline, unit panel) and tell the worker."""
        if send:
            self.worker.set_view(view)
        self.share.publish_selection(view.layer, view.unit)
        zoom = self.model.display.zoom
        self.layer_bar.set_layers(self.model.layers, view.layer)
        self.grid_pane.set_selected(view.unit if zoom == "off" else None)
        self.grid_pane.title = f"{view.layer}" + (" · backward signal" if view.backprop_in_grid else "")
        self.unit_pane.title = f"unit {self.unit_title(view.layer, view.unit)}"
        self.unit_pane.badge = ""
        self.backprop_pane.title = (f"backprop · {view.backprop} {view.backprop_filter}"
                                    if view.backprop != "off" else "backprop")
        if view.backprop == "off":
            self.backprop_pane.set_placeholder("backprop off\n(b cycles the modes)")
        last = self.last_delivery
        if last is not None and (last.result.view.layer, last.result.view.unit) != (view.layer, view.unit):
            self.unit_pane.badge = "updating…"
        self.unit_pane.update()
        key = self.panel_key(view)
        self.unit_jobs.select(key)
        self.accent_jobs.follow_selection(key)
        self.unit_panel.show_unit(*key, name=self.unit_title(*key))

    def _on_display_changed(self, display: Display) -> None:
        self.hold.update()
        self.grid_pane.set_selected(self.view.unit if display.zoom == "off" else None)
        if self.last_delivery is not None:
            self._show_grid(self.last_delivery.result)
        self.predictions.setVisible(display.predictions)
        self.right.setVisible(display.unit_panel)
        self.actions_by_name["toggle_predictions"].setChecked(display.predictions)
        self.actions_by_name["toggle_unit_panel"].setChecked(display.unit_panel)

    def _on_request(self, action: str) -> None:
        {"toggle_pause": self.hold.toggle_pause, "toggle_camera": self.sources.toggle_camera,
         "next_file": lambda: self.hold.step_file(+1), "prev_file": lambda: self.hold.step_file(-1),
         "compute_unit": self.unit_jobs.compute_now, "quit": lambda: self.window().close(),
         "dream_frame": lambda: self.send_to_dream(False), "dream_unit": lambda: self.send_to_dream(True),
         "accentuate_unit": self.accentuate, "toggle_help": lambda: None}[action]()

    # ------------------------------------------------------------------ results from the worker

    def _on_result(self) -> None:
        delivery = self.worker.take()
        if delivery is None:
            return
        result = delivery.result
        if delivery.model_name != self.loaded.name and self.model.unit_counts:
            return  # from the model just replaced
        self.last_delivery = delivery
        held = self.hold.displayed(delivery)
        self.share.publish_frame(result.input_rgb, delivery.model_name)
        if not held:  # a held frame re-rendered after a view change: its capture time says nothing
            self._latency_origin = delivery.frame_timestamp
        self.input_pane.set_array(result.input_rgb)
        self.input_pane.title = f"input · {delivery.frame_label}"
        self.predictions.set_predictions(result.top)
        if result.view.layer == self.view.layer:
            self.model.set_unit_counts({result.view.layer: result.layout.n_units})
        self._show_grid(result)
        if (result.view.layer, result.view.unit) == (self.view.layer, self.view.unit):
            self.unit_panel.set_live_frames(self.panel_key(result.view), result.top_frames)
            self.unit_pane.set_array(result.unit_rgb)
            self.unit_pane.badge = ""
            unit = min(result.view.unit, len(result.unit_max) - 1)
            self.unit_trace.add((result.view.layer, unit), float(result.unit_max[unit]))
        if self.view.backprop == "off":
            pass  # a result computed before b or Esc turned backprop off: the pane stays "off"
        elif result.backprop_rgb is not None:
            self.backprop_pane.set_array(result.backprop_rgb)
        elif self.view.backprop != "off":
            self.backprop_pane.set_placeholder(f"{self.view.backprop}: waiting for the backprop engine…")
        for notice in result.notices:
            self.context.show_message(notice)
        warning = self.sources.new_warning()
        if warning is not None:
            self.context.show_message(warning)  # once per warning, in the status bar and the log
        self.rate.displayed(time.perf_counter())
        self.frames_displayed += 1

    def _show_grid(self, result) -> None:
        zoom, name = self.model.display.zoom, f"{result.view.layer}:{result.view.unit}"
        if zoom == "unit":
            self.grid_pane.set_grid(result.unit_rgb, None, result.view.layer, result.unit_max)
            title = f"{name} · zoom"
        elif zoom == "backprop" and result.backprop_rgb is not None:
            self.grid_pane.set_grid(result.backprop_rgb, None, result.view.layer, result.unit_max)
            title = f"{name} · backprop zoom"
        else:
            self.grid_pane.set_grid(result.grid, result.layout, result.view.layer, result.unit_max)
            title = result.view.layer
            if zoom == "backprop":  # nothing to zoom yet: say why the grid is shown
                title += (" · backprop zoom: backprop is off (b)" if self.view.backprop == "off"
                          else " · backprop zoom: waiting for the backprop")
            elif self.view.backprop_in_grid:
                title += " · backward signal"
        self.grid_pane.title = title

    def _on_grid_painted(self) -> None:
        if self._latency_origin is not None:
            self.rate.painted(time.perf_counter(), self._latency_origin)
            self._latency_origin = None

    # ------------------------------------------------------------------ models

    @property
    def loaded(self) -> LoadedModel:
        return self.models.loaded

    def _on_model_switched(self, loaded: LoadedModel) -> None:
        self.accent_jobs.dismiss()  # made with the previous model: it belongs to nothing shown now
        self.model.set_model([l.name for l in loaded.layers], loaded.default_layer().name)
        self.worker.set_model(loaded, self.view)
        self.share.publish_model(loaded, self.worker.request_model_copy)
        self._show_model_store()

    def _on_unit_requested(self, request: tuple[str, int]) -> None:
        layer, unit = request
        self.context.show_mode("live")
        self.model.select_layer(layer)
        self.model.select_unit(unit)

    def _show_model_store(self) -> None:
        from deepvis.unitvis.store import weights_fingerprint

        self.unit_panel.set_model(self.loaded.name, weights_fingerprint(self.loaded.model), self.models.weights)

    def _on_worker_model_failed(self, message: str) -> None:
        """The model raised in the worker, which stopped feeding it: say so once, offer the Model menu."""
        self.context.show_message(message)
        self.model_failed_message = message
        if self.active and self.isVisible():
            self.model_menu.popup(self.grid_pane.mapToGlobal(self.grid_pane.rect().center()))

    def _on_model_ready(self, info: ModelInfo) -> None:
        if info.loaded is self.loaded:
            self.model.set_unit_counts(dict(info.units))

    # ------------------------------------------------------------------ sources and unit images

    def _save_top_frames(self) -> None:
        self.unit_jobs.save_top_frames(self.view.layer)

    def accentuate(self) -> None:
        """A: the frame on screen accentuated for the selected unit in the panel (A again: its images)."""
        name = self.unit_title(self.view.layer, self.view.unit)
        self.accent_jobs.toggle(*self.panel_key(self.view), name, self.last_delivery)

    def send_to_dream(self, use_unit: bool) -> None:
        """g / G: the Dream mode dreams this frame (G: amplifying the selected unit); Live pauses
        while Dream is in front."""
        self.context.show_mode("dream").dream_from_live(use_unit=use_unit)

    # ------------------------------------------------------------------ panes and layout

    def save_pane(self, path: str | Path, pane: str) -> Path:
        return save_widget_png(self.panes[pane], path)

    def save_pane_dialog(self, pane: str) -> None:
        path = ask_png_path(self, f"deepvis-{pane}.png".replace(" ", "-"))
        if path:
            try:
                self.context.show_message(f"saved {self.save_pane(path, pane)}")
            except OSError as error:
                self.context.show_message(str(error))
