"""The selected unit's signal in input space, from one backward pass on the device.

- methods: one class per method (gradient, deconv, guided) on a shared base; a new method is
  one class there.
- rules: the rectifier rule that applies a method's backward to every ReLU-family call.
- attribute: seeds, the backward pass, run_backprop and probe_backprop.
- display: the backprop pane's filters and the keys that step through methods and filters.
"""

from deepvis.backprop.attribute import (
    BackpropResult,
    backward_from,
    make_seed,
    origin_seed,
    probe_backprop,
    run_backprop,
    write_probe_backprop,
)
from deepvis.backprop.display import (
    BACKPROP_CYCLE,
    backprop_image,
    display_filter,
    gaussian_blur,
    next_backprop_mode,
    next_filter,
    overlay_on_frame,
    unsupported_notice,
)
from deepvis.backprop.methods import METHODS, MODES, BackpropMethod
from deepvis.backprop.rules import RECTIFIERS, UNSUPPORTED, RectifierRule, backward_rule

__all__ = [
    "BACKPROP_CYCLE", "METHODS", "MODES", "RECTIFIERS", "UNSUPPORTED", "BackpropMethod", "BackpropResult",
    "RectifierRule", "backprop_image", "backward_from", "backward_rule", "display_filter", "gaussian_blur",
    "make_seed", "next_backprop_mode", "next_filter", "origin_seed", "overlay_on_frame", "probe_backprop",
    "run_backprop", "unsupported_notice", "write_probe_backprop",
]
