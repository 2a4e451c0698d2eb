"""The key bindings of the original toolbox, as one table: keys -> an action of the Live mode.

Actions the view model owns (selection, layers, backprop, display) are run on it
directly; the others (source, files, unit images, quit) are requests that the
window carries out. Menus and the help overlay read the same table.
"""

from __future__ import annotations

from deepvis.keytable import Binding


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
    Binding(("g",), "dream_frame", "DeepDream this frame (G: amplify the selected unit)"),
    Binding(("G",), "dream_unit", "DeepDream this frame on the selected unit"),
    Binding(("A",), "accentuate_unit", "accentuate this frame for the selected unit (A again: its images)"),
    Binding(("h",), "toggle_help", "this help"),
    Binding(("Esc",), "reset", "reset the view"),
    Binding(("q",), "quit", "quit"),
)

KEYMAP: dict[str, str] = {key: b.action for b in BINDINGS for key in b.keys}
ACTION_KEYS: dict[str, str] = {b.action: " / ".join(b.keys) for b in BINDINGS}

# Requests the view model cannot carry out itself: the window does (it owns the source and threads).
WINDOW_REQUESTS = frozenset({"toggle_pause", "toggle_camera", "next_file", "prev_file", "compute_unit",
                             "dream_frame", "dream_unit", "accentuate_unit", "toggle_help", "quit"})

GAMMA_STEPS = (1.0, 0.7, 0.5, 0.3)
BOOST_STEPS = (0.0, 0.3, 0.5, 0.8, 1.0)
ZOOM_MODES = ("off", "unit", "backprop")


def next_step(steps: tuple[float, ...], value: float) -> float:
    """The step after the one nearest to value, wrapping."""
    nearest = min(range(len(steps)), key=lambda i: abs(steps[i] - value))
    return steps[(nearest + 1) % len(steps)]
