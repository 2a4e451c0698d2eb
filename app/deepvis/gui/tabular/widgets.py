"""The Tabular mode's widgets: the network as columns of neurons, a neuron's attribution bars, the
table of rows, and the list of columns with their kinds."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QAbstractTableModel, QModelIndex, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QFont
from PyQt6.QtWidgets import QAbstractItemView, QComboBox, QHeaderView, QTableWidget, QTableWidgetItem

from deepvis.gui.controls import KeysToWindow
from deepvis.gui.tabular.jobs import Result
from deepvis.tabular.view_model import KINDS, UNREAD

POSITIVE = QColor(79, 143, 230)  # blue: a positive weight or attribution
NEGATIVE = QColor(224, 85, 74)  # red: a negative one
NODE = QColor(140, 145, 155)
ACCENT = QColor(255, 255, 255)
BACKGROUND = "#18191c"


def plot_widget(**kwargs) -> pg.PlotWidget:
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
        self.structure: tuple | None = None  # what set_structure drew: sizes and every label
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
        structure = (list(sizes), list(columns), list(outputs), list(layer_names))
        if structure == self.structure:
            return
        self.structure = structure
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
            self._label(_short(name, 24), len(sizes) - 1 + 0.08, y, (0, 0.5), font)
        titles = ["input"] + [f"{n} ({s})" for n, s in zip(layer_names, sizes[1:])]
        for x, title in enumerate(titles):
            self._label(title, x, -0.67, (0.5, 0), None, QColor(169, 173, 182))
        for _ in range(8):  # 2 signs x 4 widths
            curve = pg.PlotCurveItem(connect="pairs", antialias=True)
            self.addItem(curve)
            self.links.append(curve)
        # room for the labels: about a quarter of the width on each side, more for long output labels
        # ("predicted progression"): a character is about 0.05 of a layer's spacing at the usual width
        longest = max(len(_short(name, 24)) for name in outputs)
        self.setXRange(-1.2, len(sizes) - 1 + max(0.9, 0.3 + 0.05 * longest), padding=0)
        self.setYRange(-0.69, 0.56, padding=0)
        self._colors = None
        if self.selected is not None and not (self.selected[0] + 1 < len(sizes)
                                              and self.selected[1] < sizes[self.selected[0] + 1]):
            self.selected = None  # a neuron of the previous network
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
        # Behind each signed bar, a grey one as long as the mean |attribution|: a variable whose effects
        # cancel over the rows (a category that raises the neuron for some, lowers it for others) shows.
        self.magnitudes = pg.BarGraphItem(x0=[], y=[], height=0.72, width=[], brush=pg.mkBrush(110, 114, 122, 110),
                                          pen=pg.mkPen(None))
        self.addItem(self.magnitudes)
        self.bars = pg.BarGraphItem(x0=[], y=[], height=0.7, width=[])
        self.addItem(self.bars)
        self.addItem(pg.InfiniteLine(pos=0, angle=90, pen=pg.mkPen(QColor(120, 124, 132), width=1)))
        self.getAxis("left").setStyle(tickLength=0)
        self.getAxis("bottom").setStyle(tickLength=-4)
        self.order: list[str] = []

    def clear_bars(self) -> None:
        """No neuron shown. (Not `clear`: pyqtgraph's PlotWidget sets its plot's clear() on the instance.)"""
        self.order = []
        self.bars.setOpts(x0=[], y=[], width=[], height=0.72)
        self.magnitudes.setOpts(x0=[], y=[], width=[], height=0.72)
        self.getAxis("left").setTicks([[]])

    def set_bars(self, variables: list[str], values: np.ndarray, magnitudes: np.ndarray | None = None) -> None:
        """Signed values as coloured bars; `magnitudes` (the mean |attribution|, >= |values|) as grey
        bars behind them, pointing the same way, and the order (largest first) by them."""
        magnitudes = np.abs(values) if magnitudes is None else np.maximum(magnitudes, np.abs(values))
        order = np.argsort(-magnitudes, kind="stable")
        values, magnitudes = values[order], magnitudes[order]
        self.order = [variables[i] for i in order]
        brushes = [pg.mkBrush(POSITIVE if v >= 0 else NEGATIVE) for v in values]
        y = np.arange(len(values))
        self.bars.setOpts(x0=np.minimum(values, 0), y=y, width=np.abs(values), height=0.5, brushes=brushes,
                          pens=[pg.mkPen(None)] * len(values))
        reach = np.where(values >= 0, magnitudes, -magnitudes)
        self.magnitudes.setOpts(x0=np.minimum(reach, 0), y=y, width=magnitudes, height=0.72)
        self.getAxis("left").setTicks([[(i, _short(n)) for i, n in enumerate(self.order)]])
        limit = float(magnitudes.max(initial=0)) * 1.08 or 1.0
        self.setXRange(-limit, limit, padding=0)
        self.setYRange(-0.6, len(values) - 0.4, padding=0)


class RowsModel(QAbstractTableModel):
    """Every row of the table with its split, target and prediction, as text."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.headers: list[str] = []
        self.cells: list[list[str]] = []

    def clear(self) -> None:
        self.beginResetModel()
        self.headers, self.cells = [], []
        self.endResetModel()

    def set_rows(self, result: Result) -> None:
        table = result.table
        self.beginResetModel()
        self.headers = ["split", table.target, "predicted"] + table.variables
        test = set(result.test_rows.tolist())
        self.cells = []
        for r in range(len(table)):
            row = table.row(r)
            self.cells.append(["test" if r in test else "train", cell_text(row[table.target]),
                               cell_text(result.predictions[r])] + [cell_text(row[v]) for v in table.variables])
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


