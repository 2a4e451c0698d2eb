"""Weights: layers and pictures of SqueezeNet 1.1 (the shared weights) and EfficientNet-Lite0,
where each layer's channels go (the jump to Live), pages of a large layer, filters on noise, the
command, bad input, and the mode offscreen with its hover, its pages and its jump to Live."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import json
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
        assert (response(after) > 2 * response(before)).all()  # measured x2.5-4.9 over the four filters


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


@pytest.fixture(scope="module")
def efficientnet():
    from deepvis.config import Config
    from deepvis.session import open_model

    return open_model(Config().replace(device="cpu"))  # the embedded default, EfficientNet-Lite0


def reached_live_layers(loaded) -> dict[str, str | None]:
    """Each weight layer -> the Live layer its filters are units of (Live showing the same model)."""
    from deepvis.live.share import LiveShare
    from deepvis.weights.reach import channel_paths
    from deepvis.weights.view_model import WeightsViewModel

    live = LiveShare()
    live.publish_model(loaded, copy_model=None)
    state = WeightsViewModel(live)
    state.model_name, state.channel_paths = loaded.name, channel_paths(loaded.model, loaded.card.input_size)
    return {path: state.live_layer(path)[0] for path in state.channel_paths}


@needs_weights
def test_squeezenet_filters_reach_the_live_layers_their_channels_go_to(squeezenet):
    reached = reached_live_layers(squeezenet)
    assert len(reached) == 26
    # features.0 conv -> features.1 ReLU (conv1); classifier.1 1x1 conv -> classifier.2 ReLU (conv10).
    assert {p: n for p, n in reached.items() if n} == {"features.0": "conv1", "classifier.1": "conv10"}
    # A Fire module concatenates two convs: none of its convs' channels are a fire layer's units.
    assert reached["features.3.expand1x1"] is None and reached["features.3.squeeze"] is None


def test_efficientnet_filters_reach_the_live_layers_their_channels_go_to(efficientnet):
    reached = reached_live_layers(efficientnet)
    # conv_stem -> bn1 (BatchNormAct2d, its ReLU6 inside) = stem; each stage's shown depthwise conv.
    assert {p: n for p, n in reached.items() if n} == {
        "conv_stem": "stem", "blocks.0.0.conv_dw": "block1", "blocks.1.1.conv_dw": "block2",
        "blocks.2.1.conv_dw": "block3", "blocks.3.2.conv_dw": "block4", "blocks.4.2.conv_dw": "block5",
        "blocks.5.3.conv_dw": "block6", "blocks.6.0.conv_dw": "block7", "conv_head": "head", "classifier": "fc"}
    assert reached["blocks.2.1.conv_pw"] is None  # its bn1 is not displayed; its channels then go through conv_dw


def test_channel_paths_stop_where_channels_mix():
    from deepvis.weights.reach import channel_paths

    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(inplace=True), nn.MaxPool2d(2),
                          nn.Conv2d(4, 4, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2)).eval()
    paths = channel_paths(model, 16)
    assert paths["0"] == ("0", "1", "2", "3")  # BN, in-place ReLU, pool: channel k stays channel k
    assert paths["4"] == ("4", "5", "6")  # Flatten is not known to keep channels: the path ends
    assert paths["8"] == ("8", "")  # the Linear's output is the model's output


def test_a_large_layer_comes_in_pages_that_cover_every_row(efficientnet):
    from deepvis.weights.layers import find_weight_layer
    from deepvis.weights.view import layer_view

    layer = find_weight_layer(weight_layers(efficientnet.model), "classifier")
    view = layer_view(efficientnet.model, layer, efficientnet.name)
    assert layer.shape == (1000, 1280) and view.scale == pytest.approx(float(np.abs(view.weights).max()))
    covered = []
    for page in range(16):
        picture = view.picture(page)
        assert picture.first == 64 * page and len(picture.rects) == min(64, 1000 - 64 * page)
        x, y, w, h = picture.rects[5]
        assert picture.unit_at(x + w / 2, y + h / 2) == 64 * page + 5
        assert h >= 16  # 64 rows of 1280 weights: about as tall as the page is wide, 20 px a row
        covered += [picture.first + i for i in range(len(picture.rects))]
    assert covered == list(range(1000))
    assert view.picture(2).rgb[0, 0].tolist() == layer_picture(  # one colour scale for every page
        layer, view.weights, first=128, count=64, scale=view.scale).rgb[0, 0].tolist()


def weights_mode(qtbot, live, config):
    from deepvis.gui.mode import ModeContext
    from deepvis.gui.weights.mode import WeightsMode

    messages, hints, switched = [], [], []
    context = ModeContext(config, messages.append, hints.append, switched.append, live=live)
    mode = WeightsMode(context)
    qtbot.addWidget(mode)
    mode.resize(1200, 700)
    mode.show()
    mode.activate()
    return mode, messages, hints, switched


@needs_weights
def test_weights_mode_hover_pages_and_jump_to_live(qtbot, squeezenet):
    from deepvis.config import Config
    from deepvis.live.share import LiveShare

    selected = []
    live = LiveShare()
    live.publish_model(squeezenet, copy_model=None)
    live.unit_requested.connect(selected.append)
    config = Config().replace(model="squeezenet1_1", weights=str(SQUEEZENET), device="cpu")
    mode, messages, hints, switched = weights_mode(qtbot, live, config)
    try:
        qtbot.waitUntil(mode.ready, timeout=30000)
        assert mode.state.shown.layer.path == "features.0" and mode.noise.has_image()
        assert mode.page_bar.isHidden()  # 64 filters: one page
        mode.tiles.unit_hovered.emit(7)
        assert hints[-1].startswith("features.0:7  weights")
        point = mode.tiles.tile_rect(7).center()
        assert mode.tiles.unit_at(point) == 7
        mode.tiles.unit_clicked.emit(7)
        assert selected == [("conv1", 7)] and mode.state.unit == 7
        assert mode.handle_key("Down")
        qtbot.waitUntil(lambda: mode.ready() and mode.state.shown.layer.path == "features.3.squeeze", timeout=30000)
        assert mode.layer_list.currentRow() == 1
        mode.tiles.unit_clicked.emit(2)
        assert "reach none of Live's displayed layers" in messages[-1] and selected == [("conv1", 7)]
        assert "features.3.squeeze:2" in mode.status_text() and switched == []

        # The classifier (1000 x 512 1x1 conv) in pages of 64 rows; hover and click name the row's class.
        mode.layer_list.setCurrentRow(len(mode.state.layers) - 1)
        qtbot.waitUntil(lambda: mode.ready() and mode.state.shown.layer.path == "classifier.1", timeout=30000)
        assert not mode.page_bar.isHidden() and "rows" not in mode.page_bar.label.text()
        assert mode.page_bar.label.text().startswith("filters 1-64 of 1000") and not mode.page_bar.previous.isEnabled()
        assert mode.handle_key("PgDown") and mode.handle_key("PgDown")
        assert mode.page_bar.label.text().startswith("filters 129-192 of 1000") and len(mode.tiles.rects) == 64
        mode.tiles.unit_hovered.emit(5)
        assert hints[-1].startswith(f"classifier.1:133 ({squeezenet.labels[133]})  weights")
        mode.page_bar.next.click()
        mode.tiles.unit_clicked.emit(5)
        assert selected[-1] == ("conv10", 197) and mode.tiles.selected == 5
        mode.state.set_page(15)
        assert len(mode.tiles.rects) == 1000 - 15 * 64 and mode.tiles.selected is None  # 197 is on page 4

        # A model that cannot load (offline, say) keeps the one shown, under its own name.
        import deepvis.zoo

        def offline(name, *args, **kwargs):
            raise DeepvisError(f"{name}: its weights cannot be downloaded (no network)")
        real, deepvis.zoo.load_model = deepvis.zoo.load_model, offline
        try:
            mode.open_model("alexnet")
            qtbot.waitUntil(lambda: not mode.worker.busy and not mode.state.job.busy, timeout=30000)
        finally:
            deepvis.zoo.load_model = real
        assert "alexnet" in messages[-1] and "still showing squeezenet1_1" in messages[-1]
        assert mode.state.model_name == "squeezenet1_1" and mode.state.shown.layer.path == "classifier.1"
        assert mode.status_text().startswith("weights: squeezenet1_1")
    finally:
        mode.shutdown()


@needs_weights
def test_the_weights_menu_marks_the_model_shown_and_loads_weights(qtbot, squeezenet, monkeypatch):
    from PyQt6.QtWidgets import QMenuBar

    from deepvis.config import Config
    from deepvis.gui import model_menu
    from deepvis.live.share import LiveShare

    mode, messages, _, _ = weights_mode(qtbot, LiveShare(), Config().replace(device="cpu"))  # EfficientNet-Lite0
    try:
        bar = QMenuBar()
        menu = mode.add_menus(bar)[0]
        assert "Load weights…" in [a.text() for a in menu.actions()]
        qtbot.waitUntil(mode.ready, timeout=30000)
        assert mode.choices.actions["efficientnet_lite0"].isChecked()
        monkeypatch.setattr(model_menu.QFileDialog, "getOpenFileName", lambda *a, **k: (str(SQUEEZENET), ""))
        monkeypatch.setattr(model_menu.QInputDialog, "getItem", lambda *a, **k: ("squeezenet1_1", True))
        mode.load_weights_dialog()
        qtbot.waitUntil(lambda: mode.ready() and mode.state.weights == str(SQUEEZENET), timeout=30000)
        assert "squeezenet1_1 (squeezenet1_1-imagenet.pth)" in mode.status_text()
        assert mode.choices.actions["squeezenet1_1"].isChecked()
        assert not mode.choices.actions["efficientnet_lite0"].isChecked()
    finally:
        mode.shutdown()


@needs_weights
def test_in_the_window_a_refused_click_stays_and_a_reached_unit_shows_live(qtbot, tmp_path, squeezenet):
    from deepvis.config import Config
    from deepvis.gui.main_window import MainWindow
    from deepvis.sources import VideoSource
    from support.windows import write_video

    config = Config().replace(model="squeezenet1_1", weights=str(SQUEEZENET), device="cpu",
                              store=str(tmp_path / "units"))
    source = VideoSource(write_video(tmp_path / "v.mp4"), fps=0).start()
    window = MainWindow(config, squeezenet, source, mode="weights")
    qtbot.addWidget(window)
    window.resize(1200, 760)
    window.show()
    try:
        weights = window.current
        qtbot.waitUntil(weights.ready, timeout=30000)
        weights.handle_key("Down")
        qtbot.waitUntil(lambda: weights.ready() and weights.state.shown.layer.path == "features.3.squeeze",
                        timeout=30000)
        weights.tiles.unit_clicked.emit(3)
        assert window.current is weights and window.tabs.currentWidget() is weights
        assert "reach none of Live's displayed layers" in window.message_label.text()
        weights.handle_key("Up")
        qtbot.waitUntil(lambda: weights.ready() and weights.state.shown.layer.path == "features.0", timeout=30000)
        weights.tiles.unit_clicked.emit(7)
        assert window.current.name == "live" and window.tabs.currentWidget() is window.current
        assert (window.current.view.layer, window.current.view.unit) == ("conv1", 7)
    finally:
        window.shutdown()
