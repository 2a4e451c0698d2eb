"""The Digits mode's keys, Qt-free: each names a method of the mode (gui/digits/mode.py)."""

from deepvis.keytable import Binding, KeyTable

KEYS = KeyTable((
    Binding(("t",), "train", "train the MLP"),
    Binding(("s",), "sweep", "run the hidden-size sweep"),
    Binding(("c",), "compare", "compare randn vs scaled + L2"),
    Binding(("n",), "cnn", "train the small CNN, filters on noise, classes from noise"),
    Binding(("x", "Esc"), "stop", "stop the job"),
    Binding(("Left",), "previous_unit", "previous hidden unit"),
    Binding(("Right",), "next_unit", "next hidden unit"),
))
