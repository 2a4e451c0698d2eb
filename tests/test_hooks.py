"""deepvis.hooks: hooks removed however a pass ends, and forwards that stop after the last needed call."""

import pytest
import torch
from torch import nn

from deepvis.hooks import StopForward, forward_until, hooked, run_stoppable


class Reused(nn.Module):
    """One ReLU called twice (as ResNet's blocks do), and a tail that counts its runs."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1)
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1)
        self.relu = nn.ReLU(inplace=True)
        self.head = nn.Linear(4, 2)
        self.head_runs = 0

    def forward(self, x):
        x = self.relu(self.conv2(self.relu(self.conv1(x))))
        self.head_runs += 1
        return self.head(x.mean(dim=(2, 3)))


def hook_count(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def test_hooks_are_removed_when_the_pass_raises():
    model = Reused()

    def fail(_module, _inputs, _output):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError), hooked(forward=[(model.conv1, fail)], pre=[(model.conv2, lambda m, i: None)]):
        model(torch.zeros(1, 3, 8, 8))
    assert hook_count(model) == 0


def test_run_stoppable_swallows_stop_forward():
    model = Reused()

    def stop(_module, _inputs, _output):
        raise StopForward

    with hooked(forward=[(model.conv1, stop)]):
        assert run_stoppable(model, torch.zeros(1, 3, 8, 8)) is None
    assert model.head_runs == 0 and hook_count(model) == 0


def test_forward_until_gives_a_reused_modules_last_call_and_stops_there():
    torch.manual_seed(0)
    model = Reused().eval()
    x = torch.randn(1, 3, 8, 8)
    with torch.no_grad():
        expected = torch.relu(model.conv2(torch.relu(model.conv1(x))))
        first, logits = forward_until(model, x, {"relu": model.relu})  # counts the calls
        assert logits is not None and model.head_runs == 1
        # A caller naming the module differently still stops after its last call.
        again, logits = forward_until(model, x, {"act": model.relu})
    assert logits is None and model.head_runs == 1
    assert torch.equal(first["relu"], expected) and torch.equal(again["act"], expected)
    assert hook_count(model) == 0
