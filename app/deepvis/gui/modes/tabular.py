"""The Tabular mode: an MLP learns a table with named variables. Click a neuron for the variables
that drive it and the rows that excite it most; select a row for every neuron's value on it.

The mode's worker loads the table, trains (one snapshot per epoch, latest wins) and computes
every layer's attributions once; the GUI thread only draws numpy arrays.
"""

from __future__ import annotations

import csv
import dataclasses
import logging
import threading
import time
from dataclasses import dataclass, field

import numpy as np
import pyqtgraph as pg
import torch
from PyQt6.QtCore import QAbstractTableModel, QModelIndex, Qt, QThread, QTimer, pyqtSignal
from PyQt6.QtGui import QAction, QColor, QFont
from PyQt6.QtWidgets import (
    QAbstractItemView, QCheckBox, QComboBox, QFileDialog, QHBoxLayout, QHeaderView, QInputDialog, QLabel, QLineEdit,
    QMenu, QMenuBar, QPushButton, QSizePolicy, QSpinBox, QSplitter, QTableView, QTableWidget, QTableWidgetItem, QVBoxLayout,
    QWidget,
)

from deepvis import DeepvisError
from deepvis.gui.modes.base import ModeContext, WorkerMode
from deepvis.tabular.data import BUNDLED, Table, load_table
from deepvis.tabular.explain import METHODS, LayerSummary, TrainedTable, summarize_layers
from deepvis.tabular.train import Progress, Trainer, TrainSpec, layer_weights
from deepvis.gui.controls import section_title

log = logging.getLogger("deepvis.gui")

POSITIVE = QColor(79, 143, 230)  # blue: a positive weight or attribution
NEGATIVE = QColor(224, 85, 74)  # red: a negative one
NODE = QColor(140, 145, 155)
NODE_LOW, NODE_HIGH = np.array([40, 43, 50]), np.array([255, 170, 0])  # a neuron's lowest / highest value
ACCENT = QColor(255, 255, 255)
BACKGROUND = "#18191c"
TOP_K = 9  # rows kept per neuron: the table's twin of the top-9 patches


# --------------------------------------------------------------------------- the worker


@dataclass
class TrainJob:
    source: dict  # load_table's keywords: {"data": "wine"} or {"csv_path": ..., "target": ...}
    spec: TrainSpec
    method: str = "ig"


@dataclass
class ExplainJob:
    """The last trained network explained again with another method."""

    method: str


@dataclass
class Frame:
    """One epoch, display-ready: the figures and every layer's weights."""

    progress: Progress
    weights: list[np.ndarray]
    columns: list[str]
    outputs: list[str]


@dataclass
class Result:
    """A trained network and everything the mode shows of it."""

    table: Table
    columns: list[str]
    outputs: list[str]
    sizes: list[int]
    activation: str
    train_rows: np.ndarray
    test_rows: np.ndarray
    predictions: list
    weights: list[np.ndarray]
    layers: list[LayerSummary]
    inputs: np.ndarray  # rows x columns, encoded
    progress: Progress | None
    method: str
    seconds: float
    stopped: str | None = None
    history: list[Progress] = field(default_factory=list)


def output_names(table: Table) -> list[str]:
    return list(table.classes) if table.classes else [table.target]


