"""Small widgets every mode builds its controls from: section titles, spin boxes, labelled rows."""

from __future__ import annotations

from PyQt6.QtCore import QEvent, QObject, Qt
from PyQt6.QtGui import QKeyEvent
from PyQt6.QtWidgets import QApplication, QBoxLayout, QHBoxLayout, QLabel, QSizePolicy, QSpinBox, QVBoxLayout, QWidget


class KeysToWindow(QObject):
    """Installed on a table or list: typed characters (q, t, b, ...) go to the window's key table
    instead of the view's keyboard search; the view keeps the arrows and paging keys that move
    its selection."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() != QEvent.Type.KeyPress or not isinstance(watched, QWidget):
            return False
        text = event.text()
        plain = not event.modifiers() & (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier)
        if not (text and text.isprintable() and plain):
            return False
        copy = QKeyEvent(QEvent.Type.KeyPress, event.key(), event.modifiers(), text)
        QApplication.sendEvent(watched.window(), copy)
        return True


def section_title(text: str = "", elastic: bool = False) -> QLabel:
    """A title in the theme's small capitals style. `elastic`: its text never widens its parent,
    so a long title cannot move the panes beside it."""
    label = QLabel(text)
    label.setObjectName("sectionTitle")
    label.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
    if elastic:
        label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
    return label


def spin_box(low: int, high: int, value: int) -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(low, high)
    spin.setValue(value)
    return spin


def labelled_row(pairs, layout: QBoxLayout | None = None) -> QBoxLayout:
    """`label widget label widget ...` in a row (or appended to the given layout)."""
    row = layout if layout is not None else QHBoxLayout()
    for label, widget in pairs:
        row.addWidget(QLabel(label))
        row.addWidget(widget)
    return row


def column(*widgets: tuple[QWidget, int], spacing: int = 6) -> QWidget:
    """Widgets stacked top to bottom with their stretch factors, without margins."""
    holder = QWidget()
    layout = QVBoxLayout(holder)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(spacing)
    for widget, stretch in widgets:
        layout.addWidget(widget, stretch)
    return holder
