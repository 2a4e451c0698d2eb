"""Model loading, cards, layers and predictions on the licensed sample images."""

from pathlib import Path

import pytest
import torch
from torch import nn

from deepvis import DeepvisError
from deepvis.paths import SAMPLE_IMAGES
from deepvis.probe import Probe
from deepvis.sources import read_image
from deepvis.zoo import SOFTMAX, LoadedModel, builtin_models, derive_layers, load_model, load_state_dict, read_card

SHARED_SQUEEZENET = Path(__file__).resolve().parents[1].parent / "shared" / "weights" / "squeezenet1_1-imagenet.pth"


@pytest.fixture(scope="module")
def lite0():
    return load_model("efficientnet_lite0", device="cpu")


@pytest.mark.parametrize("image, label", [("coffee.png", "espresso"), ("chelsea.png", "Egyptian cat")])
def test_embedded_model_predicts_the_right_class(lite0, image, label):
    result = Probe(lite0)(read_image(SAMPLE_IMAGES / image))
    assert result.top[0].label == label
    assert len(result.top) == 5
    # The label is the property; p > 0.3 says it is no near-tie (measured 0.94 coffee, 0.40 chelsea,
    # whose next class is another cat).
    assert result.top[0].prob > 0.3
    probs = [p.prob for p in result.top]
    assert probs == sorted(probs, reverse=True)


@pytest.mark.skipif(not SHARED_SQUEEZENET.exists(), reason="shared SqueezeNet weights not beside the project")
def test_torchvision_squeezenet_with_local_weights_predicts_espresso():
    loaded = load_model("squeezenet1_1", weights=SHARED_SQUEEZENET, device="cpu")
    result = Probe(loaded)(read_image(SAMPLE_IMAGES / "coffee.png"))
    assert result.top[0].label == "espresso"
    assert result.top[0].prob > 0.8  # measured 0.986
    assert [layer.name for layer in loaded.layers][-1] == "prob"


def test_probe_captures_every_displayed_layer_with_card_shapes(lite0):
    result = Probe(lite0)(read_image(SAMPLE_IMAGES / "chelsea.png"))
    names = [layer.name for layer in lite0.layers]
    assert list(result.activations) == names
    assert result.activations["block3"].shape == (1, 240, 28, 28)
    assert result.activations["fc"].shape == (1, 1000)
    assert torch.allclose(result.activations["prob"].sum(), torch.tensor(1.0), atol=1e-5)
    assert result.input.shape == (1, 3, 224, 224)
    # ReLU6 layers stay within [0, 6].
    assert 0 <= result.activations["block3"].min() and result.activations["block3"].max() <= 6
    # No hook is left on the model.
    assert all(not m._forward_hooks for m in lite0.model.modules())


def test_captured_output_survives_a_following_inplace_relu():
    # features.0 (conv) is followed by ReLU(inplace=True): its captured output must keep negative values.
    import torchvision

    model = torchvision.models.alexnet(weights=None)
    loaded = LoadedModel(
        card=read_card("alexnet"), model=model.eval(), labels=[], device=torch.device("cpu"),
        layers=(read_card("alexnet").layers[0],))
    layer = loaded.find_layer("features.0")
    probe = Probe(loaded, layers=[layer])
    x = torch.randn(1, 3, 64, 64)
    expected = model.features[0](x)
    for _ in range(2):  # the first call finds the overwrite and repeats; later calls clone at once
        got = probe.forward(x).activations["features.0"]
        assert torch.allclose(got, expected, atol=1e-5)
        assert got.min() < 0


def test_layer_by_short_name_and_module_path(lite0):
    assert lite0.find_layer("block3").path == "blocks.2.1.bn2"
    assert lite0.find_layer("blocks.2.1.bn2").name == "block3"
    assert lite0.find_layer("conv_head").path == "conv_head"
    assert lite0.find_layer("prob").path == SOFTMAX
    with pytest.raises(DeepvisError, match="no layer 'nope'"):
        lite0.find_layer("nope")


def test_every_card_lists_modules_of_its_architecture():
    import torchvision

    cards = {card.name: card for card in builtin_models()}
    expected = {"efficientnet_lite0", "alexnet", "vgg16", "googlenet", "resnet18", "resnet50", "squeezenet1_1"}
    assert expected <= set(cards)
    alexnet = [layer.name for layer in cards["alexnet"].layers]
    assert alexnet == ["conv1", "p1", "conv2", "p2", "conv3", "conv4", "conv5", "p5", "fc6", "fc7", "fc8", "prob"]
    for name, card in cards.items():
        if card.source != "torchvision":
            continue
        kwargs = {"aux_logits": False, "init_weights": False} if name == "googlenet" else {}
        modules = dict(torchvision.models.get_model(name, weights=None, **kwargs).named_modules())
        for layer in card.layers:
            assert layer.path == SOFTMAX or layer.path in modules, f"{name}: {layer.path}"
        assert card.default_layer in [layer.name for layer in card.layers]


