"""The page bar under a large layer's tiles: previous / next buttons and which units are shown."""

from __future__ import annotations

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget


class PageBar(QWidget):
    """Emits flipped(-1 | +1); the buttons take no focus (the keys belong to the window)."""

    flipped = pyqtSignal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.previous = QPushButton("◀ PgUp")
        self.next = QPushButton("PgDown ▶")
        self.label = QLabel()
        self.label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 2, 0, 2)
        layout.addWidget(self.previous)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.next)
        for button, step in ((self.previous, -1), (self.next, 1)):
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            button.clicked.connect(lambda _checked=False, step=step: self.flipped.emit(step))

    def show_page(self, text: str, page: int, pages: int) -> None:
        """`text` ('rows 257-320 of 1000') on page `page` (0-based) of `pages`; hidden for one page."""
        self.setVisible(pages > 1)
        self.label.setText(f"{text}   ·   page {page + 1} of {pages}")
        self.previous.setEnabled(page > 0)
        self.next.setEnabled(page < pages - 1)
