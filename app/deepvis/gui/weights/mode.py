"""The Weights mode: any model's weights. The first conv's filters as colour tiles, any conv
layer's filters per input channel, Linear rows as images (else a heat map), a page at a time for
large layers, the layer's weight histogram, and the first layer's filters applied to noise. Hover
reads out layer:unit, its weight range and (for the classifier) its class; a click shows that unit
in the Live mode when the filter's channels reach a layer Live displays, else the status line says
why and the Weights tab stays.

What is loaded, selected and shown lives in the Qt-free view model (deepvis.weights.view_model);
the widgets here observe it and write intent back; the worker runs the jobs it asks for.
"""

from __future__ import annotations

import logging

import numpy as np
from PyQt6.QtCore import Qt
from PyQt6.QtGui import QAction
from PyQt6.QtWidgets import QHBoxLayout, QLabel, QListWidget, QMenuBar, QSplitter, QVBoxLayout, QWidget

from deepvis.gui.jobs import FIGURE_MODULES, JobWorker
from deepvis.gui.mode import ModeContext, WorkerMode
from deepvis.gui.model_menu import ModelChoices, ask_for_weights, configured_weights
from deepvis.gui.panes import ImagePane
from deepvis.gui.tiles import SignedBars, TilesPane
from deepvis.gui.weights.page_bar import PageBar
from deepvis.weights.keys import KEYS
from deepvis.weights.view_model import OpenedModel, Request, WeightsViewModel

log = logging.getLogger("deepvis.gui")


