"""The Live mode's engine, Qt-free: the per-frame pipeline (preprocess, forward, grid, backprop,
the top-9 seen live), the view model (what the user looks at), its events and its key table.

Decoding frames (deepvis.sources), one image through the model (deepvis.probe) and the tiled
grid (deepvis.render) stay at the package's top level: Dream, the unit images and the shared
floor use them too.
"""
