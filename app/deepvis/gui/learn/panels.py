"""The Learn mode's 2-D panes: the decision boundary (a regression's prediction as a heat map),
the grid of every unit's map (the input features, then each layer's neurons) and the
loss/accuracy curves. Each draws a LearnFrame the mode hands it; none computes anything."""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QPointF, QRectF, QSize, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QFont, QImage, QMouseEvent, QPainter, QPen
from PyQt6.QtWidgets import QSizePolicy, QVBoxLayout, QWidget

from deepvis.learn.view_model import LearnFrame
from deepvis.learn.views import Landscape
from deepvis.gui.images import DisplayImage
from deepvis.gui.panes import painted_pane
from deepvis.gui.theme import ACCENT, MUTED, PANEL, TEXT

TRAIN_EDGE = QColor(255, 255, 255)
TEST_EDGE = QColor(24, 25, 28)


def map_image(rgb: np.ndarray) -> QImage:
    """A unit's small map as a QImage, for QPainter to scale while it draws (smooth): one call in
    C++ per tile, rather than a resize and a colour conversion in Python for each, every frame."""
    data = np.ascontiguousarray(rgb)
    return QImage(data.data, data.shape[1], data.shape[0], data.strides[0], QImage.Format.Format_RGB888).copy()


class Caption(QWidget):
    """Text that changes with every frame (a title, a read-out) in a box of a fixed number of
    lines. A QLabel asks its parents to lay out again at each new text, and that repaints the
    whole window many times a second; this one repaints itself alone. Kinds: "title" (the theme's
    section titles), "note" (the same, word-wrapped) and "mono" (figures)."""

    def __init__(self, text: str = "", kind: str = "title", lines: int = 1, parent: QWidget | None = None):
        super().__init__(parent)
        self._text = text
        self.kind = kind
        font = QFont(self.font())
        if kind == "mono":
            font.setFamilies(["DejaVu Sans Mono", "monospace"])
        else:
            font.setPointSizeF(8.5)
            font.setLetterSpacing(QFont.SpacingType.AbsoluteSpacing, 1.0 if kind == "title" else 0.0)
        self.setFont(font)
        self.setFixedHeight(lines * self.fontMetrics().lineSpacing() + 4)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)

    def text(self) -> str:
        return self._text

    def setText(self, text: str) -> None:  # noqa: N802 (QLabel's name)
        if text != self._text:
            self._text = text
            self.update()

    def sizeHint(self) -> QSize:
        return QSize(self.fontMetrics().horizontalAdvance(self._text.split("\n")[0]) + 8, self.height())

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        painter.setPen(TEXT if self.kind == "mono" else MUTED)
        box = QRectF(self.rect()).adjusted(0, 2, 0, 0)
        top_left = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop
        if self.kind == "title":
            elided = painter.fontMetrics().elidedText(self._text, Qt.TextElideMode.ElideRight, self.width())
            painter.drawText(box, top_left, elided)
        else:
            painter.drawText(box, top_left | Qt.TextFlag.TextWordWrap, self._text)
        painter.end()


def _fit_square(area: QRectF) -> QRectF:
    side = max(1.0, min(area.width(), area.height()))
    return QRectF(round(area.x() + (area.width() - side) / 2), round(area.y() + (area.height() - side) / 2),
                  round(side), round(side))


class BoundaryPane(QWidget):
    """The network's output over [-1, 1]^2 (orange 0 - blue 1; a regression's prediction orange
    -1 - blue +1) with the data on top, coloured by class or target."""

    hovered = pyqtSignal(object)  # a line for the status bar, or None when the mouse leaves

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.frame: LearnFrame | None = None
        self._scaled: DisplayImage | None = None
        self._overlay: tuple[tuple, QImage] | None = None
        self.show_test = True
        painted_pane(self, (220, 220), hover=True)

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
        frame = self.frame
        regression = frame is not None and frame.views.task == "regression"
        title = ("prediction · the output over [-1, 1]², orange −1 to blue +1  (x1 →, x2 ↑)" if regression
                 else "decision boundary · the output over [-1, 1]²  (x1 →, x2 ↑)")
        painter.drawText(QRectF(8, 2, self.width() - 16, 22), Qt.AlignmentFlag.AlignVCenter,
                         painter.fontMetrics().elidedText(title, Qt.TextElideMode.ElideRight, self.width() - 16))
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
        train_rgb, test_rgb = frame.point_colours
        sets = [(data.x_train, train_rgb, TRAIN_EDGE, 3.6)]
        if self.show_test:
            sets.append((data.x_test, test_rgb, TEST_EDGE, 2.8))
        for x, rgb, edge, radius in sets:
            px = (x[:, 0] + 1) / 2 * size[0]
            py = (1 - x[:, 1]) / 2 * size[1]
            painter.setPen(QPen(edge, 1.0))
            for colour in np.unique(rgb, axis=0):  # two for classes; a regression's targets, many
                painter.setBrush(QColor(*(int(c) for c in colour)))
                mine = np.all(rgb == colour, axis=1)
                for cx, cy in zip(px[mine], py[mine]):
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
        value = grid[row, col]
        if frame.views.task == "regression":
            self.hovered.emit(f"x1 {x1:+.2f}, x2 {x2:+.2f}: prediction {value:+.3f}")
        else:
            self.hovered.emit(f"x1 {x1:+.2f}, x2 {x2:+.2f}: output {value:.3f} (class {int(value > 0.5)})")

    def leaveEvent(self, _event) -> None:
        self.hovered.emit(None)


