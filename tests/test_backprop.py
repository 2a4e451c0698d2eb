"""Backprop: gradient, deconvnet and guided backprop checked against references, on any model."""

import threading

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

from deepvis.backprop import (
    MODES,
    RectifierRule,
    backward_rule,
    display_filter,
    next_backprop_mode,
    next_filter,
    run_backprop,
)

RECTIFIER_NAMES = {"relu", "relu_", "relu6", "relu6_", "hardtanh", "hardtanh_"}


def small_convnet(pool: bool = True, inplace: bool = False, dtype=torch.float64) -> nn.Sequential:
    torch.manual_seed(0)
    layers = [nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2) if pool else nn.Identity(),
              nn.Conv2d(4, 5, 3, padding=1), nn.ReLU(inplace=inplace), nn.MaxPool2d(2) if pool else nn.Identity(),
              nn.Conv2d(5, 6, 3, padding=1)]
    return nn.Sequential(*layers).to(dtype).eval().requires_grad_(False)


def reference_deconv(net: nn.Sequential, x: torch.Tensor, unit: int) -> torch.Tensor:
    """Zeiler & Fergus, written out: switches from max-pooling, unpooling, ReLU on the
    backward signal, transposed convolutions with the same weights and no bias."""
    conv1, conv2 = net[0], net[3]
    r1 = F.relu(conv1(x))
    p1, switches1 = F.max_pool2d(r1, 2, return_indices=True)
    r2 = F.relu(conv2(p1))
    p2, switches2 = F.max_pool2d(r2, 2, return_indices=True)
    signal = torch.zeros_like(p2)
    signal[0, unit] = p2[0, unit]  # the live seed: the unit's own activation map
    signal = F.max_unpool2d(signal, switches2, 2, output_size=r2.shape[-2:])
    signal = F.conv_transpose2d(F.relu(signal), conv2.weight, padding=1)
    signal = F.max_unpool2d(signal, switches1, 2, output_size=r1.shape[-2:])
    return F.conv_transpose2d(F.relu(signal), conv1.weight, padding=1)


def autograd_reference(model: nn.Module, x: torch.Tensor, layer_path: str, unit: int) -> torch.Tensor:
    """Plain autograd of the live seed: d(sum(a_u * stopgrad(a_u)))/dx."""
    store = {}
    handle = model.get_submodule(layer_path).register_forward_hook(lambda m, i, o: store.__setitem__("a", o.clone()))
    x = x.clone().requires_grad_(True)
    try:
        with torch.enable_grad():
            model(x)
            a = store["a"][:, unit]
            (a * a.detach()).sum().backward()
    finally:
        handle.remove()
    return x.grad


# --------------------------------------------------------------------------- correctness


