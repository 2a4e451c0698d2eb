"""The Live mode's three columns in a splitter that fits the square grid, and screenshots of a pane."""

from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import Qt, QTimer
from PyQt6.QtWidgets import QFileDialog, QSplitter, QWidget

from deepvis.files import atomic_path


class ColumnSplitter(QSplitter):
    """Left, middle and right columns. The grid (square) in the middle gets about the height of the
    mode and the side columns share the rest, at every size, until the user drags a handle: from
    then on resizing keeps their split (reset() fits again)."""

    def __init__(self, columns: list[tuple[QWidget, int]], parent: QWidget | None = None):
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.setChildrenCollapsible(False)
        self.setHandleWidth(6)
        self.user_sized = False
        self.splitterMoved.connect(self._moved)
        for widget, stretch in columns:
            self.addWidget(widget)
            self.setStretchFactor(self.count() - 1, stretch)

    def _moved(self, *_args) -> None:
        self.user_sized = True

    def reset(self) -> None:
        self.user_sized = False
        self.fit()

    def fit(self) -> None:
        width, height = self.width(), self.height()
        if width <= 0 or height <= 0:
            return
        middle = int(min(max(height - 10, width * 0.42), width * 0.6))
        side = (width - middle) // 2
        self.setSizes([side, middle, width - middle - side])

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if not self.user_sized:
            QTimer.singleShot(0, self.fit)  # after the layouts have sized the columns


def save_widget_png(widget: QWidget, path: str | Path) -> Path:
    """A screenshot of one widget as PNG, written atomically."""
    path = Path(path).with_suffix(".png")
    with atomic_path(path) as partial:
        if not widget.grab().save(str(partial), "PNG"):
            raise OSError(f"cannot write {path}")
    return path


def ask_png_path(parent: QWidget, default: str) -> str:
    """Where to save a screenshot ('' when the user cancels)."""
    path, _ = QFileDialog.getSaveFileName(parent, "Save a screenshot", default, "PNG images (*.png)")
    return path