def test_derived_layers_for_a_model_without_card():
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10),
    )
    layers = derive_layers(model.eval(), 32)
    assert [layer.path for layer in layers] == ["0", "1", "2", "3", "4", "", SOFTMAX]


def test_custom_model_factory_with_weights(tmp_path, monkeypatch):
    (tmp_path / "my_net.py").write_text(
        "import torch.nn as nn\n"
        "def make_model():\n"
        "    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),\n"
        "                         nn.Linear(4, 3))\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    import my_net

    state = my_net.make_model().state_dict()
    torch.save(state, tmp_path / "w.pth")
    loaded = load_model("my_net:make_model", weights=tmp_path / "w.pth", device="cpu")
    assert torch.equal(loaded.model[0].weight, state["0.weight"])
    assert loaded.labels == ["class 0", "class 1", "class 2"]
    assert loaded.layers[-1].name == "prob"


def test_safetensors_weights(tmp_path):
    from safetensors.torch import save_file

    state = {"weight": torch.ones(2, 2)}
    save_file(state, str(tmp_path / "w.safetensors"))
    assert torch.equal(load_state_dict(tmp_path / "w.safetensors")["weight"], state["weight"])


@pytest.mark.parametrize("content, message", [
    (b"not a checkpoint", "cannot read weights"),
])
def test_bad_weights_give_one_line_errors(tmp_path, content, message):
    path = tmp_path / "bad.pth"
    path.write_bytes(content)
    with pytest.raises(DeepvisError, match=message):
        load_state_dict(path)
    with pytest.raises(DeepvisError, match="not found"):
        load_state_dict(tmp_path / "missing.pth")


class RunsCode:
    """Unpickling this calls print: the kind of file weights_only=True exists to refuse."""

    def __reduce__(self):
        return print, ("unpickled",)


def _load_weights_of(kind: str, folder: Path):
    """Load folder/model.pth the way each command does: a --weights file, a tabular or digits model."""
    if kind == "zoo":
        return load_state_dict(folder / "model.pth")
    if kind == "tabular":
        from deepvis.tabular.model import load_model as load_tabular

        (folder / "model.json").write_text('{"format": "deepvis-tabular/1", "sizes": [2, 1], '
                                           '"activation": "relu", "variables": []}')
        return load_tabular(folder)
    from deepvis.digits.nets import load_mlp

    (folder / "model.json").write_text('{"hidden": 4, "activation": "relu", "init": "scaled", "l2": 0}')
    return load_mlp(folder)


@pytest.mark.parametrize("kind", ["zoo", "tabular", "digits"])
def test_a_pth_holding_code_is_refused_by_name_without_advice_to_run_it(tmp_path, kind, capsys):
    torch.save({"weight": RunsCode()}, tmp_path / "model.pth")
    with pytest.raises(DeepvisError) as caught:
        _load_weights_of(kind, tmp_path)
    message = str(caught.value)
    assert "holds code (pickled Python objects" in message and "will not run" in message
    assert str(tmp_path / "model.pth") in message
    assert "weights_only" not in message and "\n" not in message
    assert "unpickled" not in capsys.readouterr().out


def test_weights_of_another_architecture_are_refused(tmp_path):
    torch.save({"x": torch.zeros(1)}, tmp_path / "other.pth")
    expected = "not for squeezenet1_1: 52 missing .first: features.0.weight.; 1 unexpected .first: x."
    with pytest.raises(DeepvisError, match=expected):
        load_model("squeezenet1_1", weights=tmp_path / "other.pth", device="cpu")


def test_unknown_model_names_the_known_ones():
    with pytest.raises(DeepvisError, match="unknown model 'nonet'.*efficientnet_lite0"):
        load_model("nonet", device="cpu")


def test_download_failure_falls_back_to_the_embedded_model(monkeypatch):
    from deepvis import zoo

    def no_network(model, host):
        raise zoo.DownloadError(model, OSError(f"no network: {host} unreachable"))

    monkeypatch.setattr(zoo, "require_host", no_network)
    monkeypatch.setattr(zoo.torch.hub, "get_dir", lambda: "/nonexistent-cache")
    loaded = load_model("resnet18", device="cpu")
    assert loaded.name == "efficientnet_lite0"
    assert "resnet18" in loaded.message and "embedded" in loaded.message
    with pytest.raises(DeepvisError, match="cannot download the weights of resnet18"):
        load_model("resnet18", device="cpu", fallback=False)
