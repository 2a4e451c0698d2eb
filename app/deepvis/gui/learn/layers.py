"""The Learn controls' network editor: add or remove hidden layers, − / + neurons in each (as
TensorFlow Playground), and one activation and one L1 / L2 for every layer with a per-layer
override, a row per layer (the output's row takes penalties only: its activation follows the task).
"""

from __future__ import annotations

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtGui import QDoubleValidator
from PyQt6.QtWidgets import (QComboBox, QGridLayout, QHBoxLayout, QLabel, QLineEdit, QPushButton,
                             QVBoxLayout, QWidget)

from deepvis import DeepvisError
from deepvis.learn.network import ACTIVATIONS, MAX_WIDTH

MAX_LAYERS = 8  # the engine's limit; Playground's largest network is 6 x 8
SAME = "= all"  # a layer that takes the activation set for all


def no_wheel(widget):
    """Spin boxes and combos ignore the wheel unless focused: scrolling the column must not change them."""
    widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
    widget.wheelEvent = lambda event: event.ignore()
    return widget


def small_button(text: str, tip: str) -> QPushButton:
    button = QPushButton(text)
    button.setFixedSize(22, 22)
    button.setStyleSheet("padding: 0px;")
    button.setToolTip(tip)
    button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    return button


def penalty_field(tip: str) -> QLineEdit:
    field = QLineEdit()
    field.setPlaceholderText("all")
    field.setFixedWidth(42)
    field.setToolTip(tip)
    validator = QDoubleValidator(0.0, 1.0, 6)
    validator.setNotation(QDoubleValidator.Notation.StandardNotation)
    field.setValidator(validator)
    return field