class TabularWorker(QThread):
    """Trains and explains one job at a time; pauses between epochs while the mode is hidden."""

    frame_ready = pyqtSignal()  # take_frame() has the newest epoch
    result_ready = pyqtSignal(object)  # Result
    failed = pyqtSignal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._active = threading.Event()
        self._active.set()
        self._job: TrainJob | ExplainJob | None = None
        self._last: tuple[TrainedTable, Result] | None = None  # touched by the worker thread only
        self._trainer: Trainer | None = None
        self._stopping = False
        self._frame: Frame | None = None
        self._signalled = False

    # -- called from the GUI thread

    def submit(self, job: TrainJob | ExplainJob) -> None:
        """Do this next; a training run in progress is stopped first."""
        with self._lock:
            self._job = job
            if self._trainer is not None:
                self._trainer.stop()
        self._wake.set()

    def stop_training(self) -> None:
        with self._lock:
            if self._trainer is not None:
                self._trainer.stop()

    def set_active(self, active: bool) -> None:
        (self._active.set if active else self._active.clear)()

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
            if self._trainer is not None:
                self._trainer.stop()
        self._wake.set()
        self._active.set()

    def take_frame(self) -> Frame | None:
        with self._lock:
            frame, self._frame, self._signalled = self._frame, None, False
        return frame

    # -- the thread

    def run(self) -> None:
        torch.set_num_threads(1)  # per thread with OpenMP; networks this small gain nothing from a team
        while True:
            self._wake.wait()
            with self._lock:
                if self._stopping:
                    return
                job, self._job = self._job, None
                self._wake.clear()
            if job is None:
                continue
            try:
                result = self._explain(job) if isinstance(job, ExplainJob) else self._train(job)
            except DeepvisError as error:
                self.failed.emit(str(error))
                continue
            except Exception as error:  # shown in the status bar, never a silent death
                log.exception("tabular training failed")
                self.failed.emit(f"{type(error).__name__}: {error}")
                continue
            if result is not None:
                self.result_ready.emit(result)

    def _publish(self, frame: Frame) -> None:
        with self._lock:
            self._frame = frame
            signal, self._signalled = not self._signalled, True
        if signal:
            self.frame_ready.emit()

    def _train(self, job: TrainJob) -> Result | None:
        start = time.perf_counter()
        table = load_table(**job.source)
        trainer = Trainer(table, job.spec)
        with self._lock:
            if self._stopping:
                return None
            self._trainer = trainer
        columns, outputs = trainer.encoding.columns, output_names(table)
        history = []
        try:
            for progress in trainer.run():
                history.append(progress)
                self._publish(Frame(progress, layer_weights(trainer.model), columns, outputs))
                while not self._active.is_set():  # hidden: wait, holding no CPU
                    self._active.wait(0.2)
                with self._lock:
                    if self._stopping or self._job is not None:
                        trainer.stop()
        finally:
            with self._lock:
                self._trainer = None
        with self._lock:
            if self._stopping or self._job is not None:
                return None  # a newer job replaces this one
        trained = TrainedTable(trainer.model, table, trainer.encoding, trainer.train_rows, trainer.test_rows,
                               (trainer.y_mean, trainer.y_std))
        layers = summarize_layers(trained, job.method, k=TOP_K)
        result = Result(table, columns, outputs, trainer.model.sizes, trainer.model.activation_name,
                        trainer.train_rows, trainer.test_rows, trained.predictions(), layer_weights(trainer.model),
                        layers, trained.x.numpy(), trainer.last, job.method, time.perf_counter() - start,
                        trainer.diverged or ("stopped" if trainer.stopped else None), history)
        self._last = (trained, result)
        return result

    def _explain(self, job: ExplainJob) -> Result | None:
        if self._last is None:
            return None
        trained, last = self._last
        start = time.perf_counter()
        result = dataclasses.replace(last, layers=summarize_layers(trained, job.method, k=TOP_K), method=job.method,
                                     seconds=time.perf_counter() - start)
        self._last = (trained, result)
        return result


# --------------------------------------------------------------------------- widgets


def _plot(**kwargs) -> pg.PlotWidget:
    plot = pg.PlotWidget(background=BACKGROUND, **kwargs)
    plot.setMenuEnabled(False)
    plot.setMouseEnabled(False, False)
    plot.hideButtons()
    return plot


