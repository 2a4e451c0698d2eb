"""The Weights mode: any model's weights. The first conv's filters as colour tiles, any conv
layer's filters per input channel, Linear rows as images (else a heat map), the layer's weight
histogram, and the first layer's filters applied to noise. Hover reads out layer:unit and its
weight range; a click shows that unit in the Live mode when Live displays the layer."""

from __future__ import annotations


import numpy as np
from PyQt6.QtCore import Qt
from PyQt6.QtGui import QAction, QActionGroup
from PyQt6.QtWidgets import QHBoxLayout, QLabel, QListWidget, QMenuBar, QSplitter, QVBoxLayout, QWidget

from deepvis.gui.mode import ModeContext, WorkerMode
from deepvis.gui.panes import ImagePane
from deepvis.gui.jobs import FIGURE_MODULES, JobWorker
from deepvis.weights.keys import KEYS
from deepvis.gui.tiles import SignedBars, TilesPane



class WeightsMode(WorkerMode):
    name = "weights"
    title = "Weights"

    def __init__(self, context: ModeContext, parent: QWidget | None = None):
        super().__init__(context, parent)
        self.config = context.config
        self.model_name = self.config.model
        self.loaded = None  # LoadedModel, once the worker has opened it
        self.layers: list = []
        self.view = None  # the LayerView shown
        self.unit: int | None = None
        self._wanted_layer = 0
        self._model_actions: dict = {}  # model name -> its Weights menu action
        self.worker = JobWorker("weights", self, imports=("torchvision", "timm", *FIGURE_MODULES))
        self._build()
        self._open(self.config.model, self.config.weights)

    # ------------------------------------------------------------------ construction

    def _build(self) -> None:
        self.layer_list = QListWidget()
        self.layer_list.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.layer_list.currentRowChanged.connect(self.select_layer)
        self.tiles = TilesPane("filters", placeholder="loading the model…")
        self.tiles.unit_hovered.connect(self._on_hover)
        self.tiles.unit_clicked.connect(self.open_in_live)
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
        right = QWidget()
        lay = QVBoxLayout(right)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.histogram, 1)
        lay.addWidget(self.info, 0)
        lay.addWidget(self.noise, 3)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        for widget, stretch in ((left, 1), (self.tiles, 4), (right, 2)):
            splitter.addWidget(widget)
            splitter.setStretchFactor(splitter.count() - 1, stretch)
        splitter.setSizes([330, 850, 380])
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(splitter)

    def add_menus(self, menu_bar: QMenuBar) -> list:
        from deepvis.zoo import builtin_models

        menu = menu_bar.addMenu("&Weights")
        group = QActionGroup(self)
        for card in builtin_models():
            action = QAction(card.title, self, checkable=True)
            action.setChecked(card.name == self.model_name)
            action.triggered.connect(lambda _c=False, name=card.name: self._open(name, None))
            group.addAction(action)
            menu.addAction(action)
            self._model_actions[card.name] = action
        menu.addSeparator()
        live = QAction("Show the selected unit in Live\tEnter", self)
        live.triggered.connect(lambda: self.open_in_live(self.unit or 0))
        menu.addAction(live)
        return [menu]

    # ------------------------------------------------------------------ the shell's interface

    def handle_key(self, name: str) -> bool:
        return KEYS.run(name, self)

    def move_layer(self, step: int) -> None:
        if self.layers:
            row = max(0, min(len(self.layers) - 1, self.layer_list.currentRow() + step))
            self.layer_list.setCurrentRow(row)

    def move_unit(self, step: int) -> None:
        if self.view is not None:
            count = len(self.view.picture.rects)
            self.select_unit(max(0, min(count - 1, (self.unit or 0) + step)))

    def open_selected_in_live(self) -> None:
        if self.view is not None:
            self.open_in_live(self.unit or 0)

    def key_help(self) -> list[tuple[str, str]]:
        return KEYS.help()

    def status_text(self) -> str:
        if self.view is None:
            return f"weights: {self.model_name} (loading…)"
        layer = self.view.layer
        unit = f":{self.unit}" if self.unit is not None else ""
        return f"weights: {self.model_name} | {layer.path}{unit} | {layer.kind} {'x'.join(map(str, layer.shape))}"

    def ready(self) -> bool:
        return self.view is not None and not self.worker.busy

    # ------------------------------------------------------------------ jobs

    def _open(self, model: str, weights: str | None) -> None:
        """Load a model in the background; one that cannot load (offline, say) keeps the shown one
        and says why, as Live's Model menu does: no other model's weights under its name."""
        config = self.config
        self.progress.emit(0, 0)
        self.context.show_message(f"weights: loading {model}…")

        def job(ctx):
            from deepvis.session import open_named_model
            from deepvis.weights.layers import weight_layers
            from deepvis.weights.view import layer_view

            loaded = open_named_model(model, config, weights)
            layers = weight_layers(loaded.model)
            ctx.checkpoint()
            first = layer_view(loaded.model, layers[0], with_noise=True) if layers else None
            ctx.report(("model", loaded, layers, first))
        self.worker.submit(job)

    def select_layer(self, row: int) -> None:
        if not 0 <= row < len(self.layers) or (self.view is not None and self.view.layer == self.layers[row]):
            return
        layer, model = self.layers[row], self.loaded.model
        self.progress.emit(0, 0)

        def job(ctx):
            from deepvis.weights.view import layer_view

            ctx.report(("layer", layer_view(model, layer, with_noise=layer.index == 0)))
        self.worker.submit(job)

    def job_yielded(self, result) -> None:
        self.progress.emit(0, -1)
        if result[0] == "model":
            _, self.loaded, self.layers, first = result
            self.model_name = self.loaded.name
            self.view = None
            self.layer_list.blockSignals(True)
            self.layer_list.clear()
            self.layer_list.addItems([layer.describe() for layer in self.layers])
            self.layer_list.setCurrentRow(0)
            self.layer_list.blockSignals(False)
            self.context.show_message(f"weights: {self.loaded.card.title}, {len(self.layers)} conv/linear layers")
            if first is None:
                self.tiles.set_placeholder("this model has no conv or linear layers")
                return
            self._show(first)
        else:
            self._show(result[1])

    def _show(self, view) -> None:
        self.view = view
        self.unit = None
        picture = view.picture
        self.tiles.title = f"{view.layer.path} · {view.layer.kind} {'x'.join(map(str, view.layer.shape))}"
        self.tiles.set_tiles(picture.rgb, picture.rects)
        self.tiles.set_selected(None)
        centres = (view.edges[:-1] + view.edges[1:]) / 2
        title = f"weight histogram (log counts) · {view.stats['min']:+.3g} … {view.stats['max']:+.3g}"
        self.histogram.set_values(np.log10(view.counts + 1.0), [""] * len(centres), title, signs=centres)
        self.info.setText(f"{picture.note}. Hover a tile for its range; click it to see the unit live.")
        if view.noise_rgb is not None:
            self.noise.title = f"{view.layer.path}: filters applied to noise"
            self.noise.set_array(view.noise_rgb)

    def job_failed(self, message: str) -> None:
        self.progress.emit(0, -1)
        if self.loaded is not None:
            message += f"; still showing {self.loaded.name}"
            if self.loaded.name in self._model_actions:
                self._model_actions[self.loaded.name].setChecked(True)
        self.context.show_message(f"weights: {message}")
        if self.view is None:
            self.tiles.set_placeholder(message)

    # ------------------------------------------------------------------ hover and click

    def _on_hover(self, unit) -> None:
        if unit is None or self.view is None:
            self.context.show_hint(None)
            return
        lo, hi = self.view.picture.ranges[unit]
        self.context.show_hint(f"{self.view.layer.path}:{unit}  weights {lo:+.4g} … {hi:+.4g}")

    def select_unit(self, unit: int) -> None:
        self.unit = unit
        self.tiles.set_selected(unit)

    def open_in_live(self, unit: int) -> None:
        """Show the unit in the Live mode (same model, a displayed layer), or say why not."""
        if self.view is None:
            return
        self.select_unit(unit)
        live = self.context.live.open()
        path = self.view.layer.path
        if live.model_name != self.model_name:
            self.context.show_message(f"Live shows {live.model_name}, not {self.model_name}: "
                                      f"{path}:{unit} cannot be shown there")
            return
        name = live.layer_for_path(path)
        if name is None:
            self.context.show_message(f"{path} is not one of Live's displayed layers "
                                      f"({' '.join(live.layer_names())})")
            return
        live.show_unit(name, unit)
        self.context.show_message(f"Live: {name}:{unit} (from weights {path})")
