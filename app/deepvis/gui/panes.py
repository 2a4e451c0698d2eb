"""The window's panes: images scaled in Qt (crisp tiles, smooth photos), the layer grid,
the bar of layer names, the top-5 predictions and the help overlay."""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
from PyQt6.QtCore import QPointF, QRect, QRectF, QSize, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QCursor, QFont, QImage, QMouseEvent, QPainter, QPen
from PyQt6.QtWidgets import QSizePolicy, QToolTip, QWidget

from deepvis.probe import Prediction
from deepvis.render import GridLayout
from deepvis.gui.images import DisplayImage, SharedImage
from deepvis.gui.theme import ACCENT, ACCENT_SOFT, MUTED, PANEL, TEXT

CAPTION_HEIGHT = 22
PADDING = 6


def fit_rect(area: QRectF, width: int, height: int) -> QRectF:
    """The largest rectangle of the image's aspect centred in area."""
    if width <= 0 or height <= 0 or area.width() <= 0 or area.height() <= 0:
        return QRectF()
    scale = min(area.width() / width, area.height() / height)
    w, h = max(1, round(width * scale)), max(1, round(height * scale))
    # Whole pixels, so that the image is drawn unscaled from its pre-scaled copy and clicks map to
    # exactly the tiles drawn.
    return QRectF(round(area.x() + (area.width() - w) / 2), round(area.y() + (area.height() - h) / 2), w, h)


def painted_pane(widget: QWidget, minimum: tuple[int, int], hover: bool = False) -> None:
    """Set up a widget that paints its whole rect itself: it grows with its cell, never takes the
    keyboard focus, and no parent repaints under it; `hover`: mouse moves reach it without a button."""
    widget.setMinimumSize(*minimum)
    widget.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
    widget.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    widget.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
    widget.setMouseTracking(hover)


class ImagePane(QWidget):
    """One image with a caption; scaled to fit, keeping its aspect."""

    def __init__(self, title: str, smooth: bool = True, placeholder: str = "", parent: QWidget | None = None):
        super().__init__(parent)
        self.title = title
        self.smooth = smooth
        self.placeholder = placeholder
        self.badge = ""  # a short note drawn at the caption's right (e.g. "stale")
        self._image: SharedImage | QImage | None = None
        self._scaled: DisplayImage | None = None  # self._image at the size last painted
        self.on_painted: Callable[[], None] | None = None
        painted_pane(self, (96, 96))

    def sizeHint(self) -> QSize:
        return QSize(240, 240)

    def set_array(self, rgb: np.ndarray | None) -> None:
        self._image = SharedImage(rgb) if rgb is not None else None
        self._scaled = None
        self.update()

    def set_qimage(self, image: QImage | None) -> None:
        self._image = image
        self._scaled = None
        self.update()

    def set_placeholder(self, text: str) -> None:
        self._image = None
        self.placeholder = text
        self.update()

    def has_image(self) -> bool:
        return self._image is not None

    def _qimage(self) -> QImage | None:
        if isinstance(self._image, SharedImage):
            return self._image.qimage
        return self._image

    def content_area(self) -> QRectF:
        return QRectF(PADDING, CAPTION_HEIGHT, self.width() - 2 * PADDING, self.height() - CAPTION_HEIGHT - PADDING)

    def image_rect(self) -> QRectF:
        image = self._qimage()
        if image is None:
            return QRectF()
        return fit_rect(self.content_area(), image.width(), image.height())

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), PANEL)
        self.paint_caption(painter)
        image = self._qimage()
        if image is None:
            painter.setPen(MUTED)
            painter.drawText(self.content_area(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                             self.placeholder)
        else:
            self._draw_image(painter, image)
            self.paint_overlay(painter)
        painter.end()
        if self.on_painted is not None:
            self.on_painted()

    def _draw_image(self, painter: QPainter, image: QImage) -> None:
        rect = self.image_rect()
        if not isinstance(self._image, SharedImage):
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, self.smooth)
            painter.drawImage(rect, image)
            return
        # Scaling numpy images here, once per frame and on this thread, keeps Qt from scaling and
        # converting them in its thread pool on every paint, where they compete with the model's threads.
        size = (int(rect.width()), int(rect.height()))
        if self._scaled is None or self._scaled.size != size:
            self._scaled = DisplayImage(self._image.array, size, self.smooth)
        painter.drawImage(rect.topLeft(), self._scaled.qimage)

    def paint_caption(self, painter: QPainter) -> None:
        font = QFont(self.font())
        font.setPointSizeF(font.pointSizeF() * 0.9)
        font.setBold(True)
        painter.setFont(font)
        painter.setPen(MUTED)
        caption = QRectF(PADDING + 2, 0, self.width() - 2 * PADDING - 4, CAPTION_HEIGHT)
        painter.drawText(caption, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, self.title)
        if self.badge:
            painter.setPen(ACCENT)
            painter.drawText(caption, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight, self.badge)
        painter.setFont(self.font())

    def paint_overlay(self, painter: QPainter) -> None:
        """Drawn over the image; subclasses add marks."""