def cell_text(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


class KindBox(QComboBox):
    """A column's kind. The wheel scrolls the list it sits in, never the kind: a kind chosen
    reads the table again."""

    def wheelEvent(self, event) -> None:  # noqa: N802  (Qt's name)
        event.ignore()


class ColumnList(QTableWidget):
    """The table's columns: the target first, then each column with its kind (numeric,
    categorical or dropped) to choose; a column that reads like an id is marked."""

    kind_chosen = pyqtSignal(str, str)  # column, kind

    def __init__(self, parent=None):
        super().__init__(0, 2, parent)
        self.setHorizontalHeaderLabels(["column", "kind"])
        self.verticalHeader().setVisible(False)
        self.verticalHeader().setDefaultSectionSize(22)
        header = self.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Fixed)
        probe = KindBox()
        probe.addItems([UNREAD, *KINDS])
        self.setColumnWidth(1, probe.sizeHint().width() + 4)  # the combo boxes' own width, never squeezed
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self._keys_to_window = KeysToWindow(self)  # typed letters are the window's keys, not a kind's
        self.installEventFilter(self._keys_to_window)
        self.shown: list[tuple[str, str, str]] = []

    def set_columns(self, columns: list[tuple[str, str, str]]) -> None:
        """(column, kind, note) rows, as TabularViewModel.columns() gives them."""
        if columns == self.shown:
            return
        self.shown = list(columns)
        self.clearContents()
        self.setRowCount(len(columns))
        for i, (name, kind, note) in enumerate(columns):
            item = QTableWidgetItem(f"{name}  ⚠ id?" if note else name)
            item.setToolTip(f"{name}: {note}" if note else name)
            if note:
                item.setForeground(QColor(240, 180, 60))
            self.setItem(i, 0, item)
            if kind == "target":
                self.setItem(i, 1, QTableWidgetItem("target"))
                continue
            box = KindBox()
            box.addItems(([UNREAD] if kind == UNREAD else []) + list(KINDS))
            box.setCurrentText(kind)
            box.setToolTip("numeric: numbers as they are; categorical: its values name categories (one-hot); "
                           "dropped: left out. The table is read again and a new network trains.")
            box.installEventFilter(self._keys_to_window)
            box.textActivated.connect(lambda text, name=name: text != UNREAD and self.kind_chosen.emit(name, text))
            self.setCellWidget(i, 1, box)

    def kind(self, name: str) -> str | None:
        """The kind shown for a column (None when it is not listed)."""
        for i, (column, kind, _) in enumerate(self.shown):
            if column == name:
                box = self.cellWidget(i, 1)
                return box.currentText() if box is not None else kind
        return None
