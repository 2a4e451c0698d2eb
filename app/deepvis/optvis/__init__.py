"""Feature visualization by optimization, in composable stages (after Lucid/Lucent's render_vis).

objectives: what to maximize, read through deepvis.hooks; param: how the image
is made from its parameters; transforms: the random views each step sees;
regularizers: what shapes a pixel image between steps; render: the one loop.
"""

from deepvis.optvis.objectives import Objective, Tap, channel, class_logit, layer_l2, unit
from deepvis.optvis.param import FourierImage, PixelImage
from deepvis.optvis.render import Adam, Constant, Progress, render
from deepvis.optvis.seeds import ImageRandom

__all__ = ["Objective", "Tap", "channel", "class_logit", "layer_l2", "unit", "FourierImage", "PixelImage",
           "Adam", "Constant", "Progress", "render", "ImageRandom"]
