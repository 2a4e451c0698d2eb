"""The network diagram, as TensorFlow Playground draws it: every neuron a node showing its
landscape, every weight a line (blue positive, orange negative, width its size). Hover a line for
its value; click one to type a new value (it takes effect at the next step); click a node to
pick that neuron. The geometry is learn/diagram.py's; this widget only paints and picks.

Six layers of eight have about 400 weights, redrawn many times a second while the network
trains: the geometry is laid out once per size, each frame brings only the weights, and the
lines are drawn in a few batches (one per sign and width) rather than one call each.
"""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QLineF, QPointF, QRectF, QSize, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QFont, QImage, QMouseEvent, QPainter, QPen
from PyQt6.QtWidgets import QInputDialog, QWidget

from deepvis.gui.learn.panels import map_image
from deepvis.gui.panes import painted_pane
from deepvis.gui.theme import ACCENT, MUTED, PANEL, TEXT
from deepvis.learn.diagram import FULL_WEIGHT, THINNEST, WIDEST, Edge, Node, edge_at, layout_diagram
from deepvis.learn.views import BLUE, ORANGE, Landscape


class NetworkDiagram(QWidget):
    neuron_clicked = pyqtSignal(int)  # the neuron's index in the units (input features, then neurons)
    weight_edited = pyqtSignal(int, int, int, float)  # layer, target, source, new value
    hovered = pyqtSignal(object)  # a line for the status bar, or None

    TITLE = 18
    FOOTER = 30  # two lines under each column: the layer and its activation

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.sizes: tuple[int, ...] = ()
        self.matrices: list[np.ndarray] = []
        self.landscapes: list[Landscape] = []
        self.titles: list[str] = []
        self.selected = -1
        self.editable = True
        self._nodes: list[Node] = []
        self._geometry: list[Edge] = []  # every weight's line, laid out once per size (weights 0)
        self._lines: list[QLineF] = []
        self._weights = np.zeros(0)  # each line's weight, in the geometry's order
        self._laid_out: tuple | None = None
        self._images: dict[int, QImage] = {}
        self._index: dict[tuple[int, int], int] = {}
        self._hover: Edge | None = None
        painted_pane(self, (240, 200), hover=True)

    def sizeHint(self) -> QSize:
        return QSize(480, 360)

    def set_network(self, sizes: tuple[int, ...], matrices: list[np.ndarray], landscapes: list[Landscape],
                    titles: list[str]) -> None:
        self.sizes, self.matrices, self.titles = tuple(sizes), matrices, titles
        if landscapes is not self.landscapes:
            self.landscapes, self._images = landscapes, {}
            self._index = {(item.layer, item.unit): i for i, item in enumerate(landscapes)}
        self._relayout()
        # The lines are laid out layer by layer, target by target, source by source: the matrices' order.
        self._weights = np.concatenate([np.ravel(m) for m in matrices]) if matrices else np.zeros(0)
        self.update()

    def _relayout(self) -> None:
        key = (self.sizes, self.width(), self.height())
        if key == self._laid_out:
            return
        self._laid_out = key
        if not self.sizes:
            self._nodes, self._geometry, self._lines = [], [], []
            return
        zeros = [np.zeros((b, a)) for a, b in zip(self.sizes[:-1], self.sizes[1:])]
        nodes, edges = layout_diagram(self.sizes, zeros, self.width(), self.height() - self.TITLE - self.FOOTER)
        shift = self.TITLE
        self._nodes = [Node(n.layer, n.unit, n.x, n.y + shift, n.size) for n in nodes]
        self._geometry = [Edge(e.layer, e.target, e.source, 0.0, e.width, (e.start[0], e.start[1] + shift),
                               (e.end[0], e.end[1] + shift)) for e in edges]
        self._lines = [QLineF(QPointF(*e.start), QPointF(*e.end)) for e in self._geometry]

    @property
    def _edges(self) -> list[Edge]:
        """Every line with its weight and width now (for picking and describing)."""
        if len(self._weights) != len(self._geometry):
            return []
        widths = self._widths()
        return [Edge(e.layer, e.target, e.source, float(w), float(width), e.start, e.end)
                for e, w, width in zip(self._geometry, self._weights, widths)]

    def _widths(self) -> np.ndarray:
        return THINNEST + (WIDEST - THINNEST) * np.minimum(np.abs(self._weights), FULL_WEIGHT) / FULL_WEIGHT

    def resizeEvent(self, event) -> None:
        self._relayout()
        super().resizeEvent(event)

    def landscape_index(self, layer: int, unit: int) -> int | None:
        return self._index.get((layer, unit))

    def node_at(self, pos: QPointF) -> Node | None:
        return next((n for n in self._nodes if QRectF(n.x, n.y, n.size, n.size).contains(pos)), None)

    def edge_rect(self, edge: Edge) -> QPointF:
        """The middle of a weight's line (where tests and users click it)."""
        return QPointF((edge.start[0] + edge.end[0]) / 2, (edge.start[1] + edge.end[1]) / 2)

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.fillRect(self.rect(), PANEL)
        painter.setPen(MUTED)
        title = "weights: blue +, orange −, width = size · click a line to edit it"
        painter.drawText(QRectF(8, 0, self.width() - 16, self.TITLE), Qt.AlignmentFlag.AlignVCenter,
                         painter.fontMetrics().elidedText(title, Qt.TextElideMode.ElideRight, self.width() - 16))
        if not self._nodes:
            painter.end()
            return
        self._paint_lines(painter)
        small = QFont(self.font())
        small.setPointSizeF(max(7.0, small.pointSizeF() - 2))
        painter.setFont(small)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        for node in self._nodes:
            rect = QRectF(node.x, node.y, node.size, node.size)
            index = self.landscape_index(node.layer, node.unit)
            if index is not None:
                if index not in self._images:
                    self._images[index] = map_image(self.landscapes[index].rgb)
                painter.drawImage(rect, self._images[index])
            else:
                painter.fillRect(rect, QColor(60, 63, 70))
            selected = index is not None and index == self.selected
            painter.setPen(QPen(ACCENT if selected else MUTED, 2 if selected else 1))
            painter.drawRect(rect)
        step = self.width() / max(len(self.sizes), 1)
        for layer, count in enumerate(self.sizes):
            first = next(n for n in self._nodes if n.layer == layer)
            name, _, activation = (self.titles[layer] if layer < len(self.titles) else "").partition(" · ")
            for line, (text, colour) in enumerate(((name, TEXT), (activation, MUTED))):
                painter.setPen(colour)
                y = self.height() - self.FOOTER + line * self.FOOTER / 2
                painter.drawText(QRectF(first.centre[0] - step / 2, y, step, self.FOOTER / 2),
                                 Qt.AlignmentFlag.AlignCenter,
                                 painter.fontMetrics().elidedText(text, Qt.TextElideMode.ElideRight, int(step)))
        painter.end()

    def _paint_lines(self, painter: QPainter) -> None:
        """Every weight's line, batched by sign and by width (to the half pixel)."""
        if len(self._weights) != len(self._lines):
            return
        widths = np.round(self._widths() * 2) / 2
        positive = self._weights >= 0
        for sign, rgb in ((True, BLUE), (False, ORANGE)):
            colour = QColor(*rgb)
            colour.setAlpha(170)
            for width in np.unique(widths[positive == sign]):
                chosen = np.flatnonzero((positive == sign) & (widths == width))
                painter.setPen(QPen(colour, float(width)))
                painter.drawLines([self._lines[i] for i in chosen])
        hover = self._hover
        if hover is not None:
            painter.setPen(QPen(QColor(*(BLUE if hover.weight >= 0 else ORANGE)), hover.width + 1.5))
            painter.drawLine(QPointF(*hover.start), QPointF(*hover.end))

    def describe(self, edge: Edge) -> str:
        return f"weight {self.unit_name(edge.layer - 1, edge.source)} → {self.unit_name(edge.layer, edge.target)}" \
               f" = {edge.weight:+.4g}" + ("; click to edit" if self.editable else "")

    def unit_name(self, layer: int, unit: int) -> str:
        if layer == 0:
            index = self.landscape_index(0, unit)
            return self.landscapes[index].label if index is not None else f"x{unit + 1}"
        return "output" if layer == len(self.sizes) - 1 else f"{layer}:{unit}"

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        pos = event.position()
        node = self.node_at(pos)
        edge = None if node is not None else edge_at(self._edges, pos.x(), pos.y())
        def place(e):
            return None if e is None else (e.layer, e.target, e.source)

        if place(edge) != place(self._hover):
            self._hover = edge
            self.update()
        if node is not None:
            self.hovered.emit(f"{self.unit_name(node.layer, node.unit)}: click for its surface")
        else:
            self.hovered.emit(self.describe(edge) if edge is not None else None)

    def leaveEvent(self, _event) -> None:
        self._hover = None
        self.hovered.emit(None)
        self.update()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        pos = event.position()
        node = self.node_at(pos)
        if node is not None:
            index = self.landscape_index(node.layer, node.unit)
            if index is not None:
                self.neuron_clicked.emit(index)
            return
        edge = edge_at(self._edges, pos.x(), pos.y())
        if edge is not None and self.editable:
            value = self.ask_value(edge)
            if value is not None:
                self.weight_edited.emit(edge.layer, edge.target, edge.source, value)

    def ask_value(self, edge: Edge) -> float | None:
        """The new value of a weight, typed by the user (None: cancelled)."""
        label = self.describe(edge).split(";")[0] + "\nnew value:"
        value, ok = QInputDialog.getDouble(self, "Edit a weight", label, edge.weight, -100.0, 100.0, 4)
        return value if ok else None
