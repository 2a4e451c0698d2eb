"""Live's accentuation of the frame for the selected unit: its Qt-free state (what a result belongs
to, stopped never turning into done) and the real window (A shows it in the unit panel and refines,
A again, another unit or another model brings the optimized images back)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import json
import types

import numpy as np
import pytest

from deepvis.live.accent_state import AccentState
from deepvis.sources import VideoSource
from support.windows import TIMEOUT

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def result(step: int, steps: int = 32):
    return types.SimpleNamespace(step=step, steps=steps, final=step >= steps, objective_start=1.0,
                                 objective=1.0 + step, pixel_change=0.01 * step)


def recorded(state: AccentState) -> list[str]:
    phases: list[str] = []
    state.changed.connect(lambda s: phases.append(s.phase))
    return phases


# ------------------------------------------------------------------ the state, without a window


def test_results_refine_then_the_last_one_finishes_it():
    state = AccentState()
    phases = recorded(state)
    job = state.start("conv2", 3, "tiny.mp4 #12")
    assert state.running and state.shown_for(("conv2", 3)) and not state.shown_for(("conv2", 4))
    assert state.title() == "accentuation · starting…"
    assert state.offer(job, result(8)) and state.phase == "running"
    assert state.title() == "accentuation · step 8/32 · refining…"
    assert state.offer(job, result(32)) and state.phase == "done" and state.result.step == 32
    assert "unit 1 → 33" in state.detail() and "conv2:3" in state.detail()
    assert phases == ["running", "running", "done"]


def test_a_result_of_a_replaced_job_is_dropped():
    state = AccentState()
    old = state.start("conv2", 3, "frame 1")
    new = state.start("conv2", 3, "frame 2")
    assert not state.offer(old, result(8)) and state.result is None
    assert state.offer(new, result(8)) and state.job is new


def test_stopped_keeps_its_last_result_and_never_turns_into_done():
    state = AccentState()
    job = state.start("conv2", 3, "frame 1")
    state.offer(job, result(16))
    assert state.stop() and state.phase == "stopped"
    assert not state.offer(job, result(32))  # the final result came after Stop
    assert state.phase == "stopped" and state.result.step == 16
    assert state.title().endswith("step 16/32 · stopped")
    assert not state.stop()


def test_another_unit_dismisses_it_and_its_unit_keeps_it():
    state = AccentState()
    job = state.start("conv2", 3, "frame 1")
    state.follow_selection(("conv2", 3))
    assert state.job is job
    state.follow_selection(("conv2", 4))
    assert state.job is None and state.result is None and state.phase == "idle"
    assert not state.offer(job, result(8))


def test_a_failure_is_said_in_one_line():
    state = AccentState()
    job = state.start("conv2", 3, "frame 1")
    state.fail(job, "the image is 20 x 20: too small for the model")
    assert state.phase == "failed" and state.title().endswith("failed")
    assert state.detail() == "conv2:3: the image is 20 x 20: too small for the model"


# ------------------------------------------------------------------ the real window


def test_a_accentuates_the_frame_in_the_unit_panel_and_a_again_brings_the_images_back(
        make_window, qtbot, video, config, tmp_path):
    from deepvis.live import keys

    window = make_window(VideoSource(video), config=config.replace(auto_unit_images=False))
    live, panel = window.live, window.live.unit_panel
    live.model.select_unit(2)
    qtbot.waitUntil(lambda: panel.shown_key == ("conv2", 2), timeout=TIMEOUT)
    assert keys.KEYMAP["A"] == "accentuate_unit" and "accentuate_unit" in keys.WINDOW_REQUESTS
    frame = live.last_delivery.result.input_rgb.copy()
    assert live.model.press("A")
    assert panel.accenting and panel.pages.currentIndex() == 0
    qtbot.waitUntil(lambda: len(panel.optimized.images) == 3, timeout=TIMEOUT)  # frame, accentuated, faded
    first = live.accent.result
    assert first.step < first.steps and live.accent.job.key == ("conv2", 2)
    assert first.frame.shape == first.image.shape == (128, 128, 3)
    assert "ACCENTUATION" in panel.optimized_title.text()
    assert panel.optimized.labels == [live.accent.job.frame_label, "accentuated", "where it looks"]
    qtbot.waitUntil(lambda: live.accent.phase == "done", timeout=TIMEOUT * 4)  # it refines to the end
    assert live.accent.result.step == live.accent.result.steps
    assert "DONE" in panel.optimized_title.text()
    # The frame it started from is the frame that was on screen, as the panel's first image shows it.
    from deepvis.dream.accentuate import frame_square

    assert np.array_equal(live.accent.result.frame, frame_square(frame, 128))
    written = live.accent_jobs.save(tmp_path / "accent.png")  # the files hold what the panel shows
    from deepvis.sources import read_image

    assert np.array_equal(read_image(written[0]), live.accent.result.image)
    assert np.array_equal(read_image(written[1]), live.accent.result.faded())
    saved = json.loads(written[2].read_text())
    assert saved["state"] == "done" and saved["step"] == 128 and (saved["layer"], saved["unit"]) == ("conv2", 2)
    live.model.press("A")  # A again: the optimized images
    assert not panel.accenting and live.accent.job is None
    assert panel.optimized_title.text().startswith("ACTIVATION MAXIMIZATION") and not panel.optimized.images


def test_another_unit_stops_it_and_its_results_no_longer_show(make_window, qtbot, video, config):
    window = make_window(VideoSource(video), config=config.replace(auto_unit_images=False))
    live, panel = window.live, window.live.unit_panel
    live.accentuate()
    qtbot.waitUntil(lambda: live.accent.result is not None, timeout=TIMEOUT)
    task = live.accent_jobs.task
    live.model.select_unit(5)
    assert live.accent.job is None and not panel.accenting
    assert task is None or task.wait(TIMEOUT)  # the thread stops between steps
    qtbot.wait(200)  # anything it still sent is dropped
    assert not panel.accenting and live.accent.result is None


def test_a_background_unit_image_gives_way_and_waits_while_it_runs(make_window, qtbot, video, config, monkeypatch):
    import sys
    import threading

    started, stops = [], []

    def compute_unit(loaded, layer, unit, store, preset="lucid", progress=None, should_stop=None, steps=None,
                     size=None):
        started.append((layer, unit))
        while not should_stop():  # a background image that would run until stopped
            threading.Event().wait(0.01)
        stops.append((layer, unit))

    monkeypatch.setitem(sys.modules, "deepvis.unitvis.ondemand",
                        types.SimpleNamespace(compute_unit=compute_unit))
    window = make_window(VideoSource(video), config=config.replace(auto_unit_images=True))
    live = window.live
    qtbot.waitUntil(lambda: started == [("conv2", 0)], timeout=TIMEOUT)
    live.accentuate()
    assert live.accent.running
    qtbot.waitUntil(lambda: stops == [("conv2", 0)], timeout=TIMEOUT)  # it gave way
    live.unit_panel.refresh()  # the panel shows the unit again: no new image starts beside the accentuation
    qtbot.wait(300)
    assert started == [("conv2", 0)]
    qtbot.waitUntil(lambda: live.accent.phase == "done", timeout=TIMEOUT * 4)
