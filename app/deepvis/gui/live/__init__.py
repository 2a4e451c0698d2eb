"""The Live mode's window side: the mode (panes, menus, model and source switching), its
pipeline worker thread, and the per-unit panel with its background unit-image jobs."""
