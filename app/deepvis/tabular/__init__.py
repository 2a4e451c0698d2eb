"""Tables with named variables: an MLP learns one, and every neuron of a layer is explained at once.

data (loading, checks, encoding) -> model (the MLP and its files) -> train (a stoppable trainer)
-> explain (attributions to every neuron, top rows) -> plots (neurons.png); command is the CLI.
Nothing here imports Qt.
"""
