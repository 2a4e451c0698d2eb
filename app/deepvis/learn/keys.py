"""The Learn mode's keys, Qt-free: each names a method of the mode (gui/learn/mode.py)."""

from deepvis.keytable import Binding, KeyTable

KEYS = KeyTable((
    Binding(("Space",), "toggle_play", "train / pause"),
    Binding(("s",), "step", "step (one snapshot's steps), then pause"),
    Binding(("r",), "reset", "reset: a new network, same settings"),
    Binding(("Left",), "move_moment", "timeline: an earlier moment", (-1,)),
    Binding(("Right",), "move_moment", "timeline: a later moment", (1,)),
    Binding(("PgUp",), "jump_moment", "timeline: 10% back", (-1,)),
    Binding(("PgDown",), "jump_moment", "timeline: 10% forward", (1,)),
    Binding(("Up",), "move_stage", "stage of the 3-D view: later", (1,)),
    Binding(("Down",), "move_stage", "stage of the 3-D view: earlier", (-1,)),
    Binding(("n",), "next_neuron", "next neuron's surface"),
    Binding(("t",), "toggle_test_points", "test points on the boundary: show / hide"),
))