@pytest.mark.parametrize("inplace", [False, True])
def test_deconv_matches_the_explicit_deconvnet(inplace):
    net = small_convnet(inplace=inplace)
    x = torch.randn(1, 3, 32, 32, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    for unit in (0, 3):
        fast = run_backprop(net, x, "5", unit, "deconv").input_signal
        expected = reference_deconv(net, x, unit)
        assert fast.abs().sum() > 0
        torch.testing.assert_close(fast, expected, rtol=1e-10, atol=1e-12)


def test_without_pooling_deconv_does_not_depend_on_the_input():
    net = small_convnet(pool=False)
    g = torch.Generator().manual_seed(2)
    a, b = (torch.randn(1, 3, 20, 20, dtype=torch.float64, generator=g) for _ in range(2))
    deconv_a = run_backprop(net, a, "6", 2, "deconv", position=(9, 11)).input_signal
    deconv_b = run_backprop(net, b, "6", 2, "deconv", position=(9, 11)).input_signal
    assert deconv_a.abs().sum() > 0
    torch.testing.assert_close(deconv_a, deconv_b, rtol=0, atol=0)
    # The gradient does depend on the input (the ReLU masks): the check above is not vacuous.
    grad_a = run_backprop(net, a, "6", 2, "gradient", position=(9, 11)).input_signal
    grad_b = run_backprop(net, b, "6", 2, "gradient", position=(9, 11)).input_signal
    assert not torch.allclose(grad_a, grad_b)


def test_guided_equals_gradient_with_non_negative_weights_after_the_first_layer():
    net = small_convnet()
    net[3].weight.abs_()
    net[6].weight.abs_()
    net.append(nn.ReLU())  # a non-negative top: the live seed is non-negative
    x = torch.randn(2, 3, 32, 32, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    guided = run_backprop(net, x, "7", 1, "guided").input_signal
    gradient = run_backprop(net, x, "7", 1, "gradient").input_signal
    deconv = run_backprop(net, x, "7", 1, "deconv").input_signal
    assert gradient.abs().sum() > 0
    torch.testing.assert_close(guided, gradient, rtol=1e-12, atol=1e-14)
    assert not torch.allclose(deconv, gradient)  # deconv ignores the forward ReLU masks


def test_gradient_mode_equals_autograd():
    net = small_convnet()
    x = torch.randn(1, 3, 32, 32, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    torch.testing.assert_close(run_backprop(net, x, "4", 3, "gradient").input_signal,
                               autograd_reference(net, x, "4", 3))


def test_gradient_and_guided_on_resnet18_with_reused_inplace_relu():
    torchvision = pytest.importorskip("torchvision")
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None).eval().requires_grad_(False)
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(run_backprop(model, x, "layer2", 7, "gradient").input_signal,
                               autograd_reference(model, x, "layer2", 7), rtol=1e-4, atol=1e-6)
    # Guided keeps the gradient's ReLU masks: where the gradient is zero because of a mask, so is guided.
    guided = run_backprop(model, x, "layer2", 7, "guided").input_signal
    assert guided.abs().sum() > 0 and torch.isfinite(guided).all()


def test_batched_positions_match_single_rows():
    net = small_convnet()
    x = torch.randn(3, 3, 32, 32, dtype=torch.float64, generator=torch.Generator().manual_seed(6))
    units = torch.tensor([0, 4, 2])
    positions = torch.tensor([[1, 2], [3, 3], [0, 7]])
    batched = run_backprop(net, x, "4", units, "deconv", position=positions).input_signal
    for b in range(3):
        single = run_backprop(net, x[b : b + 1], "4", int(units[b]), "deconv",
                              position=tuple(positions[b].tolist())).input_signal
        torch.testing.assert_close(batched[b : b + 1], single)


def test_fc_units_and_the_captured_signal():
    net = nn.Sequential(small_convnet(), nn.Flatten(), nn.Linear(6 * 8 * 8, 10).double()).eval().requires_grad_(False)
    x = torch.randn(1, 3, 32, 32, dtype=torch.float64, generator=torch.Generator().manual_seed(7))
    result = run_backprop(net, x, "", 4, "deconv", capture_path="0.3")
    assert result.input_signal.shape == x.shape and result.input_signal.abs().sum() > 0
    assert result.captured.shape == (1, 5, 16, 16) and result.captured.min() >= 0  # below a deconv ReLU
    # A capture after the origin gets no signal.
    later = run_backprop(net, x, "0.1", 0, "deconv", capture_path="0.4")
    assert later.captured.abs().sum() == 0


# --------------------------------------------------------------------------- coverage of every ReLU-family call


class CountRectifiers(TorchFunctionMode):
    """Counts every ReLU-family call, however it is made (module, functional, method)."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if getattr(func, "__name__", "") in RECTIFIER_NAMES:
            self.calls += 1
        return func(*args, **(kwargs or {}))


def count_coverage(model: nn.Module, x: torch.Tensor) -> tuple[int, int]:
    with torch.no_grad():
        with CountRectifiers() as counter:
            model(x)
        with RectifierRule("guided") as rule:
            model(x)
    return counter.calls, rule.rerouted


def torchvision_models():
    torchvision = pytest.importorskip("torchvision")
    get = torchvision.models.get_model
    return {
        "alexnet": lambda: get("alexnet", weights=None),
        "vgg16": lambda: get("vgg16", weights=None),
        "resnet18": lambda: get("resnet18", weights=None),
        "googlenet": lambda: get("googlenet", weights=None, init_weights=False, aux_logits=False),
    }


@pytest.mark.parametrize("name, expected", [("alexnet", 7), ("vgg16", 15), ("resnet18", 17), ("googlenet", 57)])
def test_every_relu_call_of_torchvision_classics_takes_the_rule(name, expected):
    model = torchvision_models()[name]().eval().requires_grad_(False)
    seen, rerouted = count_coverage(model, torch.randn(1, 3, 64, 64))
    assert seen == rerouted == expected


def test_every_relu6_of_the_embedded_default_takes_the_rule(embedded):
    seen, rerouted = count_coverage(embedded.model, torch.randn(1, 3, 64, 64))
    assert seen == rerouted > 30  # the stem, every block's ReLU6s and the head


def test_googlenet_functional_relu_changes_the_backward():
    model = torchvision_models()["googlenet"]().eval().requires_grad_(False)
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(8))
    deconv = run_backprop(model, x, "inception3a", 5, "deconv").input_signal
    gradient = run_backprop(model, x, "inception3a", 5, "gradient").input_signal
    assert deconv.abs().sum() > 0 and not torch.allclose(deconv, gradient)


def test_unsupported_activations_keep_their_gradient_and_are_named():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.GELU(), nn.Conv2d(4, 4, 3), nn.SiLU(), nn.Conv2d(4, 2, 1))
    net = net.double().eval().requires_grad_(False)
    x = torch.randn(1, 3, 12, 12, dtype=torch.float64)
    deconv = run_backprop(net, x, "4", 1, "deconv")
    assert deconv.unsupported == ("GELU", "SiLU")
    torch.testing.assert_close(deconv.input_signal, run_backprop(net, x, "4", 1, "gradient").input_signal)
    assert run_backprop(net, x, "4", 1, "gradient").unsupported == ()


def test_the_rule_is_thread_local():
    seen_elsewhere = []

    def other_thread():
        with torch.enable_grad():
            x = torch.randn(5, requires_grad=True)
            y = torch.relu(x)
            seen_elsewhere.append(y.grad_fn.name())

    with backward_rule("deconv") as rule:
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
    assert rule.rerouted == 0 and "Relu" in seen_elsewhere[0]


# --------------------------------------------------------------------------- nothing left behind


def hooks_of(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._backward_hooks) + len(m._forward_pre_hooks)
               for m in model.modules())


@pytest.mark.parametrize("mode", MODES)
def test_repeated_calls_agree_and_leave_the_model_unchanged(embedded, mode):
    model = embedded.model
    before = {k: v.clone() for k, v in model.state_dict().items()}
    grads = [p.requires_grad for p in model.parameters()]
    x = torch.randn(1, 3, 96, 96, generator=torch.Generator().manual_seed(9))
    first = run_backprop(model, x, "blocks.2.1.bn2", 4, mode, capture_path="bn1")
    second = run_backprop(model, x, "blocks.2.1.bn2", 4, mode, capture_path="bn1")
    assert torch.equal(first.input_signal, second.input_signal) and torch.equal(first.captured, second.captured)
    assert first.input_signal.abs().sum() > 0 and not first.input_signal.requires_grad
    after = model.state_dict()
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
    assert [p.requires_grad for p in model.parameters()] == grads
    assert all(p.grad is None for p in model.parameters())
    assert hooks_of(model) == 0
    assert torch._C._len_torch_function_stack() == 0
    assert torch.is_grad_enabled()


def test_an_error_inside_leaves_nothing_behind():
    net = small_convnet()
    x = torch.randn(1, 3, 32, 32, dtype=torch.float64)
    with pytest.raises(Exception):
        run_backprop(net, x.float(), "4", 0, "deconv")  # wrong dtype: the forward fails
    assert hooks_of(net) == 0 and torch._C._len_torch_function_stack() == 0


# --------------------------------------------------------------------------- display and keys


def test_display_filters_give_images_in_range():
    signal = torch.randn(3, 40, 40)
    for name in ("raw", "gray", "norm", "norm-blur"):
        image = display_filter(signal, name)
        assert image.shape == (40, 40, 3) and image.min() >= 0 and image.max() <= 1
    raw = display_filter(signal, "raw")
    assert torch.allclose(raw[signal.permute(1, 2, 0) == 0], torch.tensor(0.5))
    assert display_filter(torch.zeros(3, 8, 8), "raw").eq(0.5).all()
    with pytest.raises(ValueError):
        display_filter(signal, "sepia")


def test_overlay_lights_the_frame_where_the_signal_is():
    from deepvis.backprop import backprop_image

    frame = torch.full((40, 40, 3), 200, dtype=torch.uint8)
    signal = torch.zeros(3, 40, 40)
    signal[:, 30:34, 4:8] = 5.0  # evidence in the lower left only
    image = backprop_image(signal, "overlay", 80, frame=frame).float()
    assert image.shape == (80, 80, 3)
    hot, cold = image[62:66, 10:14].mean(dim=(0, 1)), image[10:14, 62:66].mean(dim=(0, 1))
    assert hot[0] > 200 and hot.sum() > 1.8 * cold.sum()  # a warm glow there, the frame dimmed elsewhere
    assert cold.std() < 1  # the frame's own colour, dimmed: grey stays grey
    with pytest.raises(ValueError):
        backprop_image(signal, "overlay", 80)


def test_b_and_m_keys_cycle_as_the_original():
    state, seen = ("off", "raw"), []
    for _ in range(5):
        state = next_backprop_mode(*state)
        seen.append(state)
    assert seen == [("gradient", "raw"), ("gradient", "norm"), ("deconv", "raw"), ("guided", "raw"), ("off", "raw")]
    assert next_backprop_mode("deconv", "norm-blur") == ("guided", "raw")
    assert [next_filter(f) for f in ("raw", "gray", "norm", "norm-blur", "overlay")] == [
        "gray", "norm", "norm-blur", "overlay", "raw"]


# --------------------------------------------------------------------------- CLI and pipeline


@pytest.fixture(scope="module")
def embedded():
    from deepvis.zoo import load_model

    return load_model(device="cpu")


def test_probe_writes_the_backprop_files(tmp_path):
    import cv2

    from deepvis.cli import main
    from deepvis.paths import SAMPLE_IMAGES

    out = tmp_path / "out"
    assert main(["probe", str(SAMPLE_IMAGES / "coffee.png"), "--layer", "block3", "--unit", "5",
                 "--backprop", "deconv", "--out", str(out), "--device", "cpu"]) == 0
    signal = np.load(out / "backprop.npy")
    assert signal.dtype == np.float32 and signal.shape == (3, 224, 224) and np.abs(signal).sum() > 0
    image = cv2.imread(str(out / "backprop.png"))
    assert image is not None and image.shape == (224, 224, 3)
    # The file is the signal at input.npy: the same as the engine's for that input.
    x = torch.from_numpy(np.load(out / "input.npy"))
    from deepvis.zoo import load_model

    loaded = load_model(device="cpu")
    expected = run_backprop(loaded.model, x, "blocks.2.1.bn2", 5, "deconv").input_signal[0]
    np.testing.assert_allclose(signal, expected.numpy(), rtol=1e-4, atol=1e-6 * np.abs(signal).max())


def test_pipeline_fills_the_backprop_pane(embedded):
    from deepvis.paths import SAMPLE_IMAGES
    from deepvis.live.pipeline import Pipeline, ViewState
    from deepvis.sources import read_image

    rgb = read_image(SAMPLE_IMAGES / "chelsea.png")
    pipeline = Pipeline(embedded)
    view = ViewState(layer="block3", unit=3, pane_size=200)
    off = pipeline.process(rgb, view)
    assert off.backprop_rgb is None

    live = pipeline.process(rgb, view.with_changes(backprop="deconv"))
    assert live.backprop_rgb.shape == (200, 200, 3) and live.backprop_rgb.dtype == np.uint8
    assert live.backprop_rgb.std() > 1
    assert np.array_equal(live.grid, off.grid) and live.top == off.top  # the shared forward shows the same

    # The pane is the engine's signal for the model's input, through the display filter.
    x = pipeline.probe.preprocess(rgb)
    signal = run_backprop(embedded.model, x, "blocks.2.1.bn2", 3, "deconv").input_signal[0]
    expected = (display_filter(F.interpolate(signal[None], size=(200, 200), mode="bilinear")[0], "raw") * 255)
    assert np.abs(live.backprop_rgb.astype(float) - expected.numpy()).mean() < 2.0

    in_grid = pipeline.process(rgb, view.with_changes(backprop="guided", backprop_in_grid=True))
    assert in_grid.grid.shape == off.grid.shape and not np.array_equal(in_grid.grid, off.grid)

    frozen = pipeline.process(rgb, view.with_changes(backprop="gradient", backprop_origin=("fc", 281)))
    other = pipeline.process(rgb, view.with_changes(layer="block4", backprop="gradient", backprop_origin=("fc", 281)))
    assert np.array_equal(frozen.backprop_rgb, other.backprop_rgb)
    assert hooks_of(embedded.model) == 0 and torch._C._len_torch_function_stack() == 0


def test_pipeline_names_an_unsupported_activation_once():
    from deepvis.live.pipeline import Pipeline, ViewState
    from deepvis.zoo import Layer, LoadedModel, ModelCard

    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2), nn.GELU(), nn.Conv2d(8, 8, 3), nn.ReLU(),
                        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4)).eval().requires_grad_(False)
    card = ModelCard(name="tiny", title="tiny", source="custom", input_size=32)
    layers = (Layer("conv2", "3"), Layer("output", ""), Layer("prob", "softmax"))
    loaded = LoadedModel(card=card, model=net, labels=list("abcd"), device=torch.device("cpu"), layers=layers)
    pipeline = Pipeline(loaded)
    rgb = np.random.default_rng(0).integers(0, 255, (40, 40, 3), dtype=np.uint8)
    view = ViewState(layer="conv2", unit=1, backprop="deconv", pane_size=32)
    first = pipeline.process(rgb, view)
    assert first.notices == ("no backprop rule for GELU: plain gradient",)
    assert pipeline.process(rgb, view).notices == ()
    prob = pipeline.process(rgb, view.with_changes(layer="prob", backprop_in_grid=True))
    assert prob.backprop_rgb.shape == (32, 32, 3)


def test_bench_reports_the_backprop_ratio(capsys):
    import json

    from deepvis.cli import main

    assert main(["bench", "--frames", "1", "--device", "cpu", "--backprop", "deconv"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["backprop"] == "deconv" and report["backprop_ratio"] > 0
    assert report["backprop_pipeline_fps"] > 0 and report["pipeline_fps"] > 0


def test_every_method_is_one_class_and_the_config_and_keys_follow_them():
    from deepvis.backprop import BACKPROP_CYCLE, METHODS, BackpropMethod
    from deepvis.config import BACKPROP_MODES

    assert all(isinstance(method, BackpropMethod) and method.name == name for name, method in METHODS.items())
    assert BACKPROP_MODES == ("off", *MODES)  # config.yaml is checked against the same names
    assert {mode for mode, _ in BACKPROP_CYCLE} == {"off", *MODES}  # `b` reaches every method
