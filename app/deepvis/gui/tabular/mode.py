"""The Tabular mode: an MLP learns a table with named variables. Click a neuron for the variables
that drive it and the rows that excite it most; select a row for every neuron's value on it.

What is loaded, trained, selected and shown lives in the Qt-free view model
(deepvis.tabular.view_model): these widgets observe its events and call its actions. Its jobs
(gui.tabular.jobs) load the table, train and explain on the mode's worker; the GUI thread only
draws numpy arrays, in the widgets of gui.tabular.widgets and gui.tabular.neuron.
"""

from __future__ import annotations

import csv

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import Qt, QTimer
from PyQt6.QtGui import QAction, QColor
from PyQt6.QtWidgets import (
    QAbstractItemView, QComboBox, QFileDialog, QHBoxLayout, QInputDialog, QLabel, QLineEdit,
    QMenu, QMenuBar, QPushButton, QSizePolicy, QSpinBox, QSplitter, QTableView, QVBoxLayout, QWidget,
)

from deepvis.gui.controls import KeysToWindow, section_title
from deepvis.gui.jobs import JobWorker
from deepvis.gui.mode import ModeContext, WorkerMode
from deepvis.gui.tabular.jobs import Frame, Result, TabularJobs, one_torch_thread
from deepvis.gui.tabular.neuron import EMPTY, NeuronPanel, table_style
from deepvis.gui.tabular.widgets import ColumnList, NetworkView, RowsModel, plot_widget
from deepvis.jobstate import JobState
from deepvis.tabular.data import BUNDLED
from deepvis.tabular.explain import METHODS, neuron_name
from deepvis.tabular.keys import KEYS
from deepvis.tabular.view_model import Loaded, TabularViewModel

NODE_LOW, NODE_HIGH = np.array([40, 43, 50]), np.array([255, 170, 0])  # a neuron's lowest / highest value
OPEN_CSV = "Open a CSV file…"


