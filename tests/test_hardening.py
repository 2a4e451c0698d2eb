"""What a tester found, tried as a new user would: each case one test (the window offscreen)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import sys

import cv2
import numpy as np
import pytest
import torch
from PyQt6.QtCore import Qt

from deepvis import DeepvisError
from deepvis.cli import main
from deepvis.config import Config
from deepvis.paths import SAMPLE_IMAGES
from deepvis.sources import ImageSource, VideoSource
from deepvis.unitvis.store import UnitStore, weights_fingerprint
from support.windows import TIMEOUT, tiny_model

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


# ------------------------------------------------------------------ 1. a model switch that cannot load


def test_a_switch_that_cannot_load_keeps_the_running_model(make_window, qtbot, video):
    window = make_window(VideoSource(video, fps=0))
    live = window.live
    live.model.select_layer("conv1")
    live.model.select_unit(3)

    def loader(name):
        raise DeepvisError(f"cannot download the weights of {name} (no network)")

    live.models.loader = loader
    live.models.actions["alexnet"].trigger()
    qtbot.waitUntil(lambda: "cannot download the weights of alexnet" in window.message_label.text(),
                    timeout=TIMEOUT)
    assert live.loaded.name == "tiny" and (live.view.layer, live.view.unit) == ("conv1", 3)
    assert live.models.actions["alexnet"].isChecked() is False and not window.progress.isVisible()
    seen = live.frames_displayed
    qtbot.waitUntil(lambda: live.frames_displayed > seen + 2, timeout=TIMEOUT)  # still running
    assert live.last_delivery.model_name == "tiny"


def test_the_menu_loads_without_falling_back_and_keeps_the_start_weights(make_window, qtbot, video,
                                                                        monkeypatch, tmp_path):
    calls = []

    def fake_load(name, weights=None, device="auto", fallback=True):
        calls.append((name, weights, fallback))
        return tiny_model(name)

    monkeypatch.setattr("deepvis.zoo.load_model", fake_load)
    window = make_window(VideoSource(video, fps=0))
    live = window.live
    live.models.config = live.config.replace(model="squeezenet1_1", weights=str(tmp_path / "w.pth"))
    live.models.switch("alexnet")
    qtbot.waitUntil(lambda: live.loaded.name == "alexnet", timeout=TIMEOUT)
    live.models.switch("squeezenet1_1")
    qtbot.waitUntil(lambda: live.loaded.name == "squeezenet1_1", timeout=TIMEOUT)
    assert calls == [("alexnet", None, False), ("squeezenet1_1", str(tmp_path / "w.pth"), False)]
    assert "Load weights…" in [a.text() for a in live.model_menu.actions()]
    assert live.unit_panel.weights == str(tmp_path / "w.pth")
    live.unit_panel._show_empty()
    assert f"--weights {tmp_path / 'w.pth'}" in live.unit_panel.empty_text.text()


# ------------------------------------------------------------------ 3. unreadable folder


def test_an_unreadable_folder_is_one_line_in_probe_and_snapshot(tmp_path, monkeypatch, capsys):
    from pathlib import Path

    folder = tmp_path / "locked"
    folder.mkdir()
    real_iterdir = Path.iterdir

    def iterdir(self):
        if self == folder:
            raise PermissionError(13, "Permission denied", str(self))
        return real_iterdir(self)

    monkeypatch.setattr(Path, "iterdir", iterdir)
    monkeypatch.setattr("deepvis.session.open_model", lambda config: tiny_model())
    for argv in (["probe", str(folder), "--out", str(tmp_path / "p")],
                 ["snapshot", str(folder), "--out", str(tmp_path / "s.png")]):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and "permission denied" in err and "Traceback" not in err


# ------------------------------------------------------------------ 5, 6. two store layers, weights fingerprint


def test_the_users_store_is_read_first_and_shipped_images_fill_in(tmp_path):
    shipped, user = tmp_path / "shipped", tmp_path / "user"
    below = UnitStore(shipped, "m", "fp1")
    below.claim()
    below.write_image("conv", 0, "opt_lucid.png", np.full((4, 4, 3), 10, np.uint8))
    below.write_image("conv", 1, "opt_lucid.png", np.full((4, 4, 3), 10, np.uint8))
    store = UnitStore(user, "m", "fp1", shipped=shipped)
    store.claim()
    store.write_image("conv", 1, "opt_lucid.png", np.full((4, 4, 3), 99, np.uint8))
    assert store.unit_images("conv", 0).optimized[0].parent.is_relative_to(shipped)  # filled in
    assert store.unit_images("conv", 1).optimized[0].parent.is_relative_to(user)  # the user's first
    assert store.unit_images("conv", 2).empty
    assert not list(shipped.rglob("*.tmp")) and sorted(p.name for p in (shipped / "m" / "conv").iterdir()) == [
        "unit_0000", "unit_0001"]  # nothing written below


def test_images_of_other_weights_never_mix(tmp_path):
    first = UnitStore(tmp_path, "m", "aaaa1111")
    first.claim()
    first.write_image("conv", 0, "opt_lucid.png", np.zeros((4, 4, 3), np.uint8))
    other = UnitStore(tmp_path, "m", "bbbb2222")
    assert other.folder != first.folder and other.folder.name == "m@bbbb2222"
    assert other.unit_images("conv", 0).empty
    assert UnitStore(tmp_path, "m", "aaaa1111").folder == first.folder  # the same weights find theirs
    assert UnitStore(tmp_path / "u", "m", "bbbb2222", shipped=tmp_path).unit_images("conv", 0).empty


def test_the_fingerprint_tells_weights_apart():
    a, b = tiny_model(), tiny_model()
    assert weights_fingerprint(a.model) == weights_fingerprint(b.model)
    with torch.no_grad():
        b.model[0].weight[0, 0, 0, 0] += 0.5
    assert weights_fingerprint(a.model) != weights_fingerprint(b.model)


def test_the_shipped_store_records_the_embedded_weights():
    from deepvis.paths import SHIPPED_UNITS
    from deepvis.session import open_model

    loaded = open_model(Config().replace(device="cpu"))
    store = UnitStore(SHIPPED_UNITS.parent / "no-user-store", loaded.name, weights_fingerprint(loaded.model),
                      shipped=SHIPPED_UNITS)
    assert store.shipped is not None and not store.unit_images("block4", 0).empty


def test_the_window_writes_computed_images_to_the_users_store(make_window, config):
    window = make_window(ImageSource(SAMPLE_IMAGES / "chelsea.png"))
    store = window.live.unit_panel.store
    assert store.root == config.store_path and store.shipped is None  # tiny has no shipped images


# ------------------------------------------------------------------ 7. the backprop pane goes stale


def test_the_backprop_pane_shows_off_at_once_and_stays_off(make_window, qtbot, video):
    window = make_window(VideoSource(video, fps=0))
    live = window.live
    live.model.change(backprop="gradient")
    qtbot.waitUntil(lambda: live.backprop_pane.has_image(), timeout=TIMEOUT)
    for key in ("b", "b", "b", "b"):  # gradient raw -> gradient norm -> deconv -> guided -> off
        qtbot.keyClick(window, key)
    assert live.view.backprop == "off" and not live.backprop_pane.has_image()
    seen = live.frames_displayed
    qtbot.waitUntil(lambda: live.frames_displayed > seen + 3, timeout=TIMEOUT)  # results in flight landed
    assert not live.backprop_pane.has_image() and "backprop off" in live.backprop_pane.placeholder
    live.model.change(backprop="deconv")
    qtbot.waitUntil(lambda: live.backprop_pane.has_image(), timeout=TIMEOUT)
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    assert not live.backprop_pane.has_image()


# ------------------------------------------------------------------ 9. small ones


def test_config_is_accepted_after_the_command(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text("model: squeezenet1_1\n")
    assert main(["models", "--config", str(config)]) == 0
    assert "squeezenet1_1 (default)" in capsys.readouterr().out


def test_bad_units_and_sizes_are_one_line(capsys):
    assert main(["precompute", "optimize", "--units", "5-2", "--layers", "block4"]) == 2
    assert "5-2 is an empty range" in capsys.readouterr().err
    assert main(["precompute", "optimize", "--size", "-3", "--units", "0", "--layers", "block4"]) == 2
    err = capsys.readouterr().err
    assert "--size must be" in err and "Traceback" not in err


def test_a_still_image_shows_no_frame_rate(make_window):
    window = make_window(ImageSource(SAMPLE_IMAGES / "chelsea.png"))
    assert "still image" in window.status_text() and "FPS" not in window.status_text()


def test_the_second_z_with_backprop_off_says_so(make_window, qtbot, video):
    window = make_window(VideoSource(video, fps=0))
    qtbot.keyClick(window, "z")
    qtbot.keyClick(window, "z")
    assert window.live.model.display.zoom == "backprop"
    qtbot.waitUntil(lambda: "backprop is off" in window.live.grid_pane.title, timeout=TIMEOUT)


def test_hover_read_out_follows_the_frames(make_window, qtbot, video):
    window = make_window(VideoSource(video, fps=0))
    live = window.live
    live.grid_pane.hovered = 2
    seen = live.frames_displayed
    qtbot.waitUntil(lambda: live.frames_displayed > seen + 1, timeout=TIMEOUT)
    assert window.message_label.text() == live.grid_pane.hover_text(2)


def test_top_k_of_fewer_than_nine_draws_only_what_there_is(qtbot):
    from PyQt6.QtGui import QImage

    from deepvis.gui.live.unit_panel import ThumbGrid

    grid = ThumbGrid(3, 3)
    grid.resize(300, 300)
    qtbot.addWidget(grid)
    image = QImage(8, 8, QImage.Format.Format_RGB888)
    image.fill(Qt.GlobalColor.white)
    grid.set_images([image] * 4)
    shot = grid.grab().toImage()
    assert shot.pixelColor(50, 50).lightness() > 200  # the first cell: an image
    background = shot.pixelColor(250, 250)  # the ninth cell: nothing drawn
    assert background == shot.pixelColor(299, 299)


def test_a_thumbnail_says_where_it_came_from_on_hover(qtbot):
    from PyQt6.QtCore import QPointF
    from PyQt6.QtGui import QImage

    from deepvis.gui.live.unit_panel import ThumbGrid, _patch_captions

    grid = ThumbGrid(3, 3)
    grid.resize(300, 300)
    qtbot.addWidget(grid)
    image = QImage(8, 8, QImage.Format.Format_RGB888)
    captions = _patch_captions({"images": ["a.png", "b.png", "c.png"], "activations": [3.0, 2.5, 1.25]})
    grid.set_images([image, QImage(), image], captions)  # an unreadable file drops its caption too
    assert grid.captions == ["a.png: activation 3", "c.png: activation 1.25"]
    second = grid.cell_rect(1).center()
    assert grid.cell_at(second) == 1 and grid.cell_at(QPointF(299, 299)) is None
    grid.set_images([image, image], ["only one"])  # captions that do not match the images: none
    assert grid.captions == []
    assert _patch_captions(None) is None and _patch_captions({"images": ["a"], "activations": []}) is None


def test_a_recording_plays_at_the_real_rate(make_window, qtbot, video, tmp_path):
    window = make_window(VideoSource(video, fps=0))
    window.start_recording(tmp_path / "rec.mp4")
    assert window.recorder is not None and ("H.264" in window.message or "MPEG-4" in window.message)
    qtbot.wait(1500)
    path = window.stop_recording()
    capture = cv2.VideoCapture(str(path))
    frames, fps = capture.get(cv2.CAP_PROP_FRAME_COUNT), capture.get(cv2.CAP_PROP_FPS)
    capture.release()
    assert 1.2 <= frames / fps <= 2.2  # 1.5 s recorded plays for about 1.5 s


# ------------------------------------------------------------------ 4. a failing model


def write_factory(folder, body: str) -> None:
    (folder / "faulty_models.py").write_text(
        "import torch\nfrom torch import nn\n\n" + body)


def test_a_factory_that_raises_or_a_first_forward_that_fails_is_one_line(tmp_path, monkeypatch, capsys):
    write_factory(tmp_path, """
