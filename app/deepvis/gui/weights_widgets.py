"""Widgets of the Weights and Digits modes: a picture of tiles that answers hover and click, a bar
chart of ten signed values, and the modes' job worker (one job at a time, latest result wins)."""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable, Sequence

import numpy as np
from PyQt6.QtCore import QPointF, QRectF, Qt, QThread, pyqtSignal
from PyQt6.QtGui import QColor, QMouseEvent, QPainter, QPen
from PyQt6.QtWidgets import QSizePolicy, QWidget

from deepvis import DeepvisError
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


class Cancelled(Exception):
    """Raised inside a job at a checkpoint once the job was replaced or the worker stops."""


class JobContext:
    """What a job sees: report(result) hands a display-ready result to the GUI (latest wins);
    checkpoint() waits while the mode is hidden and raises Cancelled once the job is replaced."""

    def __init__(self, worker: "JobWorker", token: int):
        self._worker, self._token = worker, token

    def report(self, result: Any) -> None:
        self.checkpoint()
        self._worker._deliver(result)

    def checkpoint(self) -> None:
        worker = self._worker
        worker._active.wait()
        if worker._stopping or worker._token != self._token:
            raise Cancelled


class JobWorker(QThread):
    """Runs one job at a time on its own thread; a new job replaces a pending or running one.

    Results cross to the GUI thread through take() (only the newest is kept); `ready` says one
    waits. While the mode is hidden (set_active(False)) a job stops at its next checkpoint.
    """

    ready = pyqtSignal()
    failed = pyqtSignal(str)
    idle = pyqtSignal()  # a job ended (done, failed or replaced) and none is pending

    def __init__(self, name: str, parent=None):
        super().__init__(parent)
        self.setObjectName(name)
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._job: Callable[[JobContext], Any] | None = None
        self._token = 0
        self._latest: Any = None
        self._signalled = False
        self._stopping = False
        self._active = threading.Event()
        self._active.set()
        self.busy = False

    def submit(self, job: Callable[[JobContext], Any]) -> None:
        with self._wake:
            self._token += 1
            self._job = job
            self.busy = True
            self._wake.notify()
        if not self.isRunning():
            self.start()

    def cancel(self) -> None:
        with self._wake:
            self._token += 1
            self._job = None

    def set_active(self, active: bool) -> None:
        (self._active.set if active else self._active.clear)()

    def take(self) -> Any:
        with self._lock:
            result, self._latest, self._signalled = self._latest, None, False
        return result

    def stop(self, timeout_ms: int = 10000) -> None:
        with self._wake:
            self._stopping = True
            self._token += 1
            self._wake.notify()
        self._active.set()
        self.wait(timeout_ms)

    def _deliver(self, result: Any) -> None:
        with self._lock:
            self._latest = result
            signal = not self._signalled
            self._signalled = True
        if signal:
            self.ready.emit()

    def run(self) -> None:
        from deepvis.gui.worker import WORKER_THREADS
        import torch

        torch.set_num_threads(WORKER_THREADS)
        while True:
            with self._wake:
                while self._job is None and not self._stopping:
                    self._wake.wait()
                if self._stopping:
                    return
                job, token, self._job = self._job, self._token, None
            try:
                job(JobContext(self, token))
            except Cancelled:
                pass
            except DeepvisError as error:
                self.failed.emit(str(error))
            except Exception as error:  # shown in the status bar, never a silent death
                log.exception("job failed")
                self.failed.emit(f"{type(error).__name__}: {error}")
            with self._lock:
                if self._job is None:
                    self.busy = False
                    self.idle.emit()
