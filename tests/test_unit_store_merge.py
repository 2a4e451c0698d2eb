"""The user's unit store over the shipped images, merged per unit and per kind of image, and the
best moments seen live saved across sessions."""

from __future__ import annotations

import cv2
import numpy as np

from deepvis.unitvis.store import LIVE_KEPT, UnitStore, write_json_atomic

FP = "fp1"


def colour(value: float) -> np.ndarray:
    """A crop that says which moment it is: its grey level is 10 x the moment's value."""
    return np.full((6, 6, 3), int(round(value * 10)), np.uint8)


def shipped_store(root) -> None:
    """Shipped images of two units of block3: an optimized image, a top-3 scan and its deconvs."""
    below = UnitStore(root, "m", FP)
    below.claim()
    for unit in (0, 1):
        below.write_image("block3", unit, "opt_lucid.jpg", np.full((8, 8, 3), 50, np.uint8))
        for i in range(3):
            below.write_image("block3", unit, f"patch_{i:02d}.png", np.full((5, 5, 3), 60, np.uint8))
            below.write_image("block3", unit, f"deconv_{i:02d}.png", np.full((5, 5, 3), 70, np.uint8))
        below.update_unit("block3", unit, "topk", {"images": ["a", "b", "c"], "activations": [3.0, 2.0, 1.0]})


def session(values_per_unit: list[list[float]]):
    """A live session's top-k as the worker hands it over: crops n x k x T x T x 3, values n x k
    (empty slots at -inf)."""
    n, k = len(values_per_unit), LIVE_KEPT
    crops = np.zeros((n, k, 6, 6, 3), np.uint8)
    values = np.full((n, k), -np.inf, np.float32)
    for unit, unit_values in enumerate(values_per_unit):
        for slot, value in enumerate(unit_values):
            crops[unit, slot], values[unit, slot] = colour(value), value
    return crops, values


def test_the_shipped_images_still_show_after_a_save_of_the_live_top(tmp_path):
    shipped, user = tmp_path / "shipped", tmp_path / "user"
    shipped_store(shipped)
    store = UnitStore(user, "m", FP, shipped=shipped)
    crops, values = session([[4.0, 3.0], [2.0]])
    assert store.write_live_topk("block3", "blocks.2.1.bn2", crops, values, frames_seen=100) == 2
    for unit in (0, 1):
        images = store.unit_images("block3", unit)
        assert images.optimized and images.optimized[0].is_relative_to(shipped)  # not hidden by the save
        assert len(images.patches) == len(images.deconvs) == 3 and images.patches[0].is_relative_to(shipped)
        assert images.info["topk"]["activations"] == [3.0, 2.0, 1.0]  # the shipped patches' captions
        assert images.live and all(p.is_relative_to(user) for p in images.live)
    assert store.unit_images("block3", 0).live_values == (4.0, 3.0)


def test_the_users_image_of_a_kind_replaces_the_shipped_one_for_that_unit_and_kind_only(tmp_path):
    shipped, user = tmp_path / "shipped", tmp_path / "user"
    shipped_store(shipped)
    store = UnitStore(user, "m", FP, shipped=shipped)
    store.claim()
    store.write_image("block3", 1, "opt_lucid.png", np.full((8, 8, 3), 99, np.uint8))
    unit1, unit0 = store.unit_images("block3", 1), store.unit_images("block3", 0)
    assert [p.parent.is_relative_to(user) for p in unit1.optimized] == [True]  # the user's optimized image
    assert unit1.patches[0].is_relative_to(shipped) and unit1.deconvs[0].is_relative_to(shipped)  # other kinds
    assert unit0.optimized[0].is_relative_to(shipped)  # other units
    # A scan of the user's own: its patches come with its own deconvs and its own captions.
    store.write_image("block3", 1, "patch_00.png", np.zeros((5, 5, 3), np.uint8))
    store.update_unit("block3", 1, "topk", {"images": ["mine"], "activations": [9.0]})
    unit1 = store.unit_images("block3", 1)
    assert [p.parent.is_relative_to(user) for p in unit1.patches] == [True] and unit1.deconvs == ()
    assert unit1.info["topk"]["images"] == ["mine"]


def test_a_saved_live_top_shows_in_a_new_store_on_the_same_folder(tmp_path):
    shipped, user = tmp_path / "shipped", tmp_path / "user"
    shipped_store(shipped)
    crops, values = session([[5.0, 1.0, 3.0]])
    UnitStore(user, "m", FP, shipped=shipped).write_live_topk("block3", "p", crops, values, frames_seen=40)
    images = UnitStore(user, "m", FP, shipped=shipped).unit_images("block3", 0)  # the next session's store
    assert images.live_values == (5.0, 3.0, 1.0)  # best first
    assert [int(cv2.imread(str(p))[0, 0, 0]) for p in images.live] == [50, 30, 10]  # each with its own value
    assert all(images.live_dates) and images.optimized[0].is_relative_to(shipped)


def test_the_top_over_two_sessions_keeps_the_nine_best(tmp_path):
    store = UnitStore(tmp_path, "m", FP)
    first = [float(v) for v in range(1, 10)]  # 1..9
    second = [v + 0.5 for v in range(4, 13)]  # 4.5..12.5
    store.write_live_topk("block3", "p", *session([first]), frames_seen=100)
    store.write_live_topk("block3", "p", *session([second]), frames_seen=50)
    images = UnitStore(tmp_path, "m", FP).unit_images("block3", 0)
    best = sorted(first + second, reverse=True)[:LIVE_KEPT]
    assert list(images.live_values) == best
    assert [int(cv2.imread(str(p))[0, 0, 0]) for p in images.live] == [int(round(v * 10)) for v in best]
    folder = store.unit_folder("block3", 0)
    assert sorted(p.name for p in folder.glob("live_*.png")) == sorted(p.name for p in images.live)  # no leftovers
    info = store.unit_info("block3", 0)["topk_live"]
    assert info["frames_seen"] == 150 and info["sessions"] == 2
    assert not list(tmp_path.rglob("*.tmp"))


def test_saving_the_same_moments_twice_keeps_them_once(tmp_path):
    store = UnitStore(tmp_path, "m", FP)
    moments = session([[3.0, 2.0]])
    store.write_live_topk("block3", "p", *moments, frames_seen=10)
    store.write_live_topk("block3", "p", *moments, frames_seen=10)
    assert store.unit_images("block3", 0).live_values == (3.0, 2.0)


def test_a_live_top_saved_by_an_older_deepvis_still_reads_and_merges(tmp_path):
    store = UnitStore(tmp_path, "m", FP)
    store.claim()
    for rank, value in enumerate([7.0, 6.0]):
        store.write_image("block3", 0, f"live_{rank:02d}.png", colour(value))
    write_json_atomic(store.unit_folder("block3", 0) / "info.json",
                      {"topk_live": {"values": [7.0, 6.0], "frames_seen": 5, "saved": "2024-01-02T03:04:05"}})
    images = store.unit_images("block3", 0)
    assert images.live_values == (7.0, 6.0) and [p.name for p in images.live] == ["live_00.png", "live_01.png"]
    assert images.live_dates == ("2024-01-02T03:04:05",) * 2
    store.write_live_topk("block3", "p", *session([[6.5]]), frames_seen=5)
    assert store.unit_images("block3", 0).live_values == (7.0, 6.5, 6.0)
    assert store.unit_info("block3", 0)["topk_live"]["sessions"] == 2
