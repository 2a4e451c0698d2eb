"""The Live mode's read-outs: pause and freeze stop on the frame on screen; the unit panel's empty
boxes say why and how to fill them; output units carry their class names; the optimized image is
shown large; the offline commands never wrap inside a flag; Compute now (x) is enabled when x
works; the seen-live block stays in place and shows what was saved."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import sys
import threading
import time
import types

import numpy as np
import pytest
from PyQt6.QtGui import QTextLayout, QTextOption

from deepvis.live.unit_names import class_name, unit_title
from deepvis.sources import FolderSource, VideoSource
from deepvis.unitvis.ondemand import BACKGROUND_STEPS
from deepvis.unitvis.store import UnitStore
from deepvis.zoo import Layer
from support.windows import TIMEOUT, shown, tiny_model, write_png

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def slow_model(seconds: float = 0.08):
    """The tiny model taking `seconds` a forward pass: the worker is always busy with a frame newer
    than the one on screen, as a real model on a camera is."""
    loaded = tiny_model()
    loaded.model.register_forward_pre_hook(lambda _module, _inputs: time.sleep(seconds))
    return loaded


def shown_index(window) -> int:
    return window.live.last_delivery.result.frame_index


@pytest.mark.parametrize("key", [" ", "f"])
def test_pause_and_freeze_stop_on_the_frame_on_screen(make_window, qtbot, video, config, key):
    window = make_window(VideoSource(video, fps=0), loaded=slow_model(),
                         config=config.replace(auto_unit_images=False))
    live = window.live
    qtbot.waitUntil(lambda: live.frames_displayed >= 3, timeout=TIMEOUT)
    qtbot.keyClick(window, key)
    on_screen = shown_index(window)
    qtbot.wait(600)  # several forward passes: the one in flight, and any the worker would take next
    assert shown_index(window) == on_screen
    qtbot.keyClick(window, "l")  # a new view is rendered from the same frame
    qtbot.waitUntil(lambda: shown(window), timeout=TIMEOUT)
    assert shown_index(window) == on_screen
    qtbot.keyClick(window, key)  # running again
    qtbot.waitUntil(lambda: shown_index(window) > on_screen, timeout=TIMEOUT)


def test_a_file_asked_for_while_paused_is_shown_and_stays(make_window, qtbot, tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(3):
        write_png(folder / f"img{i}.png", seed=i)
    window = make_window(FolderSource(folder))
    live = window.live
    qtbot.keyClick(window, " ")
    assert live.source.paused
    qtbot.keyClick(window, "e")
    qtbot.waitUntil(lambda: live.last_delivery.frame_label.startswith("img1.png"), timeout=TIMEOUT)
    qtbot.keyClick(window, "l")
    qtbot.waitUntil(lambda: shown(window), timeout=TIMEOUT)
    assert live.last_delivery.frame_label.startswith("img1.png") and live.source.paused


# ------------------------------------------------------------------ class names


def test_the_output_units_are_named_by_their_class():
    loaded = tiny_model()  # fc is the model's output; prob its softmax
    assert class_name(loaded, "fc", 3) == "class 3" and class_name(loaded, "prob", 3) == "class 3"
    assert class_name(loaded, "conv2", 3) is None and class_name(loaded, "fc", 10) is None
    assert unit_title(loaded, "prob", 3) == "prob:3 · class 3" and unit_title(loaded, "conv2", 3) == "conv2:3"
    # As the embedded model's card: fc is a module (classifier), not the output; the softmax shows its images.
    loaded.layers = (Layer("conv2", "3"), Layer("fc", "6"), Layer("prob", "softmax"))
    assert class_name(loaded, "fc", 7) == "class 7"
    assert class_name(loaded, "fc", 7, n_units=4096) is None  # a layer of another width is not the logits


def test_an_output_unit_shows_its_class_name_in_the_window(make_window, qtbot, video, config):
    window = make_window(VideoSource(video), config=config.replace(auto_unit_images=False))
    live = window.live
    live.model.select_layer("prob")
    live.model.select_unit(3)
    assert "class 3" in live.unit_pane.title and "class 3" in live.unit_panel.title.text()
    qtbot.waitUntil(lambda: shown(window), timeout=TIMEOUT)
    assert live.grid_pane.hover_text(3).startswith("prob:3 · class 3")


# ------------------------------------------------------------------ the unit panel


def store_of(config) -> UnitStore:
    store = UnitStore(config.store_path, "tiny")
    store.claim()
    return store


def test_the_optimized_image_is_large_and_empty_top9_boxes_say_why_and_how(make_window, qtbot, video, config):
    """As a shipped unit of block3: an optimized image, no top-9 scan."""
    config = config.replace(auto_unit_images=False)
    store_of(config).write_image("conv2", 0, "opt_lucid.png", np.full((64, 64, 3), 120, np.uint8))
    window = make_window(VideoSource(video), config=config)
    window.resize(1440, 900)
    panel = window.live.unit_panel
    qtbot.waitUntil(lambda: panel.shown_key == ("conv2", 0) and panel.pages.currentIndex() == 0, timeout=TIMEOUT)
    qtbot.wait(100)  # the layout after the resize
    # One image fills its row: over half the panel's width (it was a third, 64 px high, before).
    assert panel.optimized.cell_rect(0).width() >= max(128, panel.width() * 0.45)
    assert panel.scan_pages.currentIndex() == 1 and panel.scan_hint.isVisible()
    hint = panel.scan_hint.text()
    assert "No top-9 of conv2" in hint and "scanned" in hint  # why
    assert "deepvis precompute topk" in hint and "--layers conv2 \\\n  --images FOLDER" in hint  # how
    assert "Save the top-9 seen live" in hint


def wrapped_lines(label) -> list[str]:
    """The lines a word-wrapped label shows at its width."""
    lines = []
    for paragraph in label.text().split("\n"):
        layout = QTextLayout(paragraph, label.font())
        option = QTextOption()
        option.setWrapMode(QTextOption.WrapMode.WordWrap)
        layout.setTextOption(option)
        layout.beginLayout()
        while (line := layout.createLine()).isValid():
            line.setLineWidth(label.width())
            lines.append(paragraph[line.textStart():line.textStart() + line.textLength()].strip())
        layout.endLayout()
    return lines


@pytest.mark.parametrize("width", [1440, 1024])
def test_the_offline_commands_never_wrap_inside_a_flag(make_window, qtbot, video, config, width):
    window = make_window(VideoSource(video), config=config.replace(auto_unit_images=False))
    window.resize(width, 900 if width > 1024 else 700)
    live, panel = window.live, window.live.unit_panel
    live.model.select_unit(2)  # nothing stored
    qtbot.waitUntil(lambda: panel.shown_key == ("conv2", 2) and panel.pages.currentIndex() == 1, timeout=TIMEOUT)
    qtbot.wait(100)
    lines = wrapped_lines(panel.empty_text)
    flags = [line for line in lines if line.startswith("--")]
    assert flags == ["--model tiny \\", "--layers conv2", "--model tiny \\", "--layers conv2 \\", "--images FOLDER"]
    assert not any(line.endswith(("-", "--model", "--layers", "--images")) for line in lines)


def test_the_seen_live_block_stays_in_place_with_images_and_without(make_window, qtbot, video, config):
    config = config.replace(auto_unit_images=False)
    store = store_of(config)
    for i in range(9):
        store.write_image("conv2", 0, f"patch_{i:02d}.png", np.full((16, 16, 3), 80, np.uint8))
    store.write_image("conv2", 0, "opt_lucid.png", np.full((16, 16, 3), 80, np.uint8))
    window = make_window(VideoSource(video, fps=0), config=config)
    live, panel = window.live, window.live.unit_panel
    qtbot.waitUntil(lambda: panel.shown_key == ("conv2", 0) and len(panel.live_grid.images) >= 1, timeout=TIMEOUT)
    with_images = (panel.pages.currentIndex(), panel.live_grid.isVisible(), panel.live_grid.geometry(),
                   panel.live_title.geometry())
    live.model.select_unit(1)  # nothing stored: the other page
    qtbot.waitUntil(lambda: panel.shown_key == ("conv2", 1) and len(panel.live_grid.images) >= 1, timeout=TIMEOUT)
    without = (panel.pages.currentIndex(), panel.live_grid.isVisible(), panel.live_grid.geometry(),
               panel.live_title.geometry())
    assert with_images[0] == 0 and without[0] == 1 and with_images[1:] == without[1:]


def test_compute_now_is_enabled_exactly_when_x_works(make_window, qtbot, video, config, monkeypatch):
    release, started = threading.Event(), []

    def compute_unit(loaded, layer, unit, store, preset="lucid", progress=None, should_stop=None, steps=None,
                     size=None):
        started.append(steps)
        while not (should_stop() or release.is_set()):
            progress(1, 10)
            release.wait(0.05)
        return store.unit_images(layer, unit)

    monkeypatch.setitem(sys.modules, "deepvis.unitvis.ondemand", types.SimpleNamespace(compute_unit=compute_unit))
    window = make_window(VideoSource(video))  # auto unit images: unit 0 starts in the background
    live, panel = window.live, window.live.unit_panel
    qtbot.waitUntil(lambda: panel.progress.isVisible() and live.unit_jobs.task is not None, timeout=TIMEOUT)
    assert live.unit_jobs.task.background
    assert panel.compute_button.isEnabled()  # x replaces a background compute with the full one
    qtbot.keyClick(window, "x")
    qtbot.waitUntil(lambda: live.unit_jobs.task is not None and not live.unit_jobs.task.background
                    and live.unit_jobs.task.isRunning(), timeout=TIMEOUT)
    assert not panel.compute_button.isEnabled()  # x now says "already on its way": nothing to press
    release.set()
    qtbot.waitUntil(lambda: not live.unit_jobs.task.isRunning(), timeout=TIMEOUT)
    qtbot.waitUntil(panel.compute_button.isEnabled, timeout=TIMEOUT)
    assert started[:2] == [BACKGROUND_STEPS, None]  # in the background, then with the preset's own steps


def test_the_saved_seen_live_shows_at_once_and_in_the_next_session(make_window, qtbot, video, config):
    from deepvis.gui.live.unit_panel import UnitPanel

    window = make_window(VideoSource(video, fps=0), config=config.replace(auto_unit_images=False))
    live, panel = window.live, window.live.unit_panel
    qtbot.waitUntil(lambda: len(panel.live_grid.images) >= 3, timeout=TIMEOUT)
    live.unit_jobs.save_top_frames("conv2")
    qtbot.waitUntil(lambda: "SAVED" in panel.live_title.text(), timeout=TIMEOUT)
    saved = panel.current_images.live_values
    assert saved and len(panel.live_grid.images) <= 9
    live.unit_jobs.reset_top_frames()  # this session's moments are forgotten; the saved ones stay
    assert len(panel.live_grid.images) == len(saved)
    assert all(caption.startswith("saved ") for caption in panel.live_grid.captions)
    # The next session: a new panel on the same store shows them before any frame.
    later = UnitPanel(config.store_path)
    qtbot.addWidget(later)
    later.set_model("tiny", panel.store.fingerprint)
    later.show_unit("conv2", 0)
    qtbot.waitUntil(lambda: later.shown_key == ("conv2", 0), timeout=TIMEOUT)
    assert len(later.live_grid.images) == len(saved) and "SAVED" in later.live_title.text()
