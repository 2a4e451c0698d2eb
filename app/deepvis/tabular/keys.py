"""The Tabular mode's keys, Qt-free: each names a method of its view model (tabular/view_model.py)."""

from deepvis.keytable import Binding, KeyTable

KEYS = KeyTable((
    Binding(("t", "T"), "train", "train the network"),
    Binding(("Esc",), "stop_training", "stop training (what it learned is kept and explained)"),
    Binding(("Up",), "move_neuron", "previous neuron", (-1,)),
    Binding(("Down",), "move_neuron", "next neuron", (1,)),
    Binding(("Left",), "move_layer", "previous layer", (-1,)),
    Binding(("Right",), "move_layer", "next layer", (1,)),
    Binding(("b", "B"), "toggle_row_bars", "bars: test mean / selected row"),
))
