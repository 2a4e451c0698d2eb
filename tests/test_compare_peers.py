"""scripts/compare_peers.py: its reference rule, checked by hand and against deepvis; Captum and Lucent
only where they are installed (the `compare` extra)."""

import importlib.util
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "compare_peers.py"


@pytest.fixture(scope="module")
def peers():
    spec = importlib.util.spec_from_file_location("compare_peers", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class FunctionalNet(nn.Module):
    """F.relu as GoogLeNet calls it, nn.ReLU6 as MobileNetV2 has it, and a reused in-place nn.ReLU."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv1 = nn.Conv2d(3, 6, 3, padding=1)
        self.conv2 = nn.Conv2d(6, 8, 3, padding=1)
        self.conv3 = nn.Conv2d(8, 8, 3, padding=1)
        self.relu6 = nn.ReLU6()
        self.relu = nn.ReLU(inplace=True)
        self.fc = nn.Linear(8 * 4 * 4, 5)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x), inplace=True), 2)
        x = F.max_pool2d(self.relu6(3 * self.conv2(x)), 2)  # scaled so that some values pass 6
        x = self.relu(self.conv3(x))
        x = self.relu(x - x.mean())
        return self.fc(x.flatten(1))


def tiny_input():
    return torch.randn(1, 3, 16, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(1))


def test_reference_rule_by_hand_on_a_two_layer_net(peers):
    torch.manual_seed(2)
    first, second = nn.Linear(4, 6).double(), nn.Linear(6, 3).double()
    x = torch.randn(1, 4, dtype=torch.float64)
    for name, top in (("relu", None), ("relu6", 6.0)):
        model = nn.Sequential(first, nn.Identity(), second).requires_grad_(False)
        # Looked up at call time, as models do; scaled so that ReLU6 clips somewhere.
        model[1].forward = lambda h, name=name: getattr(F, name)(8 * h)
        hidden = 8 * first(x)
        passed = second.weight[2].clamp(min=0)
        inside = (hidden > 0) if top is None else (hidden > 0) & (hidden < top)
        expected = {"deconv": 8 * passed @ first.weight, "guided": 8 * (passed * inside[0]) @ first.weight}
        for mode, value in expected.items():
            got = peers.reference_attribution(model, x, 2, mode)
            torch.testing.assert_close(got[0], value, rtol=1e-12, atol=1e-14)
        assert not torch.allclose(expected["deconv"], expected["guided"])


def test_reference_rule_agrees_with_deepvis_on_functional_relu_and_relu6(peers):
    model = FunctionalNet().double().eval().requires_grad_(False)
    x = tiny_input()
    originals = (F.relu, F.hardtanh, torch.Tensor.relu)
    calls = peers.rectifier_calls(model, x)
    assert calls == {"relu": 3, "relu6": 1, "nn.ReLU modules": 2}
    figures = peers.check_backprop(model, x, target=3, with_captum=False)
    for mode, row in figures.items():
        assert row["deepvis"] < 1e-12, (mode, row)
    # The rules change the signal: the agreement is not that of two plain gradients.
    plain = peers.reference_attribution(model, x, 3, "gradient")
    for mode in ("deconv", "guided"):
        assert peers.relative_error(peers.reference_attribution(model, x, 3, mode), plain) > 0.05
    # And the functions swapped in are put back.
    assert (F.relu, F.hardtanh, torch.Tensor.relu) == originals


def test_captum_rules_reach_only_relu_modules(peers):
    pytest.importorskip("captum")
    functional = FunctionalNet().double().eval().requires_grad_(False)
    figures = peers.check_backprop(functional, tiny_input(), target=3)
    assert figures["gradient"]["captum"] < 1e-12
    for mode in ("deconv", "guided"):
        assert figures[mode]["deepvis"] < 1e-12
        assert figures[mode]["captum"] > 0.05  # misses F.relu and ReLU6 ...
    modules_only = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 4, 3), nn.ReLU(),
                                 nn.Flatten(), nn.Linear(4 * 5 * 5, 3)).double().eval().requires_grad_(False)
    for mode, row in peers.check_backprop(modules_only, tiny_input(), target=1).items():
        assert row["captum"] < 1e-12, mode  # ... and is exact where every ReLU is an nn.ReLU module


def test_lucent_and_deepvis_optimize_the_same_units(peers):
    pytest.importorskip("lucent")
    from deepvis.zoo import Layer, LoadedModel, ModelCard

    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 6, 3, padding=1),
                        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 3)).eval().requires_grad_(False)
    card = ModelCard(name="tiny", title="tiny", source="custom", input_size=32)
    loaded = LoadedModel(card, net, ["a", "b", "c"], torch.device("cpu"), (Layer("conv2", "2"),))
    units = [1, 4]
    for images in (peers.run_deepvis_optimize(loaded, "2", units, 32, 3, seed=0),
                   peers.run_lucent(loaded, "2", units, 32, 3, seed=0, batched=True),
                   peers.run_lucent(loaded, "2", units, 32, 3, seed=0, batched=False)):
        assert images.shape == (2, 3, 32, 32) and 0 <= images.min() and images.max() <= 1
        reached = peers.measure_units(loaded, "2", units, images)
        assert torch.isfinite(reached["centre"]).all() and (reached["peak"] >= reached["centre"]).all()
    assert all(not module._forward_hooks for module in net.modules())  # Lucent's hooks were removed
