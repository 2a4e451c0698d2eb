"""The key bindings of the original toolbox, as one table the window, its menus and the help overlay share."""

from __future__ import annotations

from dataclasses import dataclass

from PyQt6.QtCore import Qt

# Named keys; every other binding is the character the key types (so "I" is shift+i).
SPECIAL_KEYS = {
    Qt.Key.Key_Left: "Left", Qt.Key.Key_Right: "Right", Qt.Key.Key_Up: "Up", Qt.Key.Key_Down: "Down",
    Qt.Key.Key_PageDown: "PgDown", Qt.Key.Key_PageUp: "PgUp", Qt.Key.Key_Escape: "Esc",
    Qt.Key.Key_Space: "Space",
}


@dataclass(frozen=True)
class Binding:
    keys: tuple[str, ...]
    action: str  # the name of a MainWindow action
    text: str  # what it does, for menus and the help overlay


BINDINGS: tuple[Binding, ...] = (
    Binding(("Left", "j"), "move_left", "select the unit to the left"),
    Binding(("Right", "l"), "move_right", "select the unit to the right"),
    Binding(("Up", "i"), "move_up", "select the unit above"),
    Binding(("Down", "k"), "move_down", "select the unit below"),
    Binding(("J",), "move_left_3", "move the selection 3 left"),
    Binding(("L",), "move_right_3", "move the selection 3 right"),
    Binding(("I",), "move_up_3", "move the selection 3 up"),
    Binding(("K",), "move_down_3", "move the selection 3 down"),
    Binding(("u",), "prev_layer", "previous layer"),
    Binding(("o",), "next_layer", "next layer"),
    Binding(("f",), "toggle_freeze", "freeze the frame"),
    Binding(("Space",), "toggle_pause", "pause the source"),
    Binding(("c",), "toggle_camera", "camera vs files"),
    Binding(("e", "PgDown"), "next_file", "next file"),
    Binding(("w", "PgUp"), "prev_file", "previous file"),
    Binding(("0",), "toggle_crop", "crop vs stretch"),
    Binding(("b",), "cycle_backprop", "cycle backprop modes"),
    Binding(("m",), "cycle_filter", "cycle the backprop filter"),
    Binding(("d",), "toggle_origin", "freeze the backprop origin"),
    Binding(("a",), "toggle_backprop_in_grid", "show the backward signal in the grid"),
    Binding(("z",), "cycle_zoom", "zoom: unit, then backprop, fills the grid"),
    Binding(("t",), "cycle_gamma", "cycle gamma"),
    Binding(("T",), "cycle_boost", "cycle per-channel boost"),
    Binding(("8",), "toggle_predictions", "show / hide predictions"),
    Binding(("9",), "toggle_unit_panel", "show / hide the per-unit panel"),
    Binding(("x",), "compute_unit", "compute the selected unit's images now"),
    Binding(("h",), "toggle_help", "this help"),
    Binding(("Esc",), "reset", "reset the view"),
    Binding(("q",), "quit", "quit"),
)

KEYMAP: dict[str, str] = {key: b.action for b in BINDINGS for key in b.keys}
ACTION_KEYS: dict[str, str] = {b.action: " / ".join(b.keys) for b in BINDINGS}

GAMMA_STEPS = (1.0, 0.7, 0.5, 0.3)
BOOST_STEPS = (0.0, 0.3, 0.5, 0.8, 1.0)
ZOOM_MODES = ("off", "unit", "backprop")


def key_name(key: int, text: str) -> str:
    """The name a key event has in the table: a named key, or the character typed."""
    try:
        special = SPECIAL_KEYS.get(Qt.Key(key))
    except ValueError:
        special = None
    return special or text


def next_step(steps: tuple[float, ...], value: float) -> float:
    """The step after the one nearest to value, wrapping."""
    nearest = min(range(len(steps)), key=lambda i: abs(steps[i] - value))
    return steps[(nearest + 1) % len(steps)]
