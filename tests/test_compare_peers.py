"""scripts/compare_peers.py: its reference rule, checked by hand and against deepvis; Captum and Lucent
only where they are installed (the `compare` extra). And the turn-taking timer every comparison script
times its arms with (deepvis.bench.take_turns), on a fake clock."""

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


class FakeClocks:
    """Wall and CPU clocks that move only when an arm says it spent time: known costs, no real timing."""

    def __init__(self):
        self.wall_now = self.cpu_now = 0.0
        self.calls: list[str] = []

    def wall(self) -> float:
        return self.wall_now

    def cpu(self) -> float:
        return self.cpu_now

    def arm(self, name: str, costs: list[tuple[float, float]]):
        """An arm whose n-th call spends costs[n] = (wall, cpu) seconds and returns n."""
        def run():
            n = sum(1 for called in self.calls if called == name)
            self.calls.append(name)
            wall, cpu = costs[n]
            self.wall_now += wall
            self.cpu_now += cpu
            return n
        return run


def test_take_turns_alternates_the_arms_and_reports_medians():
    from deepvis.bench import ratio_of_medians, take_turns

    clocks = FakeClocks()
    # The first call of each is the warm-up (a slow first call, left out); then B costs about 4x A,
    # with one stalled round each that the median leaves out and the range shows.
    a = clocks.arm("A", [(9.0, 9.0), (1.0, 0.5), (5.0, 0.6), (1.2, 0.4)])
    b = clocks.arm("B", [(9.0, 9.0), (4.0, 2.0), (4.4, 1.8), (20.0, 2.2)])
    turns = take_turns({"A": a, "B": b}, rounds=3, warmup=1, wall_clock=clocks.wall, cpu_clock=clocks.cpu)
    assert clocks.calls == ["A", "B"] * 4  # in turn, warm-up round included
    assert turns["A"].results == [1, 2, 3]  # the warm-up's result is not kept
    assert turns["A"].wall == pytest.approx([1.0, 5.0, 1.2]) and turns["B"].cpu == pytest.approx([2.0, 1.8, 2.2])
    spread = turns["B"].spread()
    assert spread["wall"] == pytest.approx({"median": 4.4, "min": 4.0, "max": 20.0})
    assert spread["cpu"] == pytest.approx({"median": 2.0, "min": 1.8, "max": 2.2})
    assert turns["A"].spread(scale=1000)["cpu"]["median"] == pytest.approx(500.0)
    assert ratio_of_medians(turns, "B", "A") == pytest.approx({"wall": 4.4 / 1.2, "cpu": 2.0 / 0.5})


def test_take_turns_refuses_no_rounds():
    from deepvis import DeepvisError
    from deepvis.bench import take_turns

    with pytest.raises(DeepvisError):
        take_turns({"A": lambda: None}, rounds=0)
