"""A tiny conv net for the unit-image tests, loadable as `tiny_unit_model:make_model` with tests/support on the path."""

import torch
from torch import nn


class TinyNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 6, 3, stride=2, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(6, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU6(),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(8, 5)

    def forward(self, x):
        return self.classifier(self.pool(self.features(x)).flatten(1))


def make_model():
    torch.manual_seed(0)
    model = TinyNet()
    with torch.no_grad():
        bn = model.features[4]
        bn.running_mean.uniform_(-0.2, 0.2)
        bn.running_var.uniform_(0.5, 1.5)
    return model