class GridPane(ImagePane):
    """The layer grid: one tile per unit; click selects, hover reads out layer:unit and its maximum.

    The selection outline is drawn here at once, before the worker re-renders the grid.
    """

    unit_clicked = pyqtSignal(int)
    unit_hovered = pyqtSignal(object)  # int, or None when the pointer leaves the tiles
    hint = pyqtSignal(object)  # the hovered unit's read-out (layer:unit and its maximum), or None

    def __init__(self, parent: QWidget | None = None):
        super().__init__("layer", smooth=False, placeholder="waiting for the first frame…", parent=parent)
        self.layout_: GridLayout | None = None
        self.layer = ""
        self.unit_max: np.ndarray | None = None
        self.selected: int | None = None
        self.hovered: int | None = None
        self.unit_name: Callable[[str, int], str] | None = None  # layer:unit, with a class's name (fc)
        self.setMouseTracking(True)
        self.setMinimumSize(200, 200)

    def sizeHint(self) -> QSize:
        return QSize(560, 560)

    def set_grid(self, rgb: np.ndarray, layout: GridLayout | None, layer: str, unit_max: np.ndarray | None) -> None:
        """Show a grid (layout given) or a single enlarged image (layout None: the zoom modes)."""
        self.layout_, self.layer, self.unit_max = layout, layer, unit_max
        self.set_array(rgb)
        if self.hovered is not None:
            # The maxima change every frame: the status bar and the tooltip read the same one.
            self._emit_hover(self.hovered)
            if QToolTip.isVisible():
                QToolTip.showText(QCursor.pos(), self.hover_text(self.hovered), self)

    def set_selected(self, unit: int | None) -> None:
        if unit != self.selected:
            self.selected = unit
            self.update()

    def unit_at(self, pos: QPointF) -> int | None:
        if self.layout_ is None:
            return None
        rect = self.image_rect()
        if rect.isEmpty() or not rect.contains(pos):
            return None
        scale = self.layout_.width / rect.width()
        return self.layout_.unit_at((pos.x() - rect.x()) * scale, (pos.y() - rect.y()) * scale)

    def tile_rect(self, unit: int) -> QRectF:
        rect = self.image_rect()
        scale = rect.width() / self.layout_.width
        x, y, w, h = self.layout_.tile_rect(unit)
        return QRectF(rect.x() + x * scale, rect.y() + y * scale, w * scale, h * scale)

    def paint_overlay(self, painter: QPainter) -> None:
        if self.layout_ is None:
            return
        if self.hovered is not None and self.hovered != self.selected:
            painter.fillRect(self.tile_rect(self.hovered), ACCENT_SOFT)
        if self.selected is not None and 0 <= self.selected < self.layout_.n_units:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
            painter.setPen(QPen(ACCENT, 2))
            painter.drawRect(self.tile_rect(self.selected).adjusted(-1, -1, 1, 1))

    def hover_text(self, unit: int) -> str:
        text = self.unit_name(self.layer, unit) if self.unit_name else f"{self.layer}:{unit}"
        if self.unit_max is not None and unit < len(self.unit_max):
            text += f"   max {float(self.unit_max[unit]):.3g}"
        return text

    def mousePressEvent(self, event: QMouseEvent) -> None:
        unit = self.unit_at(event.position())
        if unit is not None and event.button() == Qt.MouseButton.LeftButton:
            self.unit_clicked.emit(unit)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        unit = self.unit_at(event.position())
        if unit != self.hovered:
            self.hovered = unit
            self.update()
            self._emit_hover(unit)
        if unit is not None:
            QToolTip.showText(event.globalPosition().toPoint(), self.hover_text(unit), self)
        else:
            QToolTip.hideText()

    def leaveEvent(self, _event) -> None:
        if self.hovered is not None:
            self.hovered = None
            self.update()
            self._emit_hover(None)

    def _emit_hover(self, unit: int | None) -> None:
        self.unit_hovered.emit(unit)
        self.hint.emit(None if unit is None else self.hover_text(unit))


