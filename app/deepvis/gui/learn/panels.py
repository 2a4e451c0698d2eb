"""The Learn mode's 2-D panes: the decision boundary, the grid of neuron landscapes and the
loss/accuracy curves. Each draws a LearnFrame the mode hands it; none computes anything."""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QPointF, QRectF, QSize, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QFont, QImage, QMouseEvent, QPainter, QPen
from PyQt6.QtWidgets import QSizePolicy, QVBoxLayout, QWidget

from deepvis.learn.views import BLUE, ORANGE, Landscape
from deepvis.gui.images import DisplayImage
from deepvis.gui.learn.worker import LearnFrame
from deepvis.gui.theme import ACCENT, MUTED, PANEL, TEXT

CLASS_COLOURS = (QColor(*ORANGE), QColor(*BLUE))
TRAIN_EDGE = QColor(255, 255, 255)
TEST_EDGE = QColor(24, 25, 28)


def _fit_square(area: QRectF) -> QRectF:
    side = max(1.0, min(area.width(), area.height()))
    return QRectF(round(area.x() + (area.width() - side) / 2), round(area.y() + (area.height() - side) / 2),
                  round(side), round(side))


class BoundaryPane(QWidget):
    """The network's output over [-1, 1]^2 (orange 0 - blue 1) with the data on top."""

    hovered = pyqtSignal(object)  # a line for the status bar, or None when the mouse leaves

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.frame: LearnFrame | None = None
        self._scaled: DisplayImage | None = None
        self._overlay: tuple[tuple, QImage] | None = None
        self.show_test = True
        self.setMinimumSize(220, 220)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)

    def sizeHint(self) -> QSize:
        return QSize(480, 480)

    def set_frame(self, frame: LearnFrame) -> None:
        self.frame = frame
        self._scaled = None
        self.update()

    def square(self) -> QRectF:
        return _fit_square(QRectF(self.rect()).adjusted(30, 26, -8, -22))

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), PANEL)
        painter.setPen(MUTED)
        painter.drawText(QRectF(8, 2, self.width() - 16, 22), Qt.AlignmentFlag.AlignVCenter,
                         "decision boundary · the output over [-1, 1]²  (x1 →, x2 ↑)")
        frame = self.frame
        box = self.square()
        if frame is None:
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, "starting…")
            painter.end()
            return
        size = (int(box.width()), int(box.height()))
        if self._scaled is None or self._scaled.size != size:
            self._scaled = DisplayImage(frame.views.boundary_rgb, size, smooth=True)
        painter.drawImage(box.topLeft(), self._scaled.qimage)
        painter.drawImage(box.topLeft(), self._points_overlay(frame, size))
        painter.setPen(MUTED)
        small = QFont(self.font())
        small.setPointSizeF(max(7.0, small.pointSizeF() - 2))
        painter.setFont(small)
        for value in (-1, 0, 1):
            x = box.x() + (value + 1) / 2 * box.width()
            y = box.y() + (1 - value) / 2 * box.height()
            painter.drawText(QRectF(x - 20, box.bottom() + 2, 40, 16), Qt.AlignmentFlag.AlignCenter, f"{value}")
            painter.drawText(QRectF(box.x() - 28, y - 8, 24, 16),
                             Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, f"{value}")
        painter.end()

    def _points_overlay(self, frame: LearnFrame, size: tuple[int, int]) -> QImage:
        """The points drawn once on a transparent image, reused while the data and size stay:
        a few hundred QPainter calls per frame would hold the GIL the trainer needs."""
        key = (id(frame.dataset), size, self.show_test)
        if self._overlay is not None and self._overlay[0] == key:
            return self._overlay[1]
        image = QImage(size[0], size[1], QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        data = frame.dataset
        sets = [(data.x_train, data.y_train, TRAIN_EDGE, 3.6)]
        if self.show_test:
            sets.append((data.x_test, data.y_test, TEST_EDGE, 2.8))
        for x, y, edge, radius in sets:
            px = (x[:, 0] + 1) / 2 * size[0]
            py = (1 - x[:, 1]) / 2 * size[1]
            painter.setPen(QPen(edge, 1.0))
            for label in (0, 1):
                painter.setBrush(CLASS_COLOURS[label])
                for cx, cy in zip(px[y == label], py[y == label]):
                    painter.drawEllipse(QPointF(cx, cy), radius, radius)
        painter.end()
        self._overlay = (key, image)
        return image

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        frame, box = self.frame, self.square()
        if frame is None or not box.contains(event.position()):
            self.hovered.emit(None)
            return
        x1 = (event.position().x() - box.x()) / box.width() * 2 - 1
        x2 = 1 - (event.position().y() - box.y()) / box.height() * 2
        grid = frame.views.boundary
        g = grid.shape[0]
        row = min(g - 1, max(0, int((1 - x2) / 2 * g)))
        col = min(g - 1, max(0, int((x1 + 1) / 2 * g)))
        self.hovered.emit(f"x1 {x1:+.2f}, x2 {x2:+.2f}: output {grid[row, col]:.3f} "
                          f"(class {int(grid[row, col] > 0.5)})")

    def leaveEvent(self, _event) -> None:
        self.hovered.emit(None)


class LandscapeGrid(QWidget):
    """Every neuron's activation over [-1, 1]^2, one column per layer; click one to pick it."""

    neuron_clicked = pyqtSignal(int)  # its index in LearnViews.landscapes

    HEADER = 30
    LABEL = 15
    GAP = 8

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.landscapes: list[Landscape] = []
        self.titles: list[str] = []
        self.selected = -1
        self._images: dict[tuple[int, int], DisplayImage] = {}
        self.setMinimumSize(200, 160)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)

    def sizeHint(self) -> QSize:
        return QSize(360, 320)

    def set_landscapes(self, landscapes: list[Landscape], titles: list[str]) -> None:
        self.landscapes, self.titles = landscapes, titles
        self._images = {}
        self.update()

    def _layout(self) -> tuple[list[int], int, int, float]:
        layers = sorted({l.layer for l in self.landscapes})
        rows = max((sum(1 for l in self.landscapes if l.layer == layer) for layer in layers), default=1)
        columns = max(1, len(layers))
        tile_w = (self.width() - self.GAP * (columns + 1)) / columns
        tile_h = (self.height() - self.HEADER - self.GAP - rows * (self.LABEL + self.GAP)) / rows
        tile = max(8, int(min(tile_w, tile_h)))
        left = (self.width() - (columns * tile + (columns - 1) * self.GAP)) / 2
        return layers, tile, rows, left

    def tile_rect(self, index: int) -> QRectF:
        layers, tile, _rows, left = self._layout()
        item = self.landscapes[index]
        column = layers.index(item.layer)
        x = left + column * (tile + self.GAP)
        y = self.HEADER + self.GAP + item.unit * (tile + self.LABEL + self.GAP) + self.LABEL
        return QRectF(x, y, tile, tile)

    def index_at(self, pos: QPointF) -> int | None:
        for index in range(len(self.landscapes)):
            if self.tile_rect(index).contains(pos):
                return index
        return None

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), PANEL)
        if not self.landscapes:
            painter.setPen(MUTED)
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "every neuron's landscape…")
            painter.end()
            return
        layers, tile, _rows, left = self._layout()
        small = QFont(self.font())
        small.setPointSizeF(max(7.0, small.pointSizeF() - 2))
        painter.setFont(small)
        for column, layer in enumerate(layers):
            x = left + column * (tile + self.GAP)
            title = self.titles[column] if column < len(self.titles) else f"layer {layer}"
            name, _, activation = title.partition(" · ")
            width = int(tile + self.GAP)
            for text, colour, y in ((name, TEXT, 0), (activation, MUTED, self.HEADER / 2)):
                painter.setPen(colour)
                painter.drawText(QRectF(x - self.GAP / 2, y, width, self.HEADER / 2), Qt.AlignmentFlag.AlignCenter,
                                 painter.fontMetrics().elidedText(text, Qt.TextElideMode.ElideRight, width))
        for index, item in enumerate(self.landscapes):
            rect = self.tile_rect(index)
            key = (index, tile)
            if key not in self._images:
                self._images[key] = DisplayImage(item.rgb, (tile, tile), smooth=True)
            painter.drawImage(rect.topLeft(), self._images[key].qimage)
            painter.setPen(ACCENT if index == self.selected else MUTED)
            painter.drawText(QRectF(rect.x(), rect.y() - self.LABEL, rect.width(), self.LABEL),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, item.label)
            if index == self.selected:
                painter.setPen(QPen(ACCENT, 2))
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawRect(rect.adjusted(-1, -1, 1, 1))
        painter.end()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        index = self.index_at(event.position())
        if index is not None:
            self.neuron_clicked.emit(index)


