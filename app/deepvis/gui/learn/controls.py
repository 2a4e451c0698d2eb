"""The Learn mode's control column: data, network and training settings, play/pause/step/reset.

Changing the data or the network starts a new run (setup_changed); changing the optimizer,
learning rate, batch size or penalties applies to the current run (training_changed).
"""

from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import (QComboBox, QDoubleSpinBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit,
                             QPushButton, QSizePolicy, QSpinBox, QVBoxLayout, QWidget)

from deepvis import DeepvisError
from deepvis.learn.data import DATASETS, DataSettings
from deepvis.learn.network import ACTIVATIONS, INITS, NetworkSpec
from deepvis.learn.trainer import OPTIMIZERS, TrainSettings
from deepvis.gui.learn.worker import LearnSetup

CSV_ITEM = "CSV file…"


def _no_wheel(widget):
    """Spin boxes and combos ignore the wheel unless focused: scrolling the column must not change them."""
    widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
    widget.wheelEvent = lambda event: event.ignore()
    return widget


class LearnControls(QWidget):
    setup_changed = pyqtSignal()  # data or network: a new run
    training_changed = pyqtSignal()  # optimizer settings: the same run goes on
    play_clicked = pyqtSignal()
    step_clicked = pyqtSignal()
    reset_clicked = pyqtSignal()
    csv_requested = pyqtSignal()

    def __init__(self, setup: LearnSetup, parent: QWidget | None = None):
        super().__init__(parent)
        self.csv_path: str | None = None
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
        layout.addLayout(buttons)

        self.stats = QLabel("")
        self.stats.setStyleSheet("font-family: 'DejaVu Sans Mono', monospace;")
        self.stats.setMinimumHeight(64)
        self.stats.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.stats)

        data = setup.data
        self.data_combo = _no_wheel(QComboBox())
        self.data_combo.addItems(list(DATASETS) + [CSV_ITEM])
        self.data_combo.setCurrentText(data.source if data.source in DATASETS else DATASETS[0])
        self.noise = self._double(data.noise, 0, 1, 0.02, 2, "std of Gaussian jitter added to the points")
        self.points = self._int(data.points, 20, 5000, 50, "points generated")
        self.test_percent = self._int(round(data.test_fraction * 100), 5, 90, 5, "share held out to test, %")
        self.seed = self._int(data.seed, 0, 99999, 1, "seed of the data, the init and the batch order")
        layout.addWidget(self._group("Data", [("set", self.data_combo), ("noise", self.noise),
                                              ("points", self.points), ("test %", self.test_percent),
                                              ("seed", self.seed)]))

        spec = setup.spec
        self.hidden = QLineEdit(" ".join(map(str, spec.hidden)))
        self.hidden.setToolTip("hidden layer widths, e.g. 3 3 (the article's) or 8 8 8")
        self.activation = _no_wheel(QComboBox())
        self.activation.addItems(ACTIVATIONS)
        self.activation.setCurrentText(spec.layer_activations[0] if spec.hidden else "sigmoid")
        self.init = _no_wheel(QComboBox())
        self.init.addItems(INITS)
        self.init.setCurrentText(spec.init)
        self.init.setToolTip("normal: N(0, 1) weights and biases; xavier: uniform, scaled by fan in + out; "
                             "he: N(0, 2 / fan in)")
        layout.addWidget(self._group("Network (2 → hidden → 1 sigmoid)", [
            ("hidden", self.hidden), ("activation", self.activation), ("init", self.init)]))

        train = setup.train
        self.optimizer = _no_wheel(QComboBox())
        self.optimizer.addItems(OPTIMIZERS)
        self.optimizer.setCurrentText(train.optimizer)
        self.learning_rate = self._double(train.learning_rate, 0.0001, 100, 0.01, 4, "learning rate")
        self.batch = self._int(train.batch_size, 0, 5000, 10, "points per step; 0: all of them")
        self.batch.setSpecialValueText("all")
        self.l1 = self._double(train.l1, 0, 1, 0.0001, 4, "L1 penalty on the weights")
        self.l2 = self._double(train.l2, 0, 1, 0.0001, 4, "L2 penalty on the weights")
        layout.addWidget(self._group("Training", [("optimizer", self.optimizer), ("learning rate", self.learning_rate),
                                                  ("batch", self.batch), ("L1", self.l1), ("L2", self.l2)]))
        layout.addStretch(1)
        self.snapshot_every = train.snapshot_every

        self.data_combo.currentTextChanged.connect(self._data_chosen)
        for widget in (self.noise, self.points, self.test_percent, self.seed):
            widget.editingFinished.connect(self.setup_changed.emit)
        self.hidden.editingFinished.connect(self.setup_changed.emit)
        self.activation.currentTextChanged.connect(lambda _t: self.setup_changed.emit())
        self.init.currentTextChanged.connect(lambda _t: self.setup_changed.emit())
        self.optimizer.currentTextChanged.connect(self._optimizer_chosen)
        for widget in (self.learning_rate, self.batch, self.l1, self.l2):
            widget.editingFinished.connect(self.training_changed.emit)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)

    # -- construction helpers -------------------------------------------------------------

    def _group(self, title: str, rows) -> QGroupBox:
        box = QGroupBox(title)
        form = QFormLayout(box)
        form.setContentsMargins(8, 6, 8, 6)
        form.setSpacing(5)
        for label, widget in rows:
            form.addRow(label, widget)
        return box

    def _double(self, value, low, high, step, decimals, tip) -> QDoubleSpinBox:
        box = _no_wheel(QDoubleSpinBox())
        box.setRange(low, high)
        box.setDecimals(decimals)
        box.setSingleStep(step)
        box.setValue(value)
        box.setToolTip(tip)
        box.setKeyboardTracking(False)
        return box

    def _int(self, value, low, high, step, tip) -> QSpinBox:
        box = _no_wheel(QSpinBox())
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
            self.setup_changed.emit()

    def _optimizer_chosen(self, name: str) -> None:
        # Each optimizer's usual learning rate: SGD on this network wants ~3, Adam ~0.03.
        self.learning_rate.setValue(3.0 if name == "sgd" else 0.03)
        self.training_changed.emit()

    def set_csv(self, path: str | None) -> None:
        """A CSV file chosen (an item for it is added), or None to go back to the previous set."""
        self.data_combo.blockSignals(True)
        if path:
            self.csv_path = path
            name = Path(path).name
            if self.data_combo.findText(name) < 0:
                self.data_combo.insertItem(self.data_combo.count() - 1, name)
            self.data_combo.setCurrentText(name)
        else:
            self.data_combo.setCurrentIndex(0)
        self.data_combo.blockSignals(False)
        self.setup_changed.emit()

    # -- reading the settings --------------------------------------------------------------

    def setup(self) -> LearnSetup:
        """The settings shown; DeepvisError names a field the network cannot use."""
        source = self.data_combo.currentText()
        if source not in DATASETS:
            source = self.csv_path or DATASETS[0]
        data = DataSettings(source, self.points.value(), self.noise.value(), self.test_percent.value() / 100,
                            self.seed.value())
        try:
            hidden = tuple(int(part) for part in self.hidden.text().replace(",", " ").split())
        except ValueError:
            raise DeepvisError(f"hidden: {self.hidden.text()!r} is not a list of widths, e.g. 3 3") from None
        spec = NetworkSpec(hidden, (self.activation.currentText(),), self.init.currentText())
        return LearnSetup(data, spec, self.training())

    def training(self) -> TrainSettings:
        return TrainSettings(self.optimizer.currentText(), self.learning_rate.value(), self.batch.value(),
                             self.l1.value(), self.l2.value(), self.seed.value(), self.snapshot_every)

    def set_playing(self, playing: bool) -> None:
        self.play_button.setText("❚❚ Pause" if playing else "▶ Play")