class LandscapeGrid(QWidget):
    """Every unit's map over [-1, 1]^2, one column per layer (the input features first); click one
    to pick it. Tiles take what room there is: names are drawn inside them and the gaps shrink
    with the tiles, so six layers of eight stay readable in the pane a 1440 x 900 window gives."""

    neuron_clicked = pyqtSignal(int)  # its index in the frame's units (features, then neurons)
    hovered = pyqtSignal(object)  # a line for the status bar, or None

    HEADER = 30

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.landscapes: list[Landscape] = []
        self.titles: list[str] = []
        self.selected = -1
        self._images: dict[int, QImage] = {}
        painted_pane(self, (200, 160), hover=True)

    def sizeHint(self) -> QSize:
        return QSize(360, 320)

    def set_landscapes(self, landscapes: list[Landscape], titles: list[str]) -> None:
        """The units in order (features, then each layer's neurons) and a title per column."""
        self.landscapes, self.titles = landscapes, titles
        self._images = {}
        self.update()

    def _layout(self) -> tuple[list[int], int, float, float, dict[int, int]]:
        """(layers, tile side, gap, left edge, units per layer)."""
        counts: dict[int, int] = {}
        for item in self.landscapes:
            counts[item.layer] = counts.get(item.layer, 0) + 1
        layers = sorted(counts)
        columns, rows = max(1, len(layers)), max(counts.values(), default=1)
        def fitting(gap: float) -> int:
            tile_w = (self.width() - gap * (columns + 1)) / columns
            tile_h = (self.height() - self.HEADER - gap * (rows + 1)) / rows
            return max(8, int(min(tile_w, tile_h)))

        gap = 8.0
        for _ in range(3):  # the gap follows the tile: an eighth of it, 2 to 8 px
            gap = float(min(8, max(2, fitting(gap) // 8)))
        tile = fitting(gap)  # the tiles that fit with the gap settled on
        left = (self.width() - (columns * tile + (columns - 1) * gap)) / 2
        return layers, tile, gap, left, counts

    def tile_rect(self, index: int, layout=None) -> QRectF:
        layers, tile, gap, left, counts = layout or self._layout()
        item = self.landscapes[index]
        column = layers.index(item.layer)
        x = left + column * (tile + gap)
        height = counts[item.layer] * tile + (counts[item.layer] - 1) * gap
        top = self.HEADER + gap + max(0.0, (self.height() - self.HEADER - 2 * gap - height) / 2)
        return QRectF(x, top + item.unit * (tile + gap), tile, tile)

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
        layout = self._layout()
        layers, tile, gap, left, _counts = layout
        small = QFont(self.font())
        small.setPointSizeF(max(7.0, small.pointSizeF() - 2))
        painter.setFont(small)
        for column, layer in enumerate(layers):
            x = left + column * (tile + gap)
            title = self.titles[column] if column < len(self.titles) else f"layer {layer}"
            name, _, activation = title.partition(" · ")
            width = int(tile + gap)
            for text, colour, y in ((name, TEXT, 0), (activation, MUTED, self.HEADER / 2)):
                painter.setPen(colour)
                painter.drawText(QRectF(x - gap / 2, y, width, self.HEADER / 2), Qt.AlignmentFlag.AlignCenter,
                                 painter.fontMetrics().elidedText(text, Qt.TextElideMode.ElideRight, width))
        label_height = painter.fontMetrics().height()
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        for index, item in enumerate(self.landscapes):
            rect = self.tile_rect(index, layout)
            if index not in self._images:
                self._images[index] = map_image(item.rgb)
            painter.drawImage(rect, self._images[index])
            selected = index == self.selected
            # The name inside the tile, on a dark band: it needs no row of its own.
            text_width = painter.fontMetrics().horizontalAdvance(item.label) + 6
            band = QRectF(rect.x(), rect.y(), min(rect.width(), text_width), min(rect.height(), label_height))
            painter.fillRect(band, QColor(20, 21, 24, 170))
            painter.setPen(ACCENT if selected else TEXT)
            painter.drawText(band.adjusted(3, 0, 0, 0), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                             item.label)
            if selected:
                painter.setPen(QPen(ACCENT, 2))
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawRect(rect.adjusted(-1, -1, 1, 1))
        painter.end()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        index = self.index_at(event.position())
        if index is not None:
            self.neuron_clicked.emit(index)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        index = self.index_at(event.position())
        if index is None:
            self.hovered.emit(None)
            return
        item = self.landscapes[index]
        what = "input feature" if item.layer == 0 else "neuron"
        self.hovered.emit(f"{what} {item.label}: {item.low:.3g} (orange) to {item.high:.3g} (blue); "
                          "click for its surface")

    def leaveEvent(self, _event) -> None:
        self.hovered.emit(None)


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
        self._task: str | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view)
        self.setMinimumHeight(120)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.view.setFocusPolicy(Qt.FocusPolicy.NoFocus)

    def set_task(self, task: str) -> None:
        """A regression has no accuracy: its plot goes, and the loss is named for what it is."""
        regression = task == "regression"
        self.acc_plot.setVisible(not regression)
        self.loss_plot.setTitle("loss (mean squared error)" if regression else "loss (cross-entropy)",
                                color=MUTED.name(), size="9pt")
        self._task = task

    def set_frame(self, frame: LearnFrame) -> None:
        curves = frame.curves
        steps = curves["step"]
        if frame.views.task != self._task:
            self.set_task(frame.views.task)
        if not len(steps):
            return
        for key, item in self.curves.items():
            if key.endswith("accuracy") and self._task == "regression":
                continue
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
