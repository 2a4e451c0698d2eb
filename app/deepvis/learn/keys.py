"""The Learn mode's keys, Qt-free: each names a method of its view model (learn/view_model.py)."""

from deepvis.keytable import Binding, KeyTable

KEYS = KeyTable((
    Binding(("Space",), "toggle_play", "train / pause"),
    Binding(("s",), "step", "step (one snapshot's steps), then pause"),
    Binding(("r",), "reset", "reset: a new network, same settings"),
    Binding(("g",), "regenerate_data", "new data (the next data seed), same network init"),
    Binding(("Left",), "move_moment", "timeline: an earlier moment", (-1,)),
    Binding(("Right",), "move_moment", "timeline: a later moment", (1,)),
    Binding(("PgUp",), "jump_moment", "timeline: 10% back", (-1,)),
    Binding(("PgDown",), "jump_moment", "timeline: 10% forward", (1,)),
    Binding(("f",), "train_from_here", "train on from the moment shown"),
    Binding(("Up",), "move_stage", "stage of the 3-D view: later", (1,)),
    Binding(("Down",), "move_stage", "stage of the 3-D view: earlier", (-1,)),
    Binding(("n",), "next_neuron", "next neuron's surface"),
    Binding(("l",), "toggle_landscape", "loss landscape / data at a stage in the 3-D view"),
    Binding(("v",), "toggle_view", "every neuron's map / the network diagram"),
    Binding(("d",), "toggle_discretize", "discretize the output: classes (or sign) / shades"),
    Binding(("t",), "toggle_test_points", "test points on the boundary: show / hide"),
))
