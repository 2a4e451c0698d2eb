"""The Weights mode's keys, Qt-free: each names a method of its view model (view_model.py)."""

from deepvis.keytable import Binding, KeyTable

KEYS = KeyTable((
    Binding(("Up",), "move_layer", "previous layer", (-1,)),
    Binding(("Down",), "move_layer", "next layer", (1,)),
    Binding(("Left",), "move_unit", "previous unit", (-1,)),
    Binding(("Right",), "move_unit", "next unit", (1,)),
    Binding(("PgUp",), "flip_page", "previous page of a large layer", (-1,)),
    Binding(("PgDown",), "flip_page", "next page of a large layer", (1,)),
    Binding(("Enter",), "open_selected_in_live", "show the selected unit in the Live mode"),
))