class LayersEditor(QWidget):
    """Hidden widths, activations and per-layer penalties; `changed` after every edit."""

    changed = pyqtSignal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.widths: list[int] = []
        self.rows: list[dict] = []
        self.output = "sigmoid"
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(4)
        top = QHBoxLayout()
        self.add_button = QPushButton("+ layer")
        self.remove_button = QPushButton("− layer")
        for button, tip in ((self.add_button, "add a hidden layer (as wide as the last)"),
                            (self.remove_button, "remove the last hidden layer")):
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            button.setToolTip(tip)
            top.addWidget(button)
        self.count_label = QLabel("")
        top.addWidget(self.count_label, 1)
        outer.addLayout(top)
        self.table = QGridLayout()
        self.table.setHorizontalSpacing(3)
        self.table.setVerticalSpacing(2)
        outer.addLayout(self.table)
        self.add_button.clicked.connect(self.add_layer)
        self.remove_button.clicked.connect(self.remove_layer)

    # -- building the rows ------------------------------------------------------------------

    def set_layers(self, widths: tuple[int, ...], activations: tuple[str, ...], penalties=((), ()),
                   for_all=(0.0, 0.0), output: str = "sigmoid") -> None:
        """Show a network: its widths, activations (one for all, or one per layer) and per-layer
        L1 and L2 (one per weight layer, or none); a layer's value equal to all's is left empty."""
        self.widths = list(widths)
        for row in self.rows:  # a new network: nothing of the old one's rows stays
            for key in ("l1", "l2"):
                row[key].clear()
        self._rebuild(output)
        per_layer = len(activations) == len(widths) and len(set(activations)) > 1
        for i, row in enumerate(self.rows[:-1]):
            row["activation"].setCurrentText(activations[i] if per_layer else SAME)
        for values, key, common in zip(penalties, ("l1", "l2"), for_all):
            for row, value in zip(self.rows, values):
                row[key].setText(f"{value:g}" if value != common else "")

    def _rebuild(self, output: str = "sigmoid") -> None:
        self.output = output
        old = [(r["activation"].currentText() if r["activation"] else None, r["l1"].text(), r["l2"].text())
               for r in self.rows]
        while self.table.count():
            widget = self.table.takeAt(0).widget()
            if widget is not None:
                widget.deleteLater()
        self.rows = []
        for column, span, text in ((1, 3, "neurons"), (4, 1, "activation"), (5, 1, "L1"), (6, 1, "L2")):
            header = QLabel(text)
            header.setObjectName("sectionTitle")
            header.setAlignment(Qt.AlignmentFlag.AlignCenter)
            self.table.addWidget(header, 0, column, 1, span)
        for i, width in enumerate(self.widths):
            self.rows.append(self._row(i, width))
        self.rows.append(self._output_row(output))
        # Each hidden layer keeps its settings by place, the output its own.
        pairs = list(zip(self.rows[:-1], old[:-1])) + (list(zip(self.rows[-1:], old[-1:])) if old else [])
        for row, (activation, l1, l2) in pairs:
            if row["activation"] is not None and activation is not None:
                row["activation"].setCurrentText(activation)
            row["l1"].setText(l1)
            row["l2"].setText(l2)
        self.add_button.setEnabled(len(self.widths) < MAX_LAYERS)
        self.remove_button.setEnabled(bool(self.widths))
        self.count_label.setText(f"{len(self.widths)} hidden" if self.widths else "no hidden layer")

    def _row(self, i: int, width: int) -> dict:
        line = i + 1
        self.table.addWidget(QLabel(f"{line}"), line, 0)
        minus = small_button("−", "one neuron fewer")
        plus = small_button("+", "one neuron more")
        count = QLabel(f"{width}")
        count.setAlignment(Qt.AlignmentFlag.AlignCenter)
        count.setMinimumWidth(18)
        minus.clicked.connect(lambda _c=False, i=i: self.change_width(i, -1))
        plus.clicked.connect(lambda _c=False, i=i: self.change_width(i, 1))
        activation = no_wheel(QComboBox())
        activation.addItems([SAME, *ACTIVATIONS])
        activation.setToolTip(f"layer {line}'s activation ({SAME}: the one set for all)")
        activation.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        activation.currentTextChanged.connect(lambda _t: self.changed.emit())
        row = {"count": count, "activation": activation, "l1": penalty_field(f"layer {line}'s L1 (empty: all's)"),
               "l2": penalty_field(f"layer {line}'s L2 (empty: all's)")}
        for column, widget in enumerate((minus, count, plus, activation, row["l1"], row["l2"]), start=1):
            self.table.addWidget(widget, line, column)
        for key in ("l1", "l2"):
            row[key].editingFinished.connect(self.changed.emit)
        return row

    def _output_row(self, output: str) -> dict:
        line = len(self.widths) + 1
        self.table.addWidget(QLabel("out"), line, 0)
        kind = QLabel(f"1 {output}")
        kind.setToolTip("the output neuron: a sigmoid for two classes, linear for regression")
        self.table.addWidget(kind, line, 1, 1, 4)
        row = {"count": None, "activation": None, "l1": penalty_field("the output weights' L1 (empty: all's)"),
               "l2": penalty_field("the output weights' L2 (empty: all's)")}
        for column, key in ((5, "l1"), (6, "l2")):
            self.table.addWidget(row[key], line, column)
            row[key].editingFinished.connect(self.changed.emit)
        return row

    def set_output(self, output: str) -> None:
        self.output = output
        item = self.table.itemAtPosition(len(self.widths) + 1, 1)
        if item is not None and item.widget() is not None:
            item.widget().setText(f"1 {output}")

    # -- edits -----------------------------------------------------------------------------

    def add_layer(self) -> None:
        if len(self.widths) < MAX_LAYERS:
            self.widths.append(self.widths[-1] if self.widths else 4)
            self._rebuild(self.output)
            self.changed.emit()

    def remove_layer(self) -> None:
        if self.widths:
            self.widths.pop()
            self._rebuild(self.output)
            self.changed.emit()

    def change_width(self, layer: int, delta: int) -> None:
        width = max(1, min(MAX_WIDTH, self.widths[layer] + delta))
        if width != self.widths[layer]:
            self.widths[layer] = width
            self.rows[layer]["count"].setText(f"{width}")
            self.changed.emit()


    # -- reading ----------------------------------------------------------------------------

    def activations(self, for_all: str) -> tuple[str, ...]:
        """One activation for all, or one per hidden layer where any layer has its own."""
        chosen = [row["activation"].currentText() for row in self.rows[:-1]]
        if all(name == SAME for name in chosen):
            return (for_all,)
        return tuple(for_all if name == SAME else name for name in chosen)

    def penalties(self, key: str, for_all: float) -> tuple[float, ...]:
        """One value per weight layer where any layer has its own; () when all take `for_all`."""
        texts = [row[key].text().strip() for row in self.rows]
        if not any(texts):
            return ()
        values = []
        for i, text in enumerate(texts):
            try:
                values.append(float(text) if text else for_all)
            except ValueError:
                raise DeepvisError(f"layer {i + 1}'s {key.upper()}: {text!r} is not a number") from None
        return tuple(values)