class TabularMode(WorkerMode):
    name = "tabular"
    title = "Tabular"

    def __init__(self, context: ModeContext, parent: QWidget | None = None):
        super().__init__(context, parent)
        self.vm = TabularViewModel()
        self._started = False
        self._drawn_network = None  # the result whose network and rows are drawn
        self._build()
        self.jobs = TabularJobs()
        self.worker = JobWorker("tabular", self, on_thread_start=one_torch_thread, imports=("sklearn.datasets",))
        # epochs can finish hundreds of times a second: draw the newest at most every 40 ms
        self._frame: Frame | None = None
        self.frame_timer = QTimer(self, singleShot=True, interval=40)
        self.frame_timer.timeout.connect(self._on_frame)
        vm = self.vm
        vm.table_changed.connect(self._on_table_changed)
        vm.job_changed.connect(self._on_job_changed)
        vm.trained_epoch.connect(self._on_epoch)
        vm.result_changed.connect(self._on_result_changed)
        vm.selection_changed.connect(lambda _vm: self._on_selection())
        vm.row_bars_changed.connect(self._on_row_bars)
        vm.message.connect(self.message.emit)
        vm.job_requested.connect(self._submit)
        vm.stop_requested.connect(lambda _none: self.jobs.stop_training())

    # ------------------------------------------------------------------ construction

    def _build(self) -> None:
        self.table_box = QComboBox()
        self.table_box.addItems(list(BUNDLED) + [OPEN_CSV])
        self.table_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.table_box.setMinimumContentsLength(16)  # a long file name is cut here; its tooltip is the path
        self.table_box.activated.connect(self._on_table_chosen)
        self.hidden_edit = QLineEdit(self.vm.hidden)
        self.hidden_edit.setMaximumWidth(70)
        self.hidden_edit.setToolTip("hidden layer widths, e.g. 16 8")
        self.hidden_edit.textChanged.connect(self.vm.set_hidden)
        self.epochs_box = QSpinBox()
        self.epochs_box.setRange(1, 5000)
        self.epochs_box.setValue(self.vm.epochs)
        self.epochs_box.valueChanged.connect(self.vm.set_epochs)
        self.method_box = QComboBox()
        self.method_box.addItems(METHODS)
        self.method_box.setToolTip("ig: integrated gradients from a low row (numbers at their 5th percentile)")
        self.method_box.currentTextChanged.connect(self.vm.set_method)
        self.train_button = QPushButton("Train")
        self.train_button.clicked.connect(self.vm.train)
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self.vm.stop_training)
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
        self.network.neuron_clicked.connect(self.vm.select_neuron)
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

        self._keys_to_window = KeysToWindow(self)
        self.neuron_panel = NeuronPanel(self._keys_to_window)
        self.neuron_panel.row_bars_box.toggled.connect(self.vm.set_row_bars)

        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(left)
        top.addWidget(self.neuron_panel)
        top.setSizes([640, 520])

        self.columns_title = section_title("COLUMNS", elastic=True)
        self.column_list = ColumnList()
        self.column_list.kind_chosen.connect(self.vm.set_column_kind)
        columns = QWidget()
        columns_layout = QVBoxLayout(columns)
        columns_layout.setContentsMargins(0, 0, 0, 0)
        columns_layout.addWidget(self.columns_title)
        columns_layout.addWidget(self.column_list)
        self.rows_model = RowsModel(self)
        self.rows_view = QTableView()
        self.rows_view.setModel(self.rows_model)
        table_style(self.rows_view)
        self.rows_view.installEventFilter(self._keys_to_window)
        self.rows_view.selectionModel().currentRowChanged.connect(lambda current, _: self.vm.select_row(current.row()))
        rows = QWidget()
        rows_layout = QVBoxLayout(rows)
        rows_layout.setContentsMargins(0, 0, 0, 0)
        rows_layout.addWidget(section_title("ROWS · select one to colour every neuron by its value for that row",
                                            elastic=True))
        rows_layout.addWidget(self.rows_view)
        bottom = QSplitter(Qt.Orientation.Horizontal)
        bottom.addWidget(columns)
        bottom.addWidget(rows)
        bottom.setSizes([280, 880])

        main = QSplitter(Qt.Orientation.Vertical)
        main.addWidget(top)
        main.addWidget(bottom)
        main.setSizes([560, 220])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(controls)
        layout.addWidget(main, 1)

    # ------------------------------------------------------------------ what the shell asks

    def add_menus(self, menu_bar: QMenuBar) -> list:
        menu = QMenu("&Tabular", self)
        for text, shortcut, slot in (("Train", "T", self.vm.train), ("Stop training", "Esc", self.vm.stop_training),
                                     ("Open a CSV file…", None, self.open_csv_dialog)):
            action = QAction(text + (f"\t{shortcut}" if shortcut else ""), menu)
            action.triggered.connect(slot)
            menu.addAction(action)
        menu.addSeparator()
        self.row_bars_action = QAction("Bars for the selected row\tB", menu, checkable=True)
        self.row_bars_action.toggled.connect(self.vm.set_row_bars)
        menu.addAction(self.row_bars_action)
        menu_bar.addMenu(menu)
        return [menu]

    def handle_key(self, name: str) -> bool:
        return self.vm.press(name)

    def key_help(self) -> list[tuple[str, str]]:
        return KEYS.help()

    def status_text(self) -> str:
        return self.vm.status_text()

    def shown(self, first: bool) -> None:
        if not self._started:  # wine trains in about a second: show something meaningful at once
            self._started = True
            self.vm.choose_data(self.table_box.currentText())

    def ready(self) -> bool:
        return self.vm.result is not None and not self.vm.busy and self.neuron_panel.bars.order != []

    # ------------------------------------------------------------------ the table

    def open_csv_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a table", "", "CSV files (*.csv *.tsv *.txt);;All files (*)")
        if not path:
            self._on_table_changed(self.vm)  # the combo shows the table still chosen
            return
        header = self._header(path)
        if header is None:
            return
        target, ok = QInputDialog.getItem(self, "Target", "The column to predict:", header, len(header) - 1, False)
        if ok:
            self.use_csv(path, target, header)

    def _header(self, path: str) -> list[str] | None:
        """A CSV file's column names (its first line), or None with a message."""
        try:
            with open(path, newline="", encoding="utf-8-sig") as handle:
                first = handle.readline()
        except (OSError, UnicodeDecodeError) as error:
            self.message.emit(f"{path}: cannot be read ({error})")
            return None
        delimiter = max(",;\t", key=first.count)  # as the loader decides
        header = [h.strip() for h in next(csv.reader([first], delimiter=delimiter), [])]
        if len(header) < 2:
            self.message.emit(f"{path}: the header needs a target and at least one variable")
            return None
        return header

    def use_csv(self, path: str, target: str, header: list[str] | None = None) -> None:
        """Choose a CSV table (its target column): it loads, then a network trains on it."""
        self._started = True
        self.vm.choose_csv(path, target, header if header is not None else self._header(path) or [])

    def _on_table_chosen(self, index: int) -> None:
        text = self.table_box.itemText(index)
        if text in BUNDLED:
            self.vm.choose_data(text)
        elif text == OPEN_CSV:
            self.open_csv_dialog()
        elif self.vm.choice is not None:  # the open CSV file: read and trained again
            self.vm.choose(self.vm.choice, self.vm.header)

    def _on_table_changed(self, vm: TabularViewModel) -> None:
        """The combo names the chosen table (a CSV by its file name); the column list its columns."""
        choice = vm.choice
        box = self.table_box
        csv_item = box.count() > len(BUNDLED) + 1  # an item for the open CSV file, before OPEN_CSV
        if choice is not None and choice.csv:
            if not csv_item:
                box.insertItem(len(BUNDLED), choice.name)
            box.setItemText(len(BUNDLED), choice.name)
            box.setItemData(len(BUNDLED), choice.csv, Qt.ItemDataRole.ToolTipRole)
            box.setCurrentIndex(len(BUNDLED))
        elif choice is not None:
            box.setCurrentText(choice.data)
        box.setToolTip(choice.csv if choice is not None and choice.csv else "")
        columns = vm.columns()
        self.column_list.set_columns(columns)
        self.columns_title.setText(f"COLUMNS OF {choice.name}" if choice is not None else "COLUMNS")
        self.columns_title.setToolTip((f"{choice.csv}\n" if choice is not None and choice.csv else "")
                                      + "a column's kind: numeric, categorical (one-hot) or dropped")

    # ------------------------------------------------------------------ jobs

    def _submit(self, request) -> None:
        if self._stopped:
            return
        if not self.worker.isRunning():
            self.worker.start()
        self._started = True
        self.worker.submit(self.jobs.run(request))

    def job_yielded(self, frame: Frame) -> None:
        self.vm.epoch_done(frame)

    def job_returned(self, value) -> None:
        if isinstance(value, Loaded):
            self.vm.loaded(value)
        elif value is not None:
            self.vm.returned(value)

    def job_failed(self, message: str) -> None:
        self.vm.failed(message)

    def _on_job_changed(self, state: JobState) -> None:
        training = self.vm.training
        self.train_button.setText("Restart" if training else "Train")
        self.stop_button.setEnabled(training)
        if state.busy and not training:
            self.progress.emit(0, 0)  # loading or explaining: busy
        elif training:
            self.progress.emit(0, self.vm.epochs)
        else:
            self.progress.emit(0, -1)
        self.summary.setText(self.vm.summary())
        if state.busy:
            self.neuron_panel.title.setText(f"{state.job.text}…")
        elif self.vm.result is None:
            self.neuron_panel.clear(self.vm.summary() or EMPTY)

    def _on_epoch(self, frame: Frame) -> None:
        self._frame = frame
        if not self.frame_timer.isActive():
            self.frame_timer.start()

    def _on_frame(self) -> None:
        frame, self._frame = self._frame, None
        if frame is None or not self.vm.training or frame.ticket != self.vm.ticket:
            return
        p = frame.progress
        sizes = [frame.weights[0].shape[1]] + [w.shape[0] for w in frame.weights]
        names = [f"h{i + 1}" for i in range(len(sizes) - 2)] + ["out"]
        if sizes != self.network.sizes:
            self.network.set_structure(sizes, frame.columns, frame.outputs, names)
            self.network.select(None, None)
            self.network.set_values(None)
        self.network.set_weights(frame.weights)
        self._draw_curve()
        self.progress.emit(p.epoch, p.epochs)
        self.summary.setText(self.vm.summary())

    def _draw_curve(self) -> None:
        history = self.vm.history
        epochs = [p.epoch for p in history]
        self.train_curve.setData(epochs, [p.train_loss for p in history])
        self.test_curve.setData(epochs, [p.test_loss for p in history])

    # ------------------------------------------------------------------ results

    def _on_result_changed(self, result: Result | None) -> None:
        if result is None:  # a new table or network: nothing of the previous one stays beside it
            self._drawn_network = None
            self.neuron_panel.clear(self.neuron_panel.title.text())
            self.rows_model.clear()
            self.legend.setText("")
            self.network.set_values(None)
            self._draw_curve()
            return
        self.summary.setText(self.vm.summary())
        if self._drawn_network is not None and self._drawn_network.network is result.network:
            return  # the same network explained again: the selection redraws the neuron
        self._drawn_network = result
        self._draw_curve()
        self.network.set_structure(result.sizes, result.columns, result.outputs, [l.name for l in result.layers])
        self.network.set_weights(result.weights)
        self.rows_model.set_rows(result)

    def _on_row_bars(self, on: bool) -> None:
        for toggle in (self.neuron_panel.row_bars_box, getattr(self, "row_bars_action", None)):
            if toggle is not None and toggle.isChecked() != on:
                toggle.setChecked(on)
        self._show_neuron()

    def _on_selection(self) -> None:
        vm = self.vm
        if vm.result is None:
            return
        self.network.select(vm.layer, vm.neuron)
        row = vm.row
        if row is not None:
            if self.rows_view.currentIndex().row() != row:
                self.rows_view.selectRow(row)
                self.rows_view.scrollTo(self.rows_model.index(row, 0), QAbstractItemView.ScrollHint.PositionAtCenter)
            self.network.set_values(self._row_colors(row))
            self.legend.setText(f"row {row}: each neuron coloured by its value for this row, "
                                "from its lowest (dark) to its highest (orange) over all rows")
        self._show_neuron()

    def _on_hover(self, layer: int, neuron: int) -> None:
        r, row = self.vm.result, self.vm.row
        if r is None or layer < -1:
            self.context.show_hint(None)
            return
        if layer == -1:
            text = f"input {r.columns[neuron]}"
            if row is not None:
                text += f" = {r.inputs[row, neuron]:+.2f} (standardized) for row {row}"
        else:
            summary = r.layers[layer]
            rank = int((summary.influence > summary.influence[neuron]).sum()) + 1
            text = f"{neuron_name(summary.name, neuron, r.outputs)}, rank {rank}"
            if row is not None:
                text += f": {summary.values[row, neuron]:.3f} for row {row}"
        self.context.show_hint(text)

    def _row_colors(self, row: int) -> list[np.ndarray]:
        """Each node's colour for the row: its value placed between its lowest and highest over all rows."""
        r = self.vm.result
        columns = [r.inputs] + [layer.values for layer in r.layers]
        colors = []
        for values in columns:
            low, high = values.min(0), values.max(0)
            t = np.clip((values[row] - low) / np.maximum(high - low, 1e-9), 0, 1)
            colors.append((NODE_LOW[None] + t[:, None] * (NODE_HIGH - NODE_LOW)[None]).astype(int))
        return colors

    def _show_neuron(self) -> None:
        vm = self.vm
        if vm.result is not None:
            self.neuron_panel.show_neuron(vm.result, vm.layer, vm.neuron, vm.row, vm.show_row_bars)