class LayerBar(QWidget):
    """The layer names above the grid, wrapping to more lines when narrow; the current one highlighted."""

    layer_clicked = pyqtSignal(str)
    GAP = 4
    PAD_X = 9
    ROW_HEIGHT = 24

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.names: list[str] = []
        self.current = ""
        self._rects: list[QRect] = []
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setMouseTracking(True)
        self._hover = -1
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_layers(self, names: Sequence[str], current: str) -> None:
        self.names, self.current = list(names), current
        self._relayout()
        self.update()

    def set_current(self, name: str) -> None:
        if name != self.current:
            self.current = name
            self.update()

    def _relayout(self) -> None:
        metrics = self.fontMetrics()
        x, y, rects = 0, 0, []
        width = max(self.width(), 50)
        for name in self.names:
            w = metrics.horizontalAdvance(name) + 2 * self.PAD_X
            if x > 0 and x + w > width:
                x, y = 0, y + self.ROW_HEIGHT + self.GAP
            rects.append(QRect(x, y, w, self.ROW_HEIGHT))
            x += w + self.GAP
        self._rects = rects
        height = (y + self.ROW_HEIGHT) if rects else self.ROW_HEIGHT
        if self.height() != height:
            self.setFixedHeight(height)

    def resizeEvent(self, _event) -> None:
        self._relayout()

    def rect_of(self, name: str) -> QRect:
        return self._rects[self.names.index(name)]

    def _index_at(self, pos) -> int:
        return next((i for i, r in enumerate(self._rects) if r.contains(pos.toPoint())), -1)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        index = self._index_at(event.position())
        if index >= 0:
            self.layer_clicked.emit(self.names[index])

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        index = self._index_at(event.position())
        if index != self._hover:
            self._hover = index
            self.update()

    def leaveEvent(self, _event) -> None:
        self._hover = -1
        self.update()

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        for i, (name, rect) in enumerate(zip(self.names, self._rects)):
            current = name == self.current
            if current:
                painter.setBrush(ACCENT)
                painter.setPen(Qt.PenStyle.NoPen)
            else:
                painter.setBrush(QColor(52, 55, 62) if i == self._hover else QColor(38, 40, 45))
                painter.setPen(QPen(QColor(60, 63, 70), 1))
            painter.drawRoundedRect(QRectF(rect).adjusted(0.5, 0.5, -0.5, -0.5), 5, 5)
            painter.setPen(QColor(20, 20, 20) if current else TEXT)
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, name)
        painter.end()


class PredictionsPane(QWidget):
    """The top-5 classes with their probabilities as bars."""

    ROW = 22

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.top: list[Prediction] = []
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setFixedHeight(CAPTION_HEIGHT + 5 * self.ROW + PADDING)

    def set_predictions(self, top: list[Prediction]) -> None:
        self.top = list(top)
        self.update()

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), PANEL)
        font = QFont(self.font())
        font.setPointSizeF(font.pointSizeF() * 0.9)
        font.setBold(True)
        painter.setFont(font)
        painter.setPen(MUTED)
        painter.drawText(QRectF(PADDING + 2, 0, self.width(), CAPTION_HEIGHT), Qt.AlignmentFlag.AlignVCenter, "top-5")
        painter.setFont(self.font())
        width = self.width() - 2 * PADDING
        for i, p in enumerate(self.top[:5]):
            row = QRectF(PADDING, CAPTION_HEIGHT + i * self.ROW, width, self.ROW - 3)
            painter.fillRect(QRectF(row.x(), row.y(), row.width() * max(0.0, min(1.0, p.prob)), row.height()),
                             QColor(201, 138, 16, 150 if i == 0 else 80))
            painter.setPen(TEXT)
            text_rect = row.adjusted(6, 0, -6, 0)
            percent = f"{p.prob:6.1%}"
            room = int(text_rect.width()) - painter.fontMetrics().horizontalAdvance(percent) - 10
            label = painter.fontMetrics().elidedText(p.label, Qt.TextElideMode.ElideRight, room)
            painter.drawText(text_rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, label)
            painter.drawText(text_rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight, percent)
        painter.end()