class CurvesPane(QWidget):
    """Train/test loss (log scale) and accuracy over the run; a line marks the moment shown.

    Ranges are set here, not by pyqtgraph's auto-range, which would rebuild the axes on
    every update."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        import pyqtgraph as pg

        self.view = pg.GraphicsLayoutWidget()
        self.view.setBackground(PANEL)
        self.loss_plot = self.view.addPlot(row=0, col=0)
        self.acc_plot = self.view.addPlot(row=0, col=1)
        self.loss_plot.setLogMode(y=True)
        self.curves = {}
        # Legends where the curves are not: bottom left for the loss (it starts high), bottom
        # right for the accuracy (it starts low).
        for plot, title, corner in ((self.loss_plot, "loss", (8, -8)), (self.acc_plot, "accuracy", (-8, -8))):
            plot.setMenuEnabled(False)
            plot.setMouseEnabled(x=False, y=False)
            plot.hideButtons()
            plot.disableAutoRange()
            plot.setDownsampling(auto=True, mode="peak")  # thousands of snapshots, a few hundred pixels
            plot.setClipToView(True)
            plot.setTitle(title, color=MUTED.name(), size="9pt")
            for axis in ("left", "bottom"):
                plot.getAxis(axis).setTextPen(MUTED)
                plot.getAxis(axis).setPen(MUTED)
            plot.addLegend(offset=corner, labelTextColor=TEXT.name(), labelTextSize="8pt")
        for key, plot, colour, style in (
                ("train_loss", self.loss_plot, ACCENT, Qt.PenStyle.SolidLine),
                ("test_loss", self.loss_plot, QColor(150, 170, 210), Qt.PenStyle.DashLine),
                ("train_accuracy", self.acc_plot, ACCENT, Qt.PenStyle.SolidLine),
                ("test_accuracy", self.acc_plot, QColor(150, 170, 210), Qt.PenStyle.DashLine)):
            self.curves[key] = plot.plot(pen=pg.mkPen(colour, width=1.5, style=style),
                                         name=key.split("_")[0], skipFiniteCheck=True)
        self.acc_plot.setYRange(0.4, 1.02, padding=0)
        self.markers = [pg.InfiniteLine(angle=90, pen=pg.mkPen(MUTED, width=1)) for _ in range(2)]
        self.loss_plot.addItem(self.markers[0])
        self.acc_plot.addItem(self.markers[1])
        self._x_end = 0.0
        self._loss_range: tuple[float, float] | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view)
        self.setMinimumHeight(120)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.view.setFocusPolicy(Qt.FocusPolicy.NoFocus)

    def set_frame(self, frame: LearnFrame) -> None:
        curves = frame.curves
        steps = curves["step"]
        if not len(steps):
            return
        for key, item in self.curves.items():
            values = curves[key]
            if key.endswith("loss"):
                values = np.clip(values, 1e-6, None)  # log scale: a loss of 0 would vanish
            item.setData(steps, values)
        end = max(float(steps[-1]), 10.0)
        if end > self._x_end or end < self._x_end * 0.5:  # grow in steps of 1.5x, so the axes rarely move
            self._x_end = end * 1.5 if end > self._x_end else end
            for plot in (self.loss_plot, self.acc_plot):
                plot.setXRange(0, self._x_end, padding=0)
        losses = np.concatenate([curves["train_loss"], curves["test_loss"]])
        losses = losses[np.isfinite(losses)]
        if len(losses):
            low = float(np.log10(max(losses.min(), 1e-6)))
            high = float(np.log10(max(losses.max(), 1e-6)))
            if self._loss_range is None or low < self._loss_range[0] or high > self._loss_range[1]:
                # Whole decades, at least three: fewer would bring pyqtgraph's minor tick labels.
                top = np.ceil(high)
                self._loss_range = (min(np.floor(low), top - 3) - 0.1, top + 0.1)
                self.loss_plot.setYRange(*self._loss_range, padding=0)
        shown = float(steps[min(frame.index, len(steps) - 1)])
        for marker in self.markers:
            marker.setValue(shown)

    def reset(self) -> None:
        self._x_end = 0.0
        self._loss_range = None
        for item in self.curves.values():
            item.setData([], [])