class NetworkView(pg.PlotWidget):
    """The network as columns of neurons; links blue/red by weight sign, wider and brighter by size."""

    neuron_clicked = pyqtSignal(int, int)  # layer index (0 = h1), neuron
    neuron_hovered = pyqtSignal(int, int)  # (-2, -2) when the pointer leaves the neurons

    def __init__(self, parent=None):
        super().__init__(parent, background=BACKGROUND)
        self.setMenuEnabled(False)
        self.setMouseEnabled(False, False)
        self.hideButtons()
        self.hideAxis("left")
        self.hideAxis("bottom")
        self.getViewBox().invertY(True)
        self.sizes: list[int] = []
        self.positions: list[np.ndarray] = []  # per column (input first): y of each node
        self.links: list[pg.PlotCurveItem] = []
        self.labels: list[pg.TextItem] = []
        self.nodes = pg.ScatterPlotItem(hoverable=True, tip=None)
        self.nodes.setZValue(10)
        self.nodes.sigClicked.connect(self._on_click)
        self.nodes.sigHovered.connect(self._on_hover)
        self.weights: list[np.ndarray] = []
        # the selected neuron's own links, brighter, over the others (positive, negative)
        self.focus = [pg.PlotCurveItem(connect="pairs", antialias=True) for _ in range(2)]
        for item in self.focus:
            item.setZValue(5)
            self.addItem(item)
        self.ring = pg.ScatterPlotItem(size=22, brush=None, pen=pg.mkPen(ACCENT, width=2.5))
        self.ring.setZValue(11)
        self.addItem(self.nodes)
        self.addItem(self.ring)
        self.selected: tuple[int, int] | None = None
        self._colors: list[np.ndarray] | None = None

    def set_structure(self, sizes: list[int], columns: list[str], outputs: list[str], layer_names: list[str]) -> None:
        if sizes == self.sizes and self.labels and self.labels[0].toPlainText() == columns[0]:
            return
        for item in self.labels + self.links:
            self.removeItem(item)
        self.labels, self.links, self.sizes = [], [], list(sizes)
        tallest = max(sizes)
        self.positions = [(np.arange(n) - (n - 1) / 2) / max(tallest - 1, 1) for n in sizes]
        font = QFont()
        font.setPointSizeF(8.0 if sizes[0] > 16 else 9.0)
        for name, y in zip(columns, self.positions[0]):
            self._label(_short(name), -0.08, y, (1, 0.5), font)
        for name, y in zip(outputs, self.positions[-1]):
            self._label(_short(name), len(sizes) - 1 + 0.08, y, (0, 0.5), font)
        titles = ["input"] + [f"{n} ({s})" for n, s in zip(layer_names, sizes[1:])]
        for x, title in enumerate(titles):
            self._label(title, x, -0.67, (0.5, 0), None, QColor(169, 173, 182))
        for _ in range(8):  # 2 signs x 4 widths
            curve = pg.PlotCurveItem(connect="pairs", antialias=True)
            self.addItem(curve)
            self.links.append(curve)
        # room for the labels: about a quarter of the width on each side
        self.setXRange(-1.2, len(sizes) - 1 + 0.9, padding=0)
        self.setYRange(-0.69, 0.56, padding=0)
        self._colors = None
        self._draw_nodes()

    def _label(self, text, x, y, anchor, font=None, color=QColor(200, 203, 210)) -> None:
        item = pg.TextItem(text, color=color, anchor=anchor)
        if font is not None:
            item.setFont(font)
        item.setPos(x, y)
        self.addItem(item)
        self.labels.append(item)

    def set_weights(self, weights: list[np.ndarray]) -> None:
        """Links: one curve item per sign and width class (8 items, however many links)."""
        if [w.shape for w in weights] != [(b, a) for a, b in zip(self.sizes[:-1], self.sizes[1:])]:
            return
        self.weights = weights
        xs, ys, strength, sign = [], [], [], []
        for layer, w in enumerate(weights):
            scale = float(np.abs(w).max()) or 1.0
            to, frm = np.meshgrid(np.arange(w.shape[0]), np.arange(w.shape[1]), indexing="ij")
            n = w.size
            xs.append(np.stack([np.full(n, layer), np.full(n, layer + 1)], 1).ravel())
            ys.append(np.stack([self.positions[layer][frm.ravel()], self.positions[layer + 1][to.ravel()]], 1).ravel())
            strength.append(np.repeat(np.abs(w).ravel() / scale, 2))
            sign.append(np.repeat(w.ravel() >= 0, 2))
        xs, ys, strength, sign = map(np.concatenate, (xs, ys, strength, sign))
        bins = np.minimum((strength * 4).astype(int), 3)
        for i, curve in enumerate(self.links):
            positive, level = i < 4, i % 4
            chosen = (sign == positive) & (bins == level)
            color = QColor(POSITIVE if positive else NEGATIVE)
            color.setAlpha(45 + 60 * level)
            curve.setData(xs[chosen], ys[chosen], pen=pg.mkPen(color, width=0.6 + 1.1 * level))
        self._draw_focus()

    def set_values(self, colors: list[np.ndarray] | None) -> None:
        """Node colours (RGB rows per column, input first), or None for plain nodes."""
        self._colors = colors
        self._draw_nodes()

    def select(self, layer: int | None, neuron: int | None) -> None:
        self.selected = None if layer is None else (layer, neuron)
        if self.selected is None or not self.sizes:
            self.ring.setData([], [])
        else:
            self.ring.setData([layer + 1], [self.positions[layer + 1][neuron]])
        self._draw_focus()

    def _draw_focus(self) -> None:
        """The selected neuron's incoming and outgoing links, white over the others."""
        if self.selected is None or not self.weights:
            for item in self.focus:
                item.setData([], [])
            return
        layer, j = self.selected
        column = layer + 1
        here = self.positions[column][j]
        links = [(column - 1, y, column, here, w) for y, w in zip(self.positions[column - 1], self.weights[layer][j])]
        if layer + 1 < len(self.weights):
            links += [(column, here, column + 1, y, w)
                      for y, w in zip(self.positions[column + 1], self.weights[layer + 1][:, j])]
        for item, positive, color in ((self.focus[0], True, QColor(150, 195, 255)),
                                      (self.focus[1], False, QColor(255, 150, 140))):
            chosen = [l for l in links if (l[4] >= 0) == positive]
            x = np.array([[a, c] for a, _, c, _, _ in chosen], float).ravel()
            y = np.array([[b, d] for _, b, _, d, _ in chosen], float).ravel()
            item.setData(x, y, pen=pg.mkPen(color, width=1.8))

    def _draw_nodes(self) -> None:
        spots = []
        for column, ys in enumerate(self.positions):
            size = 9 if column == 0 and len(ys) > 16 else 13
            for i, y in enumerate(ys):
                color = NODE if self._colors is None else QColor(*self._colors[column][i])
                spots.append({"pos": (column, y), "data": (column - 1, i), "size": size,
                              "brush": pg.mkBrush(color), "pen": pg.mkPen(QColor(20, 21, 24), width=1)})
        self.nodes.setData(spots)
        if self.selected is not None:
            self.select(*self.selected)

    def _on_click(self, _item, points, _event=None) -> None:
        if len(points):
            layer, neuron = points[0].data()
            if layer >= 0:
                self.neuron_clicked.emit(layer, neuron)

    def _on_hover(self, _item, points, _event=None) -> None:
        if len(points):
            self.neuron_hovered.emit(*points[0].data())
        else:
            self.neuron_hovered.emit(-2, -2)


