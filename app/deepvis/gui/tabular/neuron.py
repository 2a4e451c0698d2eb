"""The Tabular mode's neuron panel: what drives the selected neuron (its variables' bars: the test
mean, or the selected row's own attributions) and the rows that excite it most."""

from __future__ import annotations

from PyQt6.QtCore import QObject, Qt
from PyQt6.QtWidgets import (
    QAbstractItemView, QCheckBox, QHBoxLayout, QHeaderView, QLabel, QSplitter, QTableWidget, QTableWidgetItem,
    QVBoxLayout, QWidget,
)

from deepvis.gui.controls import section_title
from deepvis.gui.tabular.jobs import TOP_K, Result
from deepvis.gui.tabular.widgets import AttributionBars, cell_text
from deepvis.tabular.view_model import METHOD_NAMES

EMPTY = "Train a network, then click a neuron."


def table_style(view) -> None:
    """Whole rows selected one at a time, nothing edited, columns as wide as their contents."""
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.verticalHeader().setDefaultSectionSize(20)
    view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    view.setAlternatingRowColors(True)


class NeuronPanel(QSplitter):
    """The selected neuron's title, bars and top rows; `row_bars_box` switches the bars to the row's own."""

    def __init__(self, keys_to_window: QObject, parent: QWidget | None = None):
        super().__init__(Qt.Orientation.Vertical, parent)
        self.title = QLabel(EMPTY)
        self.title.setWordWrap(True)
        self.title.setToolTip("influence: how much the neuron varies over the test rows (its standard "
                              "deviation) times the size of its outgoing weights")
        self.bars = AttributionBars()
        self.top_table = QTableWidget(0, 0)
        table_style(self.top_table)
        self.top_table.installEventFilter(keys_to_window)
        self.row_bars_box = QCheckBox("bars for the selected row")
        self.row_bars_box.setToolTip("off: the mean over the test rows; on: the selected row's own attributions, "
                                     "which sum to the neuron's value minus its value at the low row")
        upper = QWidget()
        upper_layout = QVBoxLayout(upper)
        upper_layout.setContentsMargins(0, 0, 0, 0)
        heading = QHBoxLayout()
        heading.addWidget(section_title("WHAT DRIVES THE NEURON · blue raises it, red lowers it", elastic=True), 1)
        heading.addWidget(self.row_bars_box)
        upper_layout.addLayout(heading)
        upper_layout.addWidget(self.title)
        upper_layout.addWidget(self.bars, 1)
        lower = QWidget()
        lower_layout = QVBoxLayout(lower)
        lower_layout.setContentsMargins(0, 0, 0, 0)
        lower_layout.addWidget(section_title(f"THE {TOP_K} ROWS THAT EXCITE IT MOST"))
        lower_layout.addWidget(self.top_table)
        self.addWidget(upper)
        self.addWidget(lower)
        self.setSizes([420, 260])

    def clear(self, text: str = EMPTY) -> None:
        """No neuron: `text` says why (what runs, or how it failed)."""
        self.bars.clear_bars()
        self.top_table.clear()
        self.top_table.setRowCount(0)
        self.title.setText(text)

    def show_neuron(self, r: Result, layer: int, j: int, row: int | None, row_bars: bool) -> None:
        summary = r.layers[layer]
        rank = int((summary.influence > summary.influence[j]).sum()) + 1
        if row_bars and row is not None:
            values = summary.per_row[row, j]
            over = (f"row {row}, summing to {values.sum():.3f} = {summary.values[row, j]:.3f} − "
                    f"{summary.baseline_values[j]:.3f} (its value − its value at the low row)")
            magnitudes = None
        else:
            values, magnitudes = summary.mean[j], summary.mean_abs[j]
            over = (f"mean over {len(r.test_rows)} test rows; grey: the mean absolute attribution, sorted by it "
                    "(effects of both signs that cancel in the mean)")
        self.bars.set_bars(summary.variables, values, magnitudes)
        value = f" · value for row {row}: {summary.values[row, j]:.3f}" if row is not None else ""
        stands = ""
        if summary.name == "out":  # what an output neuron's value is
            stands = (f" · the logit of class {r.outputs[j]!r}" if r.table.task == "classification"
                      else f" · the {r.outputs[j]} (standardized)")
        self.title.setText(
            f"<b>{summary.name}[{j}]</b>{stands} · rank {rank} of {len(summary.influence)} by influence{value}<br>"
            f"<span style='color:#8c919b'>{METHOD_NAMES[r.method]} from the low row (5th percentiles), "
            f"{over}</span>")
        self._fill_top_rows(r, layer, j)

    def _fill_top_rows(self, r: Result, layer: int, j: int) -> None:
        summary, table = r.layers[layer], r.table
        headers = ["value", "row", "split", table.target, "predicted"] + table.variables
        rows = summary.top_rows[j]
        self.top_table.clear()
        self.top_table.setColumnCount(len(headers))
        self.top_table.setRowCount(len(rows))
        self.top_table.setHorizontalHeaderLabels(headers)
        test = set(r.test_rows.tolist())
        for i, row in enumerate(rows):
            values = table.row(int(row))
            cells = [f"{summary.values[row, j]:.3f}", str(int(row)), "test" if row in test else "train",
                     cell_text(values[table.target]), cell_text(r.predictions[row])]
            cells += [cell_text(values[v]) for v in table.variables]
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.top_table.setItem(i, c, item)
        self.top_table.verticalHeader().setVisible(False)
