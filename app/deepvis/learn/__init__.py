"""Learn: a small MLP trained on 2-D data, seen from the inside while it learns.

One module per stage: `data` (the points, two-class or regression), `features` (the input
layer: x1, x2, their squares, product and sines), `network` (the MLP and its hand-written
backward), `trainer` (the loop yielding snapshots), `probe` (how separable the classes are at
a stage), `views` (boundary, neuron landscapes and stages from a snapshot), `landscape` (the
loss over a plane through the weights), `timeline` (every snapshot of a run), `loop` (training
with views at display rate), `setup` (a run's whole setup and its JSON file), `export`
(pictures and video), `export_code` (a standalone PyTorch script of a run), `bench` and
`command` (`deepvis learn`). Nothing here imports Qt.
"""
