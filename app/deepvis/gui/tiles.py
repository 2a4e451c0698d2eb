"""Widgets of the Weights and Digits modes: a picture of tiles that answers hover and click, and a
bar chart of ten signed values."""

from __future__ import annotations

import logging
from typing import Sequence

import numpy as np
from PyQt6.QtCore import QPointF, QRectF, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QMouseEvent, QPainter, QPen
from PyQt6.QtWidgets import QSizePolicy, QWidget

from deepvis.gui.panes import ImagePane
from deepvis.gui.theme import ACCENT, MUTED, PANEL, TEXT

log = logging.getLogger("deepvis.gui")

POSITIVE = QColor(33, 102, 172)
NEGATIVE = QColor(178, 24, 43)


class TilesPane(ImagePane):
    """An image made of unit tiles at known rects (image pixels): hover and click give the unit."""

    unit_clicked = pyqtSignal(int)
    unit_hovered = pyqtSignal(object)  # int, or None when the pointer leaves the tiles

    def __init__(self, title: str, placeholder: str = "", parent: QWidget | None = None):
        super().__init__(title, smooth=False, placeholder=placeholder, parent=parent)
        self.rects: list[tuple[int, int, int, int]] = []
        self.selected: int | None = None
        self._hovered: int | None = None
        self.setMouseTracking(True)

    def set_tiles(self, rgb: np.ndarray, rects: Sequence[tuple[int, int, int, int]]) -> None:
        self.rects = list(rects)
        self.set_array(rgb)

    def set_selected(self, unit: int | None) -> None:
        self.selected = unit
        self.update()

    def _scale(self) -> tuple[QRectF, float]:
        rect = self.image_rect()
        image = self._qimage()
        return rect, (rect.width() / image.width()) if image is not None and image.width() else 1.0

    def unit_at(self, pos: QPointF) -> int | None:
        if self._qimage() is None:
            return None
        rect, scale = self._scale()
        x, y = (pos.x() - rect.x()) / scale, (pos.y() - rect.y()) / scale
        for unit, (rx, ry, rw, rh) in enumerate(self.rects):
            if rx <= x < rx + rw and ry <= y < ry + rh:
                return unit
        return None

    def tile_rect(self, unit: int) -> QRectF:
        rect, scale = self._scale()
        rx, ry, rw, rh = self.rects[unit]
        return QRectF(rect.x() + rx * scale, rect.y() + ry * scale, rw * scale, rh * scale)

    def paint_overlay(self, painter: QPainter) -> None:
        if self.selected is not None and 0 <= self.selected < len(self.rects):
            painter.setPen(QPen(ACCENT, 2))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(self.tile_rect(self.selected).adjusted(-1, -1, 1, 1))

    def mousePressEvent(self, event: QMouseEvent) -> None:
        unit = self.unit_at(event.position())
        if unit is not None and event.button() == Qt.MouseButton.LeftButton:
            self.unit_clicked.emit(unit)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        unit = self.unit_at(event.position())
        if unit != self._hovered:
            self._hovered = unit
            self.unit_hovered.emit(unit)

    def leaveEvent(self, _event) -> None:
        if self._hovered is not None:
            self._hovered = None
            self.unit_hovered.emit(None)


class SignedBars(QWidget):
    """Labelled bars of signed values (blue up, red down), e.g. a hidden unit's weights to each digit."""

    def __init__(self, title: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.title = title
        self.values: np.ndarray | None = None
        self.labels: list[str] = []
        self.signs: np.ndarray | None = None
        self.setMinimumHeight(120)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)

    def set_values(self, values: np.ndarray | None, labels: Sequence[str], title: str | None = None,
                   signs: np.ndarray | None = None) -> None:
        """signs: draw every bar upwards from the bottom (e.g. counts), coloured by these signs."""
        self.values, self.labels, self.signs = values, list(labels), signs
        if title is not None:
            self.title = title
        self.update()

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), PANEL)
        painter.setPen(MUTED)
        painter.drawText(QRectF(6, 0, self.width() - 12, 20), Qt.AlignmentFlag.AlignVCenter, self.title)
        if self.values is None or not len(self.values):
            painter.end()
            return
        top, bottom = 24.0, self.height() - (20.0 if any(self.labels) else 4.0)
        mid = bottom if self.signs is not None else (top + bottom) / 2
        peak = float(np.abs(self.values).max()) or 1.0
        slot = (self.width() - 12) / len(self.values)
        painter.setPen(QPen(MUTED, 1))
        painter.drawLine(QPointF(6, mid), QPointF(self.width() - 6, mid))
        for i, (value, label) in enumerate(zip(self.values, self.labels)):
            x = 6 + i * slot
            h = (mid - top) * abs(float(value)) / peak
            up = value >= 0 if self.signs is None else True
            positive = value >= 0 if self.signs is None else self.signs[i] >= 0
            painter.fillRect(QRectF(x + slot * 0.15, mid - h if up else mid, max(1.0, slot * 0.7), h),
                             POSITIVE if positive else NEGATIVE)
            painter.setPen(TEXT)
            painter.drawText(QRectF(x, bottom, slot, 18), Qt.AlignmentFlag.AlignCenter, label)
        painter.end()
