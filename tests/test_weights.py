"""Weights: layers and pictures of SqueezeNet 1.1 (the shared weights), filters on noise, the
command, bad input, and the mode offscreen with its hover and its jump to Live."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import json
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from deepvis import DeepvisError
from deepvis.cli import main
from deepvis.weights.layers import image_shape, weight_layers, weights_of
from deepvis.weights.noise import filters_on_noise
from deepvis.weights.pictures import default_style, layer_picture

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SQUEEZENET = Path(__file__).resolve().parents[1].parent / "shared" / "weights" / "squeezenet1_1-imagenet.pth"
needs_weights = pytest.mark.skipif(not SQUEEZENET.is_file(), reason="shared SqueezeNet weights not present")


@pytest.fixture(scope="module")
def squeezenet():
    from deepvis.config import Config
    from deepvis.session import open_model

    return open_model(Config().replace(model="squeezenet1_1", weights=str(SQUEEZENET), device="cpu"))


@needs_weights
def test_layers_and_pictures_of_squeezenet(squeezenet):
    layers = weight_layers(squeezenet.model)
    assert len(layers) == 26 and layers[0].path == "features.0" and layers[0].shape == (64, 3, 3, 3)
    first = layer_picture(layers[0], weights_of(squeezenet.model, layers[0]))
    assert first.style == "rgb" and len(first.rects) == 64 and len(first.ranges) == 64
    x, y, w, h = first.rects[10]
    assert first.unit_at(x + w / 2, y + h / 2) == 10
    lo, hi = first.ranges[10]
    assert lo == pytest.approx(float(squeezenet.model.features[0].weight[10].min()))
    expand = next(l for l in layers if l.path == "features.3.expand3x3")
    picture = layer_picture(expand, weights_of(squeezenet.model, expand))
    assert picture.style == "channels" and len(picture.rects) == 64
    assert default_style(layers[-1]) == "heatmap"  # the 1x1 conv classifier


def test_linear_rows_as_images_and_heat_maps():
    model = nn.Sequential(nn.Linear(784, 10), nn.ReLU(), nn.Linear(10, 3))
    rows, heat = weight_layers(model)
    assert image_shape(784) == (1, 28, 28) and image_shape(10) is None
    picture = layer_picture(rows, weights_of(model, rows))
    assert picture.style == "rows" and len(picture.rects) == 10
    assert layer_picture(heat, weights_of(model, heat)).style == "heatmap"


def test_filters_on_noise_strengthen_each_filters_response():
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 4, 5, padding=2)
    before = torch.randn(4, 3, 32, 32)
    after = torch.from_numpy(filters_on_noise(conv, size=32, steps=30))
    assert after.shape == (4, 3, 32, 32)
    assert np.array_equal(after.numpy(), filters_on_noise(conv, size=32, steps=30))  # seeded

    def response(images):
        own = torch.stack([torch.relu(conv(images[u:u + 1]))[0, u].mean() for u in range(4)])
        return own / images.flatten(1).std(dim=1)

    with torch.no_grad():
        assert (response(after) > 2 * response(before)).all()


@needs_weights
def test_weights_command_on_squeezenet(tmp_path):
    out = tmp_path / "w"
    assert main(["weights", "--model", "squeezenet1_1", "--weights", str(SQUEEZENET), "--layer", "features.0",
                 "--layer", "classifier.1", "--noise-size", "24", "--out", str(out)]) == 0
    summary = json.loads((out / "weights.json").read_text())
    assert [l["path"] for l in summary["layers"]] == ["features.0", "classifier.1"]
    for name in ("first_layer_rgb.png", "filters_on_noise.png", "histograms.png"):
        assert (out / name).is_file(), name
    assert len(list((out / "layers").glob("*.png"))) == 2


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("deepvis: error:") and len(err.splitlines()) == 1, err
    return err


@needs_weights
def test_bad_input_is_one_line(tmp_path, capsys):
    other = tmp_path / "other.pth"
    torch.save(nn.Linear(4, 2).state_dict(), other)
    assert main(["weights", "--model", "squeezenet1_1", "--weights", str(other), "--out", str(tmp_path)]) == 2
    _one_line_error(capsys)
    assert main(["weights", "--model", "squeezenet1_1", "--weights", str(SQUEEZENET), "--layer", "features.99",
                 "--out", str(tmp_path)]) == 2
    assert "features.99" in _one_line_error(capsys)


@needs_weights
def test_weights_mode_hover_and_jump_to_live(qtbot):
    from deepvis.config import Config
    from deepvis.gui.mode import ModeContext
    from deepvis.gui.weights.mode import WeightsMode
    from deepvis.live.share import LiveShare
    from deepvis.zoo import Layer

    messages, hints, selected = [], [], []
    live = LiveShare()
    live.publish_model(types.SimpleNamespace(name="squeezenet1_1", layers=(Layer("conv1", "features.0"),)),
                       copy_model=None)
    live.unit_requested.connect(selected.extend)
    config = Config().replace(model="squeezenet1_1", weights=str(SQUEEZENET), device="cpu")
    context = ModeContext(config, messages.append, hints.append, lambda name: None, live=live)
    mode = WeightsMode(context)
    qtbot.addWidget(mode)
    mode.resize(1200, 700)
    mode.show()
    mode.activate()
    try:
        qtbot.waitUntil(mode.ready, timeout=30000)
        assert mode.view.layer.path == "features.0" and mode.noise.has_image()
        mode.tiles.unit_hovered.emit(7)
        assert hints[-1].startswith("features.0:7  weights")
        point = mode.tiles.tile_rect(7).center()
        assert mode.tiles.unit_at(point) == 7
        mode.tiles.unit_clicked.emit(7)
        assert selected == ["conv1", 7] and mode.unit == 7
        assert mode.handle_key("Down")
        qtbot.waitUntil(lambda: mode.view.layer.path == "features.3.squeeze", timeout=30000)
        mode.open_in_live(2)
        assert "not one of Live's displayed layers" in messages[-1] and selected == ["conv1", 7]
        assert "features.3.squeeze" in mode.status_text()

        # A model that cannot load (offline, say) keeps the one shown, under its own name.
        import deepvis.zoo

        def offline(name, *args, **kwargs):
            raise DeepvisError(f"{name}: its weights cannot be downloaded (no network)")
        real, deepvis.zoo.load_model = deepvis.zoo.load_model, offline
        try:
            mode._open("alexnet", None)
            qtbot.waitUntil(lambda: not mode.worker.busy, timeout=30000)
        finally:
            deepvis.zoo.load_model = real
        assert "alexnet" in messages[-1] and "still showing squeezenet1_1" in messages[-1]
        assert mode.loaded.name == "squeezenet1_1" and mode.view.layer.path == "features.3.squeeze"
        assert mode.status_text().startswith("weights: squeezenet1_1")
    finally:
        mode.shutdown()
