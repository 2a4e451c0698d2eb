"""The tiny conv net with a pause in every forward pass, loadable as `slow_unit_model:make_model`
with tests/support on the path: a scan of a few dozen images then lasts seconds, long enough to be
interrupted on purpose."""

import time

from tiny_unit_model import TinyNet
from tiny_unit_model import make_model as make_tiny

PAUSE = 0.1  # seconds per forward pass


class SlowNet(TinyNet):
    def forward(self, x):
        time.sleep(PAUSE)
        return super().forward(x)


def make_model():
    model = SlowNet()
    model.load_state_dict(make_tiny().state_dict())
    return model
