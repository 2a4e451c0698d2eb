"""The Qt window: panes, key bindings, menus and the worker thread that runs the engine.

Only this sub-package imports Qt; everything it shows comes from deepvis.pipeline.
"""