def broken():
    raise ValueError("boom\\nthe last line says why")

class Fails(nn.Module):
    def forward(self, x):
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied")

def fails_forward():
    return Fails()
""")
    monkeypatch.chdir(tmp_path)
    image = str(SAMPLE_IMAGES / "chelsea.png")
    assert main(["probe", image, "--model", "faulty_models:broken", "--device", "cpu"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "deepvis: error: model faulty_models:broken failed to build: ValueError: the last line says why"
    assert main(["probe", image, "--model", "faulty_models:fails_forward", "--device", "cpu"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "faulty_models:fails_forward" in err and "mat1 and mat2" in err
    sys.modules.pop("faulty_models", None)


class FailsLater(torch.nn.Module):
    """Runs `good` forwards, then raises on every call."""

    def __init__(self, good: int):
        super().__init__()
        self.inner = tiny_model().model
        self.calls, self.good = 0, good

    def forward(self, x):
        self.calls += 1
        if self.calls > self.good:
            raise RuntimeError("CUDA error: an illegal memory access was encountered")
        return self.inner(x)


def test_a_model_that_starts_failing_is_stopped_once_with_one_message(make_window, qtbot, video):
    import dataclasses

    loaded = tiny_model()
    loaded = dataclasses.replace(loaded, model=FailsLater(good=8), layers=(loaded.layers[-1],))
    window = make_window(VideoSource(video, fps=0), loaded=loaded)
    live = window.live
    qtbot.waitUntil(lambda: live.model_failed_message is not None, timeout=TIMEOUT)
    assert "tiny failed on a frame and was stopped (RuntimeError: CUDA error" in window.message_label.text()
    calls = loaded.model.calls
    qtbot.wait(600)
    assert loaded.model.calls == calls  # no busy retry: the model gets no more frames
    assert live.model_menu.isVisible()  # the offer to switch
    live.model_menu.hide()


# ------------------------------------------------------------------ 8. weights messages


class Carried:
    """An object a pickle would rebuild by running this module's code."""


