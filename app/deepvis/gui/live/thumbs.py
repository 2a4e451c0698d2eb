"""The unit panel's pieces: a thread-safe cache of decoded images, a grid of thumbnails with
captions, and a wrapped hint that never sizes its panel."""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

from PyQt6.QtCore import QPointF, QRectF, QSize, Qt
from PyQt6.QtGui import QFont, QImage, QMouseEvent, QPainter
from PyQt6.QtWidgets import QLabel, QSizePolicy, QToolTip, QWidget

from deepvis.gui.panes import fit_rect
from deepvis.gui.theme import MUTED, PANEL


class ImageCache:
    """A thread-safe LRU of decoded images, keyed by path and modification time."""

    def __init__(self, max_items: int = 256):
        self.max_items = max_items
        self._items: OrderedDict[tuple[str, int], QImage] = OrderedDict()
        self._lock = threading.Lock()

    def load(self, path: Path) -> QImage:
        try:
            key = (str(path), path.stat().st_mtime_ns)
        except OSError:
            return QImage()
        with self._lock:
            image = self._items.get(key)
            if image is not None:
                self._items.move_to_end(key)
                return image
        image = QImage(str(path))  # QImage (not QPixmap) may be decoded on any thread
        with self._lock:
            self._items[key] = image
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)
        return image

    def __len__(self) -> int:
        return len(self._items)


class ThumbGrid(QWidget):
    """A few images in a grid of square cells, smoothly scaled; hovering a cell shows its caption.

    `fit`: one row of as many cells as there are images (up to `columns`), each as large as the
    widget allows: one optimized image fills the row. `placeholder`: a line drawn over the empty
    cells when there is no image (why the box is empty)."""

    GAP = 3

    def __init__(self, columns: int, rows: int, parent: QWidget | None = None, fit: bool = False):
        super().__init__(parent)
        self.columns, self.rows, self.fit = columns, rows, fit
        self.images: list[QImage] = []
        self.captions: list[str] = []
        self.labels: list[str] = []  # short names drawn under the cells (the optimized images' row)
        self.placeholder = ""
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Ignored)
        self.setMinimumSize(60, 30)
        self.setMouseTracking(True)

    def sizeHint(self) -> QSize:
        return QSize(240, 240 * self.rows // self.columns)

    def set_images(self, images: list[QImage], captions: list[str] | None = None,
                   labels: list[str] | None = None) -> None:
        """captions: one line per image (where it came from, its value) shown on hover, or None;
        labels: a short name per image drawn under it, or None."""
        kept = [i for i, im in enumerate(images) if not im.isNull()]
        self.images = [images[i] for i in kept]
        self.captions = [captions[i] for i in kept] if captions and len(captions) == len(images) else []
        self.labels = [labels[i] for i in kept] if labels and len(labels) == len(images) else []
        self.update()

    def _label_height(self) -> float:
        return self._label_font().pointSizeF() * 2.0 if self.labels else 0.0

    def _label_font(self) -> QFont:
        font = QFont(self.font())
        font.setPointSizeF(max(font.pointSizeF() * 0.85, 6.0))
        return font

    def set_placeholder(self, text: str) -> None:
        if text != self.placeholder:
            self.placeholder = text
            self.update()

    def _shape(self) -> tuple[int, int]:
        if self.fit:
            return min(max(len(self.images), 1), self.columns), 1
        return self.columns, self.rows

    def cell_rect(self, index: int) -> QRectF:
        gap, (columns, rows) = self.GAP, self._shape()
        label = self._label_height()
        cell = max(min((self.width() - gap * (columns - 1)) / columns,
                       (self.height() - gap * (rows - 1)) / rows - label), 1.0)
        x0 = (self.width() - (cell * columns + gap * (columns - 1))) / 2
        row, col = divmod(index, columns)
        return QRectF(x0 + col * (cell + gap), row * (cell + gap + label), cell, cell)

    def cell_at(self, pos: QPointF) -> int | None:
        return next((i for i in range(len(self.images)) if self.cell_rect(i).contains(pos)), None)

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        columns, rows = self._shape()
        # Only the images there are (a top-k of k < 9 leaves cells empty); empty cells only when none.
        for i in range(len(self.images) if self.images else columns * rows):
            rect = self.cell_rect(i)
            if i < len(self.images):
                image = self.images[i]
                painter.drawImage(fit_rect(rect, image.width(), image.height()), image)
                if i < len(self.labels):
                    painter.setFont(self._label_font())
                    painter.setPen(MUTED)
                    below = QRectF(rect.left(), rect.bottom(), rect.width(), self._label_height())
                    text = painter.fontMetrics().elidedText(self.labels[i], Qt.TextElideMode.ElideRight,
                                                            int(rect.width()))
                    painter.drawText(below, int(Qt.AlignmentFlag.AlignCenter), text)
            else:
                painter.fillRect(rect, PANEL.darker(115))
        if not self.images and self.placeholder:
            font = QFont(self.font())
            font.setPointSizeF(max(font.pointSizeF() * 0.85, 6.0))
            painter.setFont(font)
            painter.setPen(MUTED)
            first, last = self.cell_rect(0), self.cell_rect(columns * rows - 1)
            area = QRectF(first.topLeft(), last.bottomRight()).adjusted(4, 4, -4, -4)
            painter.drawText(area, int(Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap), self.placeholder)
        painter.end()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        cell = self.cell_at(event.position())
        if cell is not None and cell < len(self.captions):
            QToolTip.showText(event.globalPosition().toPoint(), self.captions[cell], self)
        else:
            QToolTip.hideText()


def qimage_of(rgb) -> QImage:
    """A QImage owning a copy of an H x W x 3 uint8 array."""
    height, width = rgb.shape[:2]
    return QImage(rgb.tobytes(), width, height, 3 * width, QImage.Format.Format_RGB888).copy()


class HintLabel(QLabel):
    """A wrapped text that takes the height its layout gives it: its wrapped height never sizes the
    panel (a long hint would move the blocks around it, or the panes above)."""

    def hasHeightForWidth(self) -> bool:
        return False

    def minimumSizeHint(self) -> QSize:
        return QSize(0, 0)


def hint_label(small: bool = False) -> QLabel:
    """A selectable, word-wrapped hint (why a box is empty, how to fill it); `small`: a tenth smaller."""
    label = HintLabel()
    label.setObjectName("emptyState")
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    if small:
        font = label.font()
        font.setPointSizeF(font.pointSizeF() * 0.9)
        label.setFont(font)
    label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
    return label