class WeightsMode(WorkerMode):
    name = "weights"
    title = "Weights"

    def __init__(self, context: ModeContext, parent: QWidget | None = None):
        super().__init__(context, parent)
        self.config = context.config
        self.state = WeightsViewModel(context.live)
        self.picture = None  # the TilePicture of the page on screen
        self.choices = ModelChoices(self)
        self.worker = JobWorker("weights", self, imports=("torchvision", "timm", *FIGURE_MODULES))
        self._build()
        state = self.state
        state.model_changed.connect(self._on_model_changed)
        state.view_changed.connect(self._on_view_changed)
        state.page_changed.connect(self._on_page_changed)
        state.unit_changed.connect(self._on_unit_changed)
        state.requested.connect(self._run)
        state.message.connect(self.context.show_message)
        state.job.changed.connect(self._on_job_changed)
        self.open_model(self.config.model, self.config.weights)

    # ------------------------------------------------------------------ construction

    def _build(self) -> None:
        self.layer_list = QListWidget()
        self.layer_list.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.layer_list.currentRowChanged.connect(self._on_row_changed)
        self.tiles = TilesPane("filters", placeholder="loading the model…")
        self.tiles.unit_hovered.connect(self._on_hover)
        self.tiles.unit_clicked.connect(self._on_click)
        self.page_bar = PageBar()
        self.page_bar.flipped.connect(self.state.flip_page)
        self.page_bar.hide()
        self.histogram = SignedBars("weight histogram")
        self.noise = ImagePane("first layer's filters on noise", smooth=False,
                               placeholder="filters on noise: shown for the first conv layer")
        self.info = QLabel()
        self.info.setWordWrap(True)
        self.info.setObjectName("emptyState")
        left = QWidget()
        lay = QVBoxLayout(left)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(QLabel("layers (conv and linear)"))
        lay.addWidget(self.layer_list, 1)
        middle = QWidget()
        lay = QVBoxLayout(middle)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.tiles, 1)
        lay.addWidget(self.page_bar, 0)
        right = QWidget()
        lay = QVBoxLayout(right)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.histogram, 1)
        lay.addWidget(self.info, 0)
        lay.addWidget(self.noise, 3)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        for widget, stretch in ((left, 1), (middle, 4), (right, 2)):
            splitter.addWidget(widget)
            splitter.setStretchFactor(splitter.count() - 1, stretch)
        splitter.setSizes([330, 850, 380])
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(splitter)

    def _action(self, text: str, slot, checkable: bool = False) -> QAction:
        action = QAction(text, self, checkable=checkable)
        action.triggered.connect(lambda _checked=False: slot())
        return action

    def add_menus(self, menu_bar: QMenuBar) -> list:
        menu = menu_bar.addMenu("&Weights")
        menu.addActions(self.choices.menu_actions(self._action, self.open_model, self.config.model))
        menu.addSeparator()
        menu.addAction(self._action("Load weights…", self.load_weights_dialog))
        menu.addSeparator()
        for text, slot in (("Show the selected unit in Live\tEnter", self.state.open_selected_in_live),
                           ("Next page\tPgDown", lambda: self.state.flip_page(1)),
                           ("Previous page\tPgUp", lambda: self.state.flip_page(-1))):
            menu.addAction(self._action(text, slot))
        return [menu]

    # ------------------------------------------------------------------ the shell's interface

    def handle_key(self, name: str) -> bool:
        return self.state.press(name)

    def key_help(self) -> list[tuple[str, str]]:
        return KEYS.help()

    def status_text(self) -> str:
        return self.state.status_text()

    def ready(self) -> bool:
        return self.state.shown is not None and not self.worker.busy

    # ------------------------------------------------------------------ intent

    def open_model(self, name: str, weights: str | None = None) -> None:
        """Load a model in the background; one that cannot load (offline, say) keeps the shown one
        and says why, as Live's Model menu does: no other model's weights under its name."""
        self.state.open_model(name, configured_weights(name, weights, self.config))

    def load_weights_dialog(self) -> None:
        """Weights → Load weights…: a local state dict for one of the built-in architectures."""
        chosen = ask_for_weights(self, self.state.model_name)
        if chosen:
            self.open_model(*chosen)

    def _on_row_changed(self, row: int) -> None:
        self.state.select_layer(row)
        if self.state.selected is not None:  # a refused change (a model is loading) moves the row back
            self._select_row(self.state.selected.index)

    def _on_hover(self, index) -> None:
        if index is None or self.picture is None:
            self.context.show_hint(None)
            return
        self.context.show_hint(self.state.hover_text(self.picture.first + index))

    def _on_click(self, index: int) -> None:
        if self.picture is not None:
            self.state.open_in_live(self.picture.first + index)

    # ------------------------------------------------------------------ jobs

    def _run(self, request: Request) -> None:
        """Run a job the view model asked for; what it reports goes back with its request."""
        config = self.config
        if request.kind == "model":
            def job(ctx):
                from deepvis.session import open_named_model
                from deepvis.weights.layers import weight_layers
                from deepvis.weights.view import layer_view

                loaded = open_named_model(request.model, config, request.weights)
                layers = weight_layers(loaded.model)
                ctx.checkpoint()
                first = layer_view(loaded.model, layers[0], loaded.name, with_noise=True) if layers else None
                opened = OpenedModel(loaded.name, loaded.card.title, loaded.model, layers,
                                     _channel_paths(loaded), list(loaded.labels), first)
                ctx.report((request, opened))
        else:
            model, layer = self.state.model, request.layer
            self._select_row(layer.index)

            def job(ctx):
                from deepvis.weights.view import layer_view

                ctx.report((request, layer_view(model, layer, request.model, with_noise=layer.index == 0)))
        self.worker.submit(job)

    def job_yielded(self, item) -> None:
        request, result = item
        if request.kind == "model":
            self.state.model_opened(request, result)
        else:
            self.state.layer_read(request, result)

    def job_failed(self, message: str) -> None:
        self.state.job_failed(message)

    # ------------------------------------------------------------------ observing the view model

    def _on_job_changed(self, job) -> None:
        self.progress.emit(0, 0 if job.busy else -1)
        if not job.busy:
            self.choices.check(self.state.model_name)  # a model that failed to load is not marked
            if job.phase == "failed" and self.state.shown is None:
                self.tiles.set_placeholder(job.placeholder(job.job.kind) or job.message)

    def _on_model_changed(self, state: WeightsViewModel) -> None:
        self.layer_list.blockSignals(True)
        self.layer_list.clear()
        self.layer_list.addItems([layer.describe() for layer in state.layers])
        self.layer_list.blockSignals(False)
        self._select_row(0)
        self.choices.check(state.model_name)
        if not state.layers:
            self.picture = None
            self.tiles.set_placeholder("this model has no conv or linear layers")

    def _select_row(self, row: int) -> None:
        self.layer_list.blockSignals(True)
        self.layer_list.setCurrentRow(row)
        self.layer_list.blockSignals(False)

    def _on_view_changed(self, view) -> None:
        layer = view.layer
        self.tiles.title = f"{layer.path} · {layer.kind} {'x'.join(map(str, layer.shape))}"
        centres = (view.edges[:-1] + view.edges[1:]) / 2
        title = f"weight histogram (log counts) · {view.stats['min']:+.3g} … {view.stats['max']:+.3g}"
        self.histogram.set_values(np.log10(view.counts + 1.0), [""] * len(centres), title, signs=centres)
        if view.noise_rgb is not None:
            self.noise.title = f"{layer.path}: filters applied to noise"
            self.noise.set_array(view.noise_rgb)

    def _on_page_changed(self, page: int) -> None:
        state = self.state
        self.picture = state.shown.picture(page)
        self.tiles.set_tiles(self.picture.rgb, self.picture.rects)
        self._on_unit_changed(state.unit)
        self.page_bar.show_page(state.page_text(), page, state.pages)
        self.info.setText(f"{self.picture.note}. Hover a tile for its range; click it to see the unit live.")

    def _on_unit_changed(self, unit: int | None) -> None:
        on_page = self.picture is not None and unit is not None and unit in self.state.page_units()
        self.tiles.set_selected(unit - self.picture.first if on_page else None)


def _channel_paths(loaded) -> dict[str, tuple[str, ...]]:
    """Where each weight layer's channels go (for the jump to Live); none when the trace fails,
    and then only a layer Live displays itself is reached."""
    from deepvis.weights.reach import channel_paths

    try:
        return channel_paths(loaded.model, loaded.card.input_size)
    except Exception as error:  # noqa: BLE001  (a model the trace cannot run still shows its weights)
        log.warning("weights: cannot trace %s's channels: %s", loaded.name, error)
        return {}