def _short(name: str, limit: int = 20) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


class AttributionBars(pg.PlotWidget):
    """A neuron's variables as horizontal bars, largest first: blue raises it, red lowers it."""

    def __init__(self, parent=None):
        super().__init__(parent, background=BACKGROUND)
        self.setMenuEnabled(False)
        self.setMouseEnabled(False, False)
        self.hideButtons()
        self.getViewBox().invertY(True)
        self.showGrid(x=True, y=False, alpha=0.15)
        self.bars = pg.BarGraphItem(x0=[], y=[], height=0.7, width=[])
        self.addItem(self.bars)
        self.addItem(pg.InfiniteLine(pos=0, angle=90, pen=pg.mkPen(QColor(120, 124, 132), width=1)))
        self.getAxis("left").setStyle(tickLength=0)
        self.getAxis("bottom").setStyle(tickLength=-4)
        self.order: list[str] = []

    def set_bars(self, variables: list[str], values: np.ndarray) -> None:
        order = np.argsort(-np.abs(values), kind="stable")
        values = values[order]
        self.order = [variables[i] for i in order]
        brushes = [pg.mkBrush(POSITIVE if v >= 0 else NEGATIVE) for v in values]
        y = np.arange(len(values))
        self.bars.setOpts(x0=np.minimum(values, 0), y=y, width=np.abs(values), height=0.72, brushes=brushes,
                          pens=[pg.mkPen(None)] * len(values))
        self.getAxis("left").setTicks([[(i, _short(n)) for i, n in enumerate(self.order)]])
        limit = float(np.abs(values).max(initial=0)) * 1.08 or 1.0
        self.setXRange(-limit, limit, padding=0)
        self.setYRange(-0.6, len(values) - 0.4, padding=0)


