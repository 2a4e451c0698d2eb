"""The Qt shell: one window with a tab per mode (modes/), the modes' widgets and their worker
threads, which run the engine.

Only this sub-package imports Qt; everything it shows is computed by the Qt-free packages
(the Live mode's frames by deepvis.live.pipeline).
"""
