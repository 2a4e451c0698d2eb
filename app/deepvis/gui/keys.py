"""Qt key events as the names the key tables use (deepvis.live.keys and each mode's)."""

from __future__ import annotations

from PyQt6.QtCore import Qt

# Named keys; every other key is the character it types (so "I" is shift+i).
SPECIAL_KEYS = {
    Qt.Key.Key_Left: "Left", Qt.Key.Key_Right: "Right", Qt.Key.Key_Up: "Up", Qt.Key.Key_Down: "Down",
    Qt.Key.Key_PageDown: "PgDown", Qt.Key.Key_PageUp: "PgUp", Qt.Key.Key_Escape: "Esc",
    Qt.Key.Key_Space: "Space", Qt.Key.Key_Return: "Enter", Qt.Key.Key_Enter: "Enter",
}


def key_name(key: int, text: str) -> str:
    """The name a key event has in the tables: a named key, or the character typed."""
    try:
        special = SPECIAL_KEYS.get(Qt.Key(key))
    except ValueError:
        special = None
    return special or text