class UnitTrace(QWidget):
    """The selected unit's maximum over the last frames, drawn with pyqtgraph.

    pyqtgraph's auto-range would re-fit the view and rebuild the axis ticks on every
    frame, which costs more than painting all the other panes together; the y range
    is set here instead, and only moves when the values leave it or use a small part of it.
    """

    LENGTH = 150
    HEADROOM = 0.15  # of the span, above and below the values

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        import pyqtgraph as pg

        from PyQt6.QtWidgets import QVBoxLayout

        self.values = np.zeros(self.LENGTH, dtype=np.float32)
        self.count = 0  # how many of the last values belong to the current unit
        self.key: tuple[str, int] | None = None
        self.y_range: tuple[float, float] | None = None
        self.plot = pg.PlotWidget(background=PANEL)
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.plot.disableAutoRange()
        self.plot.setXRange(0, self.LENGTH - 1, padding=0)
        self.plot.getAxis("bottom").hide()
        self.plot.getAxis("left").setTextPen(MUTED)
        self.plot.getAxis("left").setPen(MUTED)
        self.plot.getAxis("left").setWidth(36)
        self.curve = self.plot.plot(pen=pg.mkPen(ACCENT, width=1.5), skipFiniteCheck=True)
        self.plot.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.x = np.arange(self.LENGTH, dtype=np.float32)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)
        self.setFixedHeight(70)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)

    def add(self, key: tuple[str, int], value: float) -> None:
        if key != self.key:  # a new unit starts a new trace
            self.key, self.count, self.y_range = key, 0, None
        if not np.isfinite(value):
            return
        self.values[:-1] = self.values[1:]
        self.values[-1] = value
        self.count = min(self.count + 1, self.LENGTH)
        shown = self.values[-self.count:]
        self._fit_y(float(shown.min()), float(shown.max()))
        self.curve.setData(self.x[-self.count:], shown)

    def _fit_y(self, low: float, high: float) -> None:
        span = max(high - low, 1e-3 * max(abs(high), 1.0))
        if self.y_range is not None:
            bottom, top = self.y_range
            inside = bottom <= low and high <= top
            if inside and (high - low) > 0.4 * (top - bottom):
                return
        self.y_range = (low - self.HEADROOM * span, high + self.HEADROOM * span)
        self.plot.setYRange(*self.y_range, padding=0)


class HelpOverlay(QWidget):
    """The key bindings over the window (h); a click or h closes it."""

    def __init__(self, rows: Sequence[tuple[str, str]], parent: QWidget):
        super().__init__(parent)
        self.rows = list(rows)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.hide()

    def mousePressEvent(self, _event) -> None:
        self.hide()

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(10, 10, 12, 215))
        metrics = painter.fontMetrics()
        line = metrics.height() + 6
        half = (len(self.rows) + 1) // 2
        key_w = max(metrics.horizontalAdvance(k) for k, _ in self.rows) + 24
        text_w = max(metrics.horizontalAdvance(t) for _, t in self.rows) + 40
        total_w = 2 * (key_w + text_w)
        x0 = max(20, (self.width() - total_w) // 2)
        y0 = max(50, (self.height() - half * line) // 2)
        title = QFont(self.font())
        title.setPointSizeF(title.pointSizeF() * 1.4)
        title.setBold(True)
        painter.setFont(title)
        painter.setPen(TEXT)
        painter.drawText(QRectF(x0, y0 - 44, total_w, 30), Qt.AlignmentFlag.AlignLeft, "Keys")
        painter.setFont(self.font())
        for i, (keys, text) in enumerate(self.rows):
            col, row = divmod(i, half)
            x = x0 + col * (key_w + text_w)
            y = y0 + row * line
            painter.setPen(ACCENT)
            painter.drawText(QRectF(x, y, key_w, line), Qt.AlignmentFlag.AlignVCenter, keys)
            painter.setPen(TEXT)
            painter.drawText(QRectF(x + key_w, y, text_w, line), Qt.AlignmentFlag.AlignVCenter, text)
        painter.setPen(MUTED)
        painter.drawText(QRectF(x0, y0 + half * line + 16, total_w, line), Qt.AlignmentFlag.AlignLeft,
                         "Every action is also in the menus. Press h or click to close.")
        painter.end()
