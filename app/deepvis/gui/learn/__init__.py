"""The Learn mode's window side: the mode, its controls, panels and 3-D views, and the worker
thread that trains and computes the views."""
