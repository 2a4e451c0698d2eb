"""The Tabular mode: an MLP learns a table with named variables. Click a neuron for the variables
that drive it and the rows that excite it most; select a row for every neuron's value on it.

The mode's jobs (gui.tabular.jobs) load the table, trains and explains; the GUI thread only
draws numpy arrays, in the widgets of tabular_widgets.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import Qt, QTimer
from PyQt6.QtGui import QAction, QColor
from PyQt6.QtWidgets import (
    QAbstractItemView, QCheckBox, QComboBox, QFileDialog, QHBoxLayout, QHeaderView, QInputDialog, QLabel, QLineEdit,
    QMenu, QMenuBar, QPushButton, QSizePolicy, QSpinBox, QSplitter, QTableView, QTableWidget, QTableWidgetItem,
    QVBoxLayout, QWidget,
)

from deepvis import DeepvisError
from deepvis.gui.controls import KeysToWindow, section_title
from deepvis.gui.mode import ModeContext, WorkerMode
from deepvis.gui.tabular.widgets import AttributionBars, NetworkView, RowsModel, cell_text, plot_widget
from deepvis.gui.jobs import JobWorker
from deepvis.tabular.keys import KEYS
from deepvis.gui.tabular.jobs import TOP_K, ExplainJob, Frame, Result, TabularJobs, TrainJob, one_torch_thread
from deepvis.tabular.data import BUNDLED
from deepvis.tabular.explain import METHODS, LayerSummary
from deepvis.tabular.train import Progress, TrainSpec

NODE_LOW, NODE_HIGH = np.array([40, 43, 50]), np.array([255, 170, 0])  # a neuron's lowest / highest value


class TabularMode(WorkerMode):
    name = "tabular"
    title = "Tabular"

    def __init__(self, context: ModeContext, parent: QWidget | None = None):
        super().__init__(context, parent)
        self.result: Result | None = None
        self.layer, self.neuron = 0, 0
        self.row: int | None = None
        self.training = False
        self.show_row_bars = False
        self.history: list[Progress] = []
        self.csv_source: dict | None = None
        self._started = False
        self._build()
        self.jobs = TabularJobs()
        self.worker = JobWorker("tabular", self, on_thread_start=one_torch_thread, imports=("sklearn.datasets",))
        # epochs can finish hundreds of times a second: draw the newest at most every 40 ms
        self._frame: Frame | None = None
        self.frame_timer = QTimer(self, singleShot=True, interval=40)
        self.frame_timer.timeout.connect(self._on_frame)

    # ------------------------------------------------------------------ construction

    def _build(self) -> None:
        self.table_box = QComboBox()
        self.table_box.addItems(list(BUNDLED) + ["CSV file…"])
        self.table_box.activated.connect(self._on_table_chosen)
        self.hidden_edit = QLineEdit("16 8")
        self.hidden_edit.setMaximumWidth(70)
        self.hidden_edit.setToolTip("hidden layer widths, e.g. 16 8")
        self.epochs_box = QSpinBox()
        self.epochs_box.setRange(1, 5000)
        self.epochs_box.setValue(100)
        self.method_box = QComboBox()
        self.method_box.addItems(METHODS)
        self.method_box.setToolTip("ig: integrated gradients from a low row (numbers at their 5th percentile)")
        self.method_box.currentTextChanged.connect(self.explain_with)
        self.train_button = QPushButton("Train")
        self.train_button.clicked.connect(self.train)
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self.stop_training)
        self.stop_button.setEnabled(False)
        self.summary = QLabel("")
        self.summary.setObjectName("emptyState")
        self.summary.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)  # clips, never widens

        controls = QHBoxLayout()
        for label, widget in (("Table", self.table_box), ("Hidden", self.hidden_edit), ("Epochs", self.epochs_box),
                              ("Attribution", self.method_box)):
            controls.addWidget(QLabel(label))
            controls.addWidget(widget)
            controls.addSpacing(8)
        controls.addWidget(self.train_button)
        controls.addWidget(self.stop_button)
        controls.addSpacing(12)
        controls.addWidget(self.summary, 1)

        self.network = NetworkView()
        self.network.neuron_clicked.connect(self.select_neuron)
        self.network.neuron_hovered.connect(self._on_hover)
        self.curve = plot_widget()
        self.curve.setFixedHeight(110)
        self.curve.addLegend(offset=(-8, 4), labelTextSize="8pt")
        self.curve.setLabel("bottom", "epoch")
        self.curve.setLabel("left", "loss")
        self.curve.getAxis("left").enableAutoSIPrefix(False)
        self.train_curve = self.curve.plot([], [], pen=pg.mkPen(QColor(201, 138, 16), width=1.5), name="train loss")
        self.test_curve = self.curve.plot([], [], pen=pg.mkPen(QColor(140, 180, 235), width=1.5), name="test loss")
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(section_title("NETWORK · links: blue positive, red negative weights; click a neuron"))
        left_layout.addWidget(self.network, 1)
        self.legend = QLabel("")
        self.legend.setObjectName("emptyState")
        self.legend.setWordWrap(True)
        left_layout.addWidget(self.legend)
        left_layout.addWidget(self.curve)

        self.neuron_title = QLabel("Train a network, then click a neuron.")
        self.neuron_title.setWordWrap(True)
        self.neuron_title.setToolTip("influence: how much the neuron varies over the test rows (its standard "
                                     "deviation) times the size of its outgoing weights")
        self.bars = AttributionBars()
        self.top_table = QTableWidget(0, 0)
        self._table_style(self.top_table)
        self._keys_to_window = KeysToWindow(self)
        self.top_table.installEventFilter(self._keys_to_window)
        right = QSplitter(Qt.Orientation.Vertical)
        upper = QWidget()
        upper_layout = QVBoxLayout(upper)
        upper_layout.setContentsMargins(0, 0, 0, 0)
        self.row_bars_box = QCheckBox("bars for the selected row")
        self.row_bars_box.setToolTip("off: the mean over the test rows; on: the selected row's own attributions, "
                                     "which sum to the neuron's value minus its value at the low row")
        self.row_bars_box.toggled.connect(self.set_row_bars)
        heading = QHBoxLayout()
        heading.addWidget(section_title("WHAT DRIVES THE NEURON · blue raises it, red lowers it"), 1)
        heading.addWidget(self.row_bars_box)
        upper_layout.addLayout(heading)
        upper_layout.addWidget(self.neuron_title)
        upper_layout.addWidget(self.bars, 1)
        lower = QWidget()
        lower_layout = QVBoxLayout(lower)
        lower_layout.setContentsMargins(0, 0, 0, 0)
        lower_layout.addWidget(section_title(f"THE {TOP_K} ROWS THAT EXCITE IT MOST"))
        lower_layout.addWidget(self.top_table)
        right.addWidget(upper)
        right.addWidget(lower)
        right.setSizes([420, 260])

        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(left)
        top.addWidget(right)
        top.setSizes([640, 520])

        self.rows_model = RowsModel(self)
        self.rows_view = QTableView()
        self.rows_view.setModel(self.rows_model)
        self._table_style(self.rows_view)
        self.rows_view.installEventFilter(self._keys_to_window)
        self.rows_view.selectionModel().currentRowChanged.connect(lambda current, _: self.select_row(current.row()))
        bottom = QWidget()
        bottom_layout = QVBoxLayout(bottom)
        bottom_layout.setContentsMargins(0, 0, 0, 0)
        bottom_layout.addWidget(section_title("ROWS · select one to colour every neuron by its value for that row"))
        bottom_layout.addWidget(self.rows_view)

        main = QSplitter(Qt.Orientation.Vertical)
        main.addWidget(top)
        main.addWidget(bottom)
        main.setSizes([560, 200])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(controls)
        layout.addWidget(main, 1)

    @staticmethod
    def _table_style(view) -> None:
        view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        view.verticalHeader().setDefaultSectionSize(20)
        view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        view.setAlternatingRowColors(True)

    # ------------------------------------------------------------------ what the shell asks

    def add_menus(self, menu_bar: QMenuBar) -> list:
        menu = QMenu("&Tabular", self)
        for text, shortcut, slot in (("Train", "T", self.train), ("Stop training", "Esc", self.stop_training),
                                     ("Open a CSV file…", None, self.open_csv_dialog)):
            action = QAction(text + (f"\t{shortcut}" if shortcut else ""), menu)
            action.triggered.connect(slot)
            menu.addAction(action)
        menu.addSeparator()
        self.row_bars_action = QAction("Bars for the selected row\tB", menu, checkable=True)
        self.row_bars_action.toggled.connect(self.set_row_bars)
        menu.addAction(self.row_bars_action)
        menu_bar.addMenu(menu)
        return [menu]

    def handle_key(self, name: str) -> bool:
        return KEYS.run(name, self)

    def key_help(self) -> list[tuple[str, str]]:
        return KEYS.help()

    def _clear_results(self, text: str) -> None:
        """A new table trains: nothing of the previous one (bars, rows, top rows) stays beside it."""
        self.result, self.row = None, None
        self.bars.clear_bars()
        self.rows_model.clear()
        self.top_table.clear()
        self.top_table.setRowCount(0)
        self.neuron_title.setText(text)
        self.legend.setText("")
        self.summary.setText(text)

    def toggle_row_bars(self) -> None:
        self.set_row_bars(not self.show_row_bars)

    def move_neuron(self, step: int) -> None:
        if self.result:
            count = self.result.sizes[self.layer + 1]
            self.select_neuron(self.layer, (self.neuron + step) % count)

    def move_layer(self, step: int) -> None:
        if self.result:
            layer = min(max(self.layer + step, 0), len(self.result.layers) - 1)
            self.select_neuron(layer, min(self.neuron, self.result.sizes[layer + 1] - 1))

    def job_yielded(self, frame: Frame) -> None:
        self._frame = frame
        if not self.frame_timer.isActive():
            self.frame_timer.start()

    def status_text(self) -> str:
        r = self.result
        if r is None:
            return "Tabular · training…" if self.training else "Tabular · press T to train"
        hidden = "-".join(str(s) for s in r.sizes[1:-1])
        score = f"{r.progress.score_name} {r.progress.test_score:.3f}" if r.progress else ""
        return (f"{r.table.name} · {len(r.table.variables)} variables · {hidden} {r.activation} · "
                f"test {score} · {r.layers[self.layer].name}[{self.neuron}]")

    def shown(self, first: bool) -> None:
        if not self._started:  # wine trains in about a second: show something meaningful at once
            self._started = True
            self.train()

    def ready(self) -> bool:
        return self.result is not None and not self.training and self.bars.order != []

    # ------------------------------------------------------------------ actions

    def table_source(self) -> dict:
        choice = self.table_box.currentText()
        if choice in BUNDLED:
            return {"data": choice}
        if self.csv_source is None:
            raise DeepvisError("no CSV file chosen: Tabular > Open a CSV file…")
        return self.csv_source

    def train(self) -> None:
        """Train on the chosen table with the chosen sizes (on the worker)."""
        if self._stopped:
            return
        try:
            hidden = tuple(int(v) for v in self.hidden_edit.text().replace(",", " ").split())
            if not hidden or min(hidden) < 1:
                raise ValueError
        except ValueError:
            self.message.emit(f"hidden sizes {self.hidden_edit.text()!r}: give widths such as 16 8")
            return
        try:
            source = self.table_source()
        except DeepvisError as error:
            self.message.emit(str(error))
            return
        spec = TrainSpec(hidden=hidden, epochs=self.epochs_box.value())
        if not self.worker.isRunning():
            self.worker.start()
        self._started = True
        self.training = True
        self.history = []
        self.train_button.setText("Restart")
        self.stop_button.setEnabled(True)
        name = source.get('data') or Path(source.get('csv_path', '')).name
        self._clear_results(f"training on {name}…")
        self.progress.emit(0, spec.epochs)
        self.worker.submit(self.jobs.train(TrainJob(source, spec, self.method_box.currentText())))

    def stop_training(self) -> None:
        self.jobs.stop_training()

    def explain_with(self, method: str) -> None:
        """Explain the shown network again with another attribution method (no retraining)."""
        if self.result is not None and not self.training and method != self.result.method:
            self.worker.submit(self.jobs.explain(ExplainJob(method)))

    def open_csv_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a table", "", "CSV files (*.csv *.tsv *.txt);;All files (*)")
        if not path:
            return
        try:
            with open(path, newline="", encoding="utf-8-sig") as handle:
                header = next(csv.reader(handle), [])
        except (OSError, UnicodeDecodeError) as error:
            self.message.emit(f"{path}: cannot be read ({error})")
            return
        if len(header) < 2:
            self.message.emit(f"{path}: the header needs a target and at least one variable")
            return
        target, ok = QInputDialog.getItem(self, "Target", "The column to predict:", header, len(header) - 1, False)
        if ok:
            self.use_csv(path, target)

    def use_csv(self, path: str, target: str, train: bool = True) -> None:
        """Choose a CSV table (its target column) and train on it."""
        self.csv_source = {"csv_path": path, "target": target}
        self.table_box.setCurrentIndex(self.table_box.count() - 1)
        if train:
            self.train()

    def _on_table_chosen(self, index: int) -> None:
        if self.table_box.itemText(index) in BUNDLED:
            self.train()
        else:
            self.open_csv_dialog()

    def set_row_bars(self, on: bool) -> None:
        """The bars show the selected row's attributions (on) or the test rows' mean (off)."""
        self.show_row_bars = bool(on)
        for toggle in (self.row_bars_box, getattr(self, "row_bars_action", None)):
            if toggle is not None and toggle.isChecked() != self.show_row_bars:
                toggle.setChecked(self.show_row_bars)
        self._show_neuron()

    def select_neuron(self, layer: int, neuron: int) -> None:
        if self.result is None:
            return
        self.layer, self.neuron = layer, neuron
        self.network.select(layer, neuron)
        self._show_neuron()

    def select_row(self, row: int) -> None:
        if self.result is None or not 0 <= row < len(self.result.table):
            return
        self.row = row
        if self.rows_view.currentIndex().row() != row:
            self.rows_view.selectRow(row)
            self.rows_view.scrollTo(self.rows_model.index(row, 0), QAbstractItemView.ScrollHint.PositionAtCenter)
        self.network.set_values(self._row_colors(row))
        self.legend.setText(f"row {row}: each neuron coloured by its value for this row, "
                            "from its lowest (dark) to its highest (orange) over all rows")
        self._show_neuron()

    # ------------------------------------------------------------------ results

    def _on_frame(self) -> None:
        frame, self._frame = self._frame, None
        if frame is None or not self.training:
            return
        p = frame.progress
        sizes = [frame.weights[0].shape[1]] + [w.shape[0] for w in frame.weights]
        names = [f"h{i + 1}" for i in range(len(sizes) - 2)] + ["out"]
        if sizes != self.network.sizes:
            self.network.set_structure(sizes, frame.columns, frame.outputs, names)
            self.network.select(None, None)
            self.network.set_values(None)
        self.network.set_weights(frame.weights)
        self.history.append(p)
        self._draw_curve()
        self.progress.emit(p.epoch, p.epochs)
        self.summary.setText(f"epoch {p.epoch}/{p.epochs} · loss {p.train_loss:.3f} · "
                             f"test {p.score_name} {p.test_score:.3f}")

    def _draw_curve(self) -> None:
        epochs = [p.epoch for p in self.history]
        self.train_curve.setData(epochs, [p.train_loss for p in self.history])
        self.test_curve.setData(epochs, [p.test_loss for p in self.history])

    def job_returned(self, result: Result | None) -> None:
        if result is None:
            return
        again = self.result is not None and result.table is self.result.table
        self.result = result
        if again:  # the same network explained with another method: keep what is selected
            self.message.emit(f"{result.table.name}: explained with {result.method} ({result.seconds:.2f} s)")
            self._show_neuron()
            return
        self.training = False
        self.history = list(result.history)
        self._draw_curve()
        self.train_button.setText("Train")
        self.stop_button.setEnabled(False)
        self.progress.emit(0, -1)
        self.network.set_structure(result.sizes, result.columns, result.outputs, [l.name for l in result.layers])
        self.network.set_weights(result.weights)
        self.rows_model.set_rows(result)
        p = result.progress
        score = f"test {p.score_name} {p.test_score:.3f}" if p else "no epoch finished"
        self.summary.setText(f"{result.table.name}: {result.table.task} of {result.table.target!r} · "
                             f"{len(result.train_rows)} train / {len(result.test_rows)} test rows · {score}")
        self.message.emit(f"{result.table.name}: {score} after {p.epoch if p else 0} epochs ({result.seconds:.1f} s)"
                          + (f" · {result.stopped}" if result.stopped else ""))
        first = result.layers[0]
        best = int(np.argmax(first.influence))
        self.layer, self.neuron = 0, best
        self.network.select(0, best)
        self.select_row(int(first.top_rows[best][0]))

    def job_failed(self, message: str) -> None:
        self.training = False
        self.train_button.setText("Train")
        self.stop_button.setEnabled(False)
        self.progress.emit(0, -1)
        self.summary.setText(message)
        self.message.emit(message)

    def _on_hover(self, layer: int, neuron: int) -> None:
        r = self.result
        if r is None or layer < -1:
            self.context.show_hint(None)
            return
        if layer == -1:
            text = f"input {r.columns[neuron]}"
            if self.row is not None:
                text += f" = {r.inputs[self.row, neuron]:+.2f} (standardized) for row {self.row}"
        else:
            summary = r.layers[layer]
            text = f"{summary.name}[{neuron}], rank {int((summary.influence > summary.influence[neuron]).sum()) + 1}"
            if self.row is not None:
                text += f": {summary.values[self.row, neuron]:.3f} for row {self.row}"
        self.context.show_hint(text)

    def _row_colors(self, row: int) -> list[np.ndarray]:
        """Each node's colour for the row: its value placed between its lowest and highest over all rows."""
        r = self.result
        columns = [r.inputs] + [layer.values for layer in r.layers]
        colors = []
        for values in columns:
            low, high = values.min(0), values.max(0)
            t = np.clip((values[row] - low) / np.maximum(high - low, 1e-9), 0, 1)
            colors.append((NODE_LOW[None] + t[:, None] * (NODE_HIGH - NODE_LOW)[None]).astype(int))
        return colors

    def _show_neuron(self) -> None:
        r = self.result
        if r is None:
            return
        summary = r.layers[self.layer]
        j = self.neuron
        rank = int((summary.influence > summary.influence[j]).sum()) + 1
        method = {"ig": "integrated gradients", "grad-x-input": "gradient × input", "ablation": "ablation"}[r.method]
        if self.show_row_bars and self.row is not None:
            values = summary.per_row[self.row, j]
            over = (f"row {self.row}, summing to {values.sum():.3f} = {summary.values[self.row, j]:.3f} − "
                    f"{summary.baseline_values[j]:.3f} (its value − its value at the low row)")
            magnitudes = None
        else:
            values, magnitudes = summary.mean[j], summary.mean_abs[j]
            over = (f"mean over {len(r.test_rows)} test rows; grey: the mean absolute attribution, sorted by it "
                    "(effects of both signs that cancel in the mean)")
        self.bars.set_bars(summary.variables, values, magnitudes)
        value = f" · value for row {self.row}: {summary.values[self.row, j]:.3f}" if self.row is not None else ""
        self.neuron_title.setText(
            f"<b>{summary.name}[{j}]</b> · rank {rank} of {len(summary.influence)} by influence{value}<br>"
            f"<span style='color:#8c919b'>{method} from the low row (5th percentiles), {over}</span>")
        self._fill_top_rows(summary, j)

    def _fill_top_rows(self, summary: LayerSummary, j: int) -> None:
        r = self.result
        table = r.table
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
