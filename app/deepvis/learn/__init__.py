"""Learn: a small MLP trained on 2-D data, seen from the inside while it learns.

One module per stage: `data` (the points), `network` (the MLP and its hand-written
backward), `trainer` (the loop yielding snapshots), `probe` (how separable the classes
are at a stage), `views` (boundary, neuron landscapes and stages from a snapshot),
`timeline` (every snapshot of a run), `loop` (training with views at display rate),
`export` (pictures and video), `bench` and `command` (`deepvis learn`). Nothing here
imports Qt.
"""
