"""The top-9 seen live: kept on the device for every unit, crops of each unit's receptive field,
shown in the unit panel, reset and saved into the store."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest
import torch

from deepvis.live.top_frames import TopFrames, to_unit_top_frames
from deepvis.sources import VideoSource
from deepvis.unitvis.sites import ReceptiveField
from support.windows import TIMEOUT, tiny_model

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def frame_of(value: int, size: int = 32) -> torch.Tensor:
    return torch.full((size, size, 3), value, dtype=torch.uint8)


def test_each_unit_keeps_its_best_frames_best_first():
    tracker = TopFrames(3, torch.device("cpu"), None, k=4, thumb=8)
    for index, peak in enumerate([1.0, 5.0, 3.0, 0.5, 4.0, 2.0]):
        maps = torch.zeros(3, 4, 4)
        maps[0, 1, 2] = peak  # unit 0 follows the peaks; unit 1 is constant; unit 2 rises
        maps[1] += 1.0
        maps[2, 0, 0] = index
        tracker.update(maps, frame_of(10 * index), index, now=float(index))  # a second apart
    crops, values, frames = (t.numpy() for t in tracker.unit(0))
    kept = to_unit_top_frames(crops, values, frames)
    assert kept.values.tolist() == [5.0, 4.0, 3.0, 2.0] and kept.frames.tolist() == [1, 4, 2, 5]
    assert [int(c[0, 0, 0]) for c in kept.crops] == [10, 40, 20, 50]  # each frame's own crop
    constant = to_unit_top_frames(*(t.numpy() for t in tracker.unit(1)))
    assert constant.frames.tolist() == [0]  # the same maximum at the same place is a repeat, kept once
    assert to_unit_top_frames(*(t.numpy() for t in tracker.unit(2))).frames.tolist() == [5, 4, 3, 2]
    tracker.reset()
    assert not np.isfinite(tracker.values.numpy()).any()


def test_kept_frames_are_moments_apart_and_repeats_are_kept_once():
    tracker = TopFrames(1, torch.device("cpu"), None, k=4, thumb=8, min_gap_s=0.5)

    def show(index: int, seconds: float, peak: float, place: int = 0) -> None:
        maps = torch.zeros(1, 4, 4)
        maps[0].view(-1)[place] = peak
        tracker.update(maps, frame_of(index), index, now=seconds)

    # One pan: frames 0.1 s apart compete with the latest kept one, so the stretch keeps its peak.
    for index, peak in enumerate([1.0, 3.0, 2.0, 2.5]):
        show(index, 0.1 * index, peak)
    assert to_unit_top_frames(*(t.numpy() for t in tracker.unit(0))).frames.tolist() == [1]
    show(4, 1.0, 2.0)  # a moment later: a slot of its own
    # A looping video's next pass (or a still image republished): the same peak at the same place.
    show(5, 2.0, 3.0)
    show(6, 3.0, 3.0, place=5)  # the same value elsewhere is another picture
    kept = to_unit_top_frames(*(t.numpy() for t in tracker.unit(0)))
    assert kept.frames.tolist() == [1, 6, 4] and kept.values.tolist() == [3.0, 3.0, 2.0]


def test_crops_are_the_receptive_field_around_the_maximum():
    field = ReceptiveField(stride=(8.0, 8.0), offset=(-2.0, -2.0), size=(12, 12))
    tracker = TopFrames(2, torch.device("cpu"), field, k=2, thumb=12)
    frame = torch.zeros(32, 32, 3, dtype=torch.uint8)
    frame[14:26, 14:26] = 200  # the box of map position (2, 2): rows 14..25
    maps = torch.zeros(2, 4, 4)
    maps[0, 2, 2] = 1.0
    maps[1, 0, 0] = 1.0  # its box leaves the frame at the top left: grey there
    tracker.update(maps, frame, 0)
    crop0 = tracker.unit(0)[0][0].numpy()
    assert (crop0 == 200).all()
    crop1 = tracker.unit(1)[0][0].numpy()
    assert (crop1[:2, :2] == 128).all() and (crop1[3:, 3:] == 0).all()


def test_the_pipeline_returns_the_selected_units_live_top():
    from deepvis.live.pipeline import Pipeline, ViewState

    pipeline = Pipeline(tiny_model(), track_top_frames=True)
    rng = np.random.default_rng(0)
    for index in range(4):
        result = pipeline.process(rng.integers(0, 255, (48, 48, 3), dtype=np.uint8), ViewState("conv2", 3), index)
    frames = result.top_frames
    assert 1 <= len(frames.values) <= 4 and frames.crops.shape[1:] == (48, 48, 3)
    assert (np.diff(frames.values) <= 0).all()
    fc = pipeline.process(np.zeros((48, 48, 3), np.uint8), ViewState("fc", 2), 9).top_frames
    assert len(fc.values) == 1


def test_the_window_shows_resets_and_saves_the_top_seen_live(make_window, qtbot, video):
    window = make_window(VideoSource(video, fps=0))
    live, panel = window.live, window.live.unit_panel
    qtbot.waitUntil(lambda: len(panel.live_grid.images) >= 3, timeout=TIMEOUT)
    assert "SEEN LIVE · MAX" in panel.live_title.text()
    assert len(panel.live_grid.captions) == len(panel.live_grid.images)
    assert panel.live_grid.captions[0].startswith("seen live: max ")
    live.unit_jobs.save_top_frames(live.view.layer)
    store = panel.store
    qtbot.waitUntil(lambda: "saved the top-9 seen live of 12 units of conv2" in window.message_label.text(),
                    timeout=TIMEOUT)
    info = store.unit_info("conv2", 0)["topk_live"]
    assert len(store.unit_images("conv2", 0).live) == len(info["values"]) and info["frames_seen"] > 0
    assert not list(store.folder.rglob("*.tmp"))
    qtbot.waitUntil(lambda: "SAVED" in panel.live_title.text(), timeout=TIMEOUT)
    live.unit_jobs.reset_top_frames()  # this session's moments go; the saved ones stay in the block
    assert all(caption.startswith("saved ") for caption in panel.live_grid.captions)
    assert len(panel.live_grid.images) == len(info["values"])


def test_the_top_seen_live_can_be_turned_off(make_window, qtbot, video, config):
    window = make_window(VideoSource(video, fps=0), config=config.replace(live_top_frames=False))
    live, panel = window.live, window.live.unit_panel
    qtbot.waitUntil(lambda: live.frames_displayed >= 3, timeout=TIMEOUT)
    assert live.last_delivery.result.top_frames is None and panel.live_grid.images == []
    assert "OFF" in panel.live_title.text()


def test_bench_times_the_pipeline_with_the_top_seen_live_and_the_background_unit_image():
    from deepvis.bench import run_bench
    from deepvis.unitvis.ondemand import BACKGROUND_SIZE, BACKGROUND_STEPS

    loaded = tiny_model()
    report = run_bench(loaded, loaded.find_layer("conv2"), frames=3, top_frames=True, unit_image=True)
    assert report["top_frames_fps"] > 0 and 0 < report["top_frames_ratio"]
    assert len(report["unit_image_each_s"]) == 3 and report["unit_image_s"] > 0
    assert (report["unit_image_steps"], report["unit_image_size"]) == (BACKGROUND_STEPS, BACKGROUND_SIZE)