class RowsModel(QAbstractTableModel):
    """Every row of the table with its split, target and prediction, as text."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.headers: list[str] = []
        self.cells: list[list[str]] = []

    def set_rows(self, result: Result) -> None:
        table = result.table
        self.beginResetModel()
        self.headers = ["split", table.target, "predicted"] + table.variables
        test = set(result.test_rows.tolist())
        self.cells = []
        for r in range(len(table)):
            row = table.row(r)
            self.cells.append(["test" if r in test else "train", _text(row[table.target]),
                               _text(result.predictions[r])] + [_text(row[v]) for v in table.variables])
        self.endResetModel()

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.cells)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.headers)

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.DisplayRole and index.isValid():
            return self.cells[index.row()][index.column()]
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        return None

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Horizontal:
            return self.headers[section] if section < len(self.headers) else None
        return str(section)


def _text(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


# --------------------------------------------------------------------------- the mode


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
        self.worker = TabularWorker(self)
        # epochs can finish hundreds of times a second: draw the newest at most every 40 ms
        self.frame_timer = QTimer(self, singleShot=True, interval=40)
        self.frame_timer.timeout.connect(self._on_frame)
        self.worker.frame_ready.connect(lambda: self.frame_timer.isActive() or self.frame_timer.start())
        self.worker.result_ready.connect(self._on_result)
        self.worker.failed.connect(self._on_failed)

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
        self.curve = _plot()
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
        if name.lower() == "t":
            self.train()
        elif name == "Esc":
            self.stop_training()
        elif name.lower() == "b":
            self.set_row_bars(not self.show_row_bars)
        elif name in ("Up", "Down") and self.result:
            count = self.result.sizes[self.layer + 1]
            self.select_neuron(self.layer, (self.neuron + (1 if name == "Down" else -1)) % count)
        elif name in ("Left", "Right") and self.result:
            layers = len(self.result.layers)
            layer = min(max(self.layer + (1 if name == "Right" else -1), 0), layers - 1)
            self.select_neuron(layer, min(self.neuron, self.result.sizes[layer + 1] - 1))
        else:
            return False
        return True

    def key_help(self) -> list[tuple[str, str]]:
        return [("T", "train the network"), ("Esc", "stop training"), ("Up/Down", "previous/next neuron"),
                ("Left/Right", "previous/next layer"), ("B", "bars: test mean / selected row")]

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
        self.summary.setText(f"training on {source.get('data') or source.get('csv_path')}…")
        self.progress.emit(0, spec.epochs)
        self.worker.submit(TrainJob(source, spec, self.method_box.currentText()))

    def stop_training(self) -> None:
        self.worker.stop_training()

    def explain_with(self, method: str) -> None:
        """Explain the shown network again with another attribution method (no retraining)."""
        if self.result is not None and not self.training and method != self.result.method:
            self.worker.submit(ExplainJob(method))

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
        frame = self.worker.take_frame()
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

    def _on_result(self, result: Result) -> None:
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

    def _on_failed(self, message: str) -> None:
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
        else:
            values, over = summary.mean[j], f"mean over {len(r.test_rows)} test rows"
        self.bars.set_bars(summary.variables, values)
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
                     _text(values[table.target]), _text(r.predictions[row])] + [_text(values[v]) for v in table.variables]
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.top_table.setItem(i, c, item)
        self.top_table.verticalHeader().setVisible(False)