def test_a_corrupt_weights_file_is_called_corrupt(tmp_path, capsys):
    bad = tmp_path / "bad.pth"
    bad.write_bytes(np.random.default_rng(0).bytes(4000))
    assert main(["probe", str(SAMPLE_IMAGES / "chelsea.png"), "--model", "squeezenet1_1", "--weights",
                 str(bad), "--device", "cpu"]) == 2
    err = capsys.readouterr().err.strip()
    assert "bad.pth: the file is corrupt or not a state dict" in err and "weights_only" not in err


def test_a_pickled_object_is_refused_without_advice_to_unpickle_it(tmp_path, capsys):
    path = tmp_path / "object.pth"
    torch.save({"weights": Carried()}, path)
    assert main(["probe", str(SAMPLE_IMAGES / "chelsea.png"), "--model", "squeezenet1_1", "--weights",
                 str(path), "--device", "cpu"]) == 2
    err = capsys.readouterr().err.strip()
    assert "Python objects besides tensors" in err and "weights_only=False" not in err


def test_weights_of_another_architecture_name_the_differences(tmp_path, capsys):
    import torchvision

    path = tmp_path / "resnet18.pth"
    torch.save(torchvision.models.resnet18(num_classes=10).state_dict(), path)
    assert main(["probe", str(SAMPLE_IMAGES / "chelsea.png"), "--model", "squeezenet1_1", "--weights",
                 str(path), "--device", "cpu"]) == 2
    err = capsys.readouterr().err.strip()
    assert "missing (first: features.0.weight)" in err and "unexpected (first: conv1.weight)" in err
    assert not err.endswith(":")
    path = tmp_path / "squeeze10.pth"
    torch.save(torchvision.models.squeezenet1_1(num_classes=10).state_dict(), path)
    assert main(["probe", str(SAMPLE_IMAGES / "chelsea.png"), "--model", "squeezenet1_1", "--weights",
                 str(path), "--device", "cpu"]) == 2
    assert "of another shape (first: classifier.1.weight, (10, 512, 1, 1) in the file, (1000, 512, 1, 1)" in \
        capsys.readouterr().err


def test_shipped_jpeg_images_are_read_like_pngs(tmp_path):
    from deepvis.unitvis.store import write_bytes_atomic

    store = UnitStore(tmp_path, "m")
    ok, encoded = cv2.imencode(".jpg", np.full((8, 8, 3), 90, np.uint8))
    write_bytes_atomic(store.unit_folder("conv", 4) / "opt_lucid.jpg", encoded.tobytes())
    assert [p.name for p in store.unit_images("conv", 4).optimized] == ["opt_lucid.jpg"]
