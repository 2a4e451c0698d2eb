"""The Learn mode's control column: play/step/reset, the data (two-class and regression sets, a
CSV file, its own seed and a button for new points), the input features, the network (hidden
layers with − / + neurons, an activation and L1 / L2 for all with a per-layer override), the
optimizer, and what the boundary shows.

The column only reads and shows a Setup (learn/setup.py): `changed` says something was edited,
and the view model decides whether that starts a new run (other data, network or init seed) or
applies to the running one (the optimizer, rates, batch and penalties).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QGridLayout, QGroupBox,
                             QHBoxLayout, QPushButton, QSizePolicy, QSpinBox, QVBoxLayout, QWidget)

from deepvis.learn.data import DATASETS, REGRESSION_SETS, DataSettings, is_csv
from deepvis.learn.features import FEATURES, LABELS, check_features
from deepvis.learn.network import ACTIVATIONS, INITS, NetworkSpec
from deepvis.learn.setup import Setup
from deepvis.learn.trainer import OPTIMIZERS
from deepvis.gui.learn.layers import LayersEditor, no_wheel
from deepvis.gui.learn.panels import Caption

CSV_ITEM = "CSV file…"
GENERATED = DATASETS + REGRESSION_SETS


class LearnControls(QWidget):
    changed = pyqtSignal()  # the setup shown was edited
    play_clicked = pyqtSignal()
    step_clicked = pyqtSignal()
    reset_clicked = pyqtSignal()
    regenerate_clicked = pyqtSignal()
    csv_requested = pyqtSignal()
    test_points_toggled = pyqtSignal(bool)
    discretize_toggled = pyqtSignal(bool)

    def __init__(self, setup: Setup, parent: QWidget | None = None):
        super().__init__(parent)
        self.csv_path: str | None = None
        self._base = setup  # what the column cannot show (a CSV's columns, momentum...) is kept from here
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(8)

        buttons = QHBoxLayout()
        self.play_button = QPushButton("▶ Play")
        self.step_button = QPushButton("Step")
        self.reset_button = QPushButton("Reset")
        self.play_button.setToolTip("Space: train / pause")
        self.step_button.setToolTip(f"s: {setup.train.snapshot_every} steps, then pause")
        self.reset_button.setToolTip("r: a new network (same settings, step 0)")
        for button, signal in ((self.play_button, self.play_clicked), (self.step_button, self.step_clicked),
                               (self.reset_button, self.reset_clicked)):
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            button.clicked.connect(signal.emit)
            buttons.addWidget(button)
        # The play button keeps one width whichever its text: the buttons beside it stay put.
        metrics = self.play_button.fontMetrics()
        self.play_button.setMinimumWidth(max(metrics.horizontalAdvance(t) for t in ("▶ Play", "❚❚ Pause")) + 24)
        layout.addLayout(buttons)

        self.stats = Caption("", "mono", lines=6)  # new figures every frame, never a new layout
        layout.addWidget(self.stats)

        self.data_combo = no_wheel(QComboBox())
        self.data_combo.addItems(DATASETS)
        self.data_combo.insertSeparator(len(DATASETS))
        self.data_combo.addItems(REGRESSION_SETS)
        self.data_combo.addItem(CSV_ITEM)
        for name in REGRESSION_SETS:
            self.data_combo.setItemData(self.data_combo.findText(name), "regression: a continuous target",
                                        Qt.ItemDataRole.ToolTipRole)
        self.noise = self._double(0.0, 0, 1, 0.02, 2, "std of Gaussian jitter added to the points")
        self.points = self._int(400, 20, 5000, 50, "points generated")
        self.test_percent = self._int(30, 5, 90, 5, "share held out to test, %")
        self.data_seed = self._int(0, 0, 99999, 1, "seed of the points and the split")
        self.regenerate_button = QPushButton("New data")
        self.regenerate_button.setToolTip("g: new points (the next data seed), the same network init")
        self.regenerate_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        seed_row = QHBoxLayout()
        seed_row.addWidget(self.data_seed, 1)
        seed_row.addWidget(self.regenerate_button)
        layout.addWidget(self._group("Data", [("set", self.data_combo), ("noise", self.noise),
                                              ("points", self.points), ("test %", self.test_percent),
                                              ("data seed", seed_row)]))

        features = QGroupBox("Input features")
        grid = QGridLayout(features)
        grid.setContentsMargins(8, 6, 8, 6)
        grid.setSpacing(4)
        self.features: dict[str, QCheckBox] = {}
        for i, name in enumerate(FEATURES):
            box = QCheckBox(LABELS[name])
            box.setToolTip("sin(6·x): Playground's sin over its [-6, 6]" if name.startswith("sin") else "")
            box.toggled.connect(lambda _on: self.changed.emit())
            self.features[name] = box
            grid.addWidget(box, i // 3, i % 3)
        layout.addWidget(features)

        self.init = no_wheel(QComboBox())
        self.init.addItems(INITS)
        self.init.setToolTip("normal: N(0, 1) weights and biases; xavier: uniform, scaled by fan in + out; "
                             "he: N(0, 2 / fan in)")
        self.init_seed = self._int(0, 0, 99999, 1, "seed of the network's init and the minibatch order")
        self.activation = no_wheel(QComboBox())
        self.activation.addItems(ACTIVATIONS)
        self.activation.setToolTip("every hidden layer's activation, unless a layer below sets its own")
        self.l1 = self._double(0, 0, 1, 0.0001, 4, "L1 penalty on every layer's weights (not the biases)")
        self.l2 = self._double(0, 0, 1, 0.0001, 4, "L2 penalty on every layer's weights (not the biases)")
        self.layers = LayersEditor()
        network = self._group("Network", [("init", self.init), ("init seed", self.init_seed),
                                          ("activation", self.activation), ("L1 all", self.l1), ("L2 all", self.l2)])
        network.layout().addRow(self.layers)
        layout.addWidget(network)

        self.optimizer = no_wheel(QComboBox())
        self.optimizer.addItems(OPTIMIZERS)
        self.learning_rate = self._double(3.0, 0.0001, 100, 0.01, 4, "learning rate")
        self.batch = self._int(0, 0, 5000, 10, "points per step; 0: all of them")
        self.batch.setSpecialValueText("all")
        layout.addWidget(self._group("Training", [("optimizer", self.optimizer), ("learning rate", self.learning_rate),
                                                  ("batch", self.batch)]))

        self.test_points = QCheckBox("test points")
        self.test_points.setToolTip("t: the held-out points on the boundary (dark edge)")
        self.discretize = QCheckBox("discretize output")
        self.discretize.setToolTip("d: the boundary in classes (regression: the sign), not the output's shades")
        view = QGroupBox("Boundary")
        row = QHBoxLayout(view)
        row.setContentsMargins(8, 6, 8, 6)
        row.addWidget(self.test_points)
        row.addWidget(self.discretize)
        layout.addWidget(view)
        layout.addStretch(1)

        self.set_setup(setup)
        self.data_combo.currentTextChanged.connect(self._data_chosen)
        for widget in (self.noise, self.points, self.test_percent, self.data_seed, self.init_seed, self.learning_rate,
                       self.batch, self.l1, self.l2):
            widget.editingFinished.connect(self.changed.emit)
        for combo in (self.init, self.activation):
            combo.currentTextChanged.connect(lambda _t: self.changed.emit())
        self.optimizer.currentTextChanged.connect(self._optimizer_chosen)
        self.layers.changed.connect(self.changed.emit)
        self.regenerate_button.clicked.connect(self.regenerate_clicked.emit)
        self.test_points.toggled.connect(self.test_points_toggled.emit)
        self.discretize.toggled.connect(self.discretize_toggled.emit)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)

    # -- construction helpers -------------------------------------------------------------

    def _group(self, title: str, rows) -> QGroupBox:
        box = QGroupBox(title)
        form = QFormLayout(box)
        form.setContentsMargins(8, 6, 8, 6)
        form.setSpacing(5)
        for label, item in rows:
            form.addRow(label, item)
        return box

    def _double(self, value, low, high, step, decimals, tip) -> QDoubleSpinBox:
        box = no_wheel(QDoubleSpinBox())
        box.setRange(low, high)
        box.setDecimals(decimals)
        box.setSingleStep(step)
        box.setValue(value)
        box.setToolTip(tip)
        box.setKeyboardTracking(False)
        return box

    def _int(self, value, low, high, step, tip) -> QSpinBox:
        box = no_wheel(QSpinBox())
        box.setRange(low, high)
        box.setSingleStep(step)
        box.setValue(value)
        box.setToolTip(tip)
        box.setKeyboardTracking(False)
        return box

    # -- reactions ---------------------------------------------------------------------------

    def _data_chosen(self, text: str) -> None:
        if text == CSV_ITEM:
            self.csv_requested.emit()  # the mode asks for a file and calls set_csv, or goes back
        else:
            self.changed.emit()

    def _optimizer_chosen(self, name: str) -> None:
        # Each optimizer's usual learning rate: SGD on this network wants ~3, Adam ~0.03.
        self.learning_rate.setValue(3.0 if name == "sgd" else 0.03)
        self.changed.emit()

    def set_csv(self, path: str | None) -> None:
        """A CSV file chosen (an item for it is added), or None to go back to the set before."""
        self.data_combo.blockSignals(True)
        if path:
            self.csv_path = path
            name = Path(path).name
            if self.data_combo.findText(name) < 0:
                self.data_combo.insertItem(self.data_combo.count() - 1, name)
            self.data_combo.setCurrentText(name)
        else:
            source = self._base.data.source
            self.data_combo.setCurrentText(Path(source).name if is_csv(source) else source)
        self.data_combo.blockSignals(False)
        self.changed.emit()

    # -- showing and reading the setup -----------------------------------------------------

    def set_setup(self, setup: Setup) -> None:
        """Show a setup (the view model's, after a file was opened or new data made), silently."""
        self._base = setup
        widgets = [self.data_combo, self.noise, self.points, self.test_percent, self.data_seed, self.init,
                   self.init_seed, self.activation, self.l1, self.l2, self.optimizer, self.learning_rate, self.batch,
                   self.layers, *self.features.values()]
        for widget in widgets:
            widget.blockSignals(True)
        try:
            data, spec, train = setup.data, setup.spec, setup.train
            if is_csv(data.source):
                self.csv_path = data.source
                name = Path(data.source).name
                if self.data_combo.findText(name) < 0:
                    self.data_combo.insertItem(self.data_combo.count() - 1, name)
                self.data_combo.setCurrentText(name)
            else:
                self.data_combo.setCurrentText(data.source)
            self.noise.setValue(data.noise)
            self.points.setValue(data.points)
            self.test_percent.setValue(round(data.test_fraction * 100))
            self.data_seed.setValue(data.seed)
            for name, box in self.features.items():
                box.setChecked(name in spec.features)
            self.init.setCurrentText(spec.init)
            self.init_seed.setValue(train.seed)
            acts = spec.layer_activations
            self.activation.setCurrentText(acts[0] if acts else (spec.activations or ("sigmoid",))[0])
            self.l1.setValue(train.l1)
            self.l2.setValue(train.l2)
            output = spec.for_task("regression" if data.source in REGRESSION_SETS or data.task == "regression"
                                   else "classification").output
            self.layers.set_layers(spec.hidden, spec.activations, (train.layer_l1, train.layer_l2),
                                   (train.l1, train.l2), output)
            self.optimizer.setCurrentText(train.optimizer)
            self.learning_rate.setValue(train.learning_rate)
            self.batch.setValue(train.batch_size)
        finally:
            for widget in widgets:
                widget.blockSignals(False)

    def setup(self) -> Setup:
        """The setup shown; DeepvisError names a field the network cannot use."""
        base = self._base
        source = self.data_combo.currentText()
        if source not in GENERATED:
            source = self.csv_path or base.data.source
        data = replace(base.data, source=source, points=self.points.value(), noise=self.noise.value(),
                       test_fraction=self.test_percent.value() / 100, seed=self.data_seed.value())
        if source != base.data.source:
            data = replace(data, task=None)  # another set: its own task
        if not is_csv(source):
            data = replace(data, columns=DataSettings().columns, label=DataSettings().label)
        features = check_features(tuple(name for name, box in self.features.items() if box.isChecked()))
        for_all = self.activation.currentText()
        spec = NetworkSpec(tuple(self.layers.widths), self.layers.activations(for_all), self.init.currentText(),
                           features)
        train = replace(base.train, optimizer=self.optimizer.currentText(),
                        learning_rate=self.learning_rate.value(), batch_size=self.batch.value(), l1=self.l1.value(),
                        l2=self.l2.value(), seed=self.init_seed.value(),
                        layer_l1=self.layers.penalties("l1", self.l1.value()),
                        layer_l2=self.layers.penalties("l2", self.l2.value()))
        self.layers.set_output("linear" if source in REGRESSION_SETS else "sigmoid")
        return Setup(data, *self._as_before(spec, train), base.steps)

    def _as_before(self, spec: NetworkSpec, train):
        """The spec and settings read, written as the setup shown wrote them where they mean the
        same (("tanh", "tanh") is ("tanh",); a layer's L1 equal to all's is all's): an edit of
        something else must not look like a new network."""
        base = self._base
        if spec.hidden == base.spec.hidden and spec.layer_activations == base.spec.layer_activations:
            spec = replace(spec, activations=base.spec.activations)
            layers = len(spec.hidden) + 1
            if train.penalties(layers) == base.train.penalties(layers):
                train = replace(train, l1=base.train.l1, l2=base.train.l2, layer_l1=base.train.layer_l1,
                                layer_l2=base.train.layer_l2)
        return spec, train

    def set_playing(self, playing: bool) -> None:
        text = "❚❚ Pause" if playing else "▶ Play"
        if self.play_button.text() != text:
            self.play_button.setText(text)

    def set_display(self, show_test: bool, discretize: bool) -> None:
        for box, on in ((self.test_points, show_test), (self.discretize, discretize)):
            box.blockSignals(True)
            box.setChecked(on)
            box.blockSignals(False)
