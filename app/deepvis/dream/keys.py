"""The Dream mode's keys, Qt-free: each names a method of the mode (gui/dream/mode.py)."""

from deepvis.keytable import Binding, KeyTable

KEYS = KeyTable((
    Binding(("f",), "dream_from_live", "dream Live's frame"),
    Binding(("u",), "dream_unit_from_live", "dream Live's frame at its layer and unit"),
    Binding(("d",), "start_dream", "dream again"),
    Binding(("o",), "open_dialog", "open an image…"),
    Binding(("c",), "start_classes", "class images from noise"),
    Binding(("s",), "save_dialog", "save the dream as PNG…"),
    Binding(("x", "Esc"), "stop", "stop"),
    Binding(("l",), "back_to_live", "back to Live"),
))
