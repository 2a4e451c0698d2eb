"""Unit images: the store, receptive fields, top-k scans, activation maximization, torchrun."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from deepvis import DeepvisError
from deepvis.cli import main
from deepvis.paths import SAMPLE_IMAGES
from deepvis.unitvis.commands import parse_units
from deepvis.unitvis.optimize import get_preset, optimize_units
from deepvis.unitvis.sites import receptive_field
from deepvis.unitvis.store import UnitStore, write_json_atomic
from deepvis.unitvis.topk import merge_ranked
from deepvis.zoo import load_model

SUPPORT = Path(__file__).resolve().parent / "support"
TINY = "tiny_unit_model:make_model"  # tests/support/tiny_unit_model.py
sys.path.insert(0, str(SUPPORT))  # for --model TINY in this process


@pytest.fixture(scope="module")
def tiny():
    return load_model(TINY, device="cpu")


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory) -> Path:
    """Crops of the sample images, noise images in a subfolder, and one corrupt file."""
    folder = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for path in sorted(SAMPLE_IMAGES.glob("*.png")):
        image = cv2.imread(str(path))
        cv2.imwrite(str(folder / f"{path.stem}.png"), image[:160, :160])
        cv2.imwrite(str(folder / f"{path.stem}_b.jpg"), image[-120:, -200:])
    (folder / "noise").mkdir()
    for i in range(3):
        cv2.imwrite(str(folder / "noise" / f"n{i}.png"), rng.integers(0, 256, (64, 80, 3), dtype=np.uint8))
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    return folder


def run_cli(*argv: str) -> int:
    return main(["precompute", *argv, "--model", TINY, "--device", "cpu", "--quiet"])


# --------------------------------------------------------------------------- store


def test_store_reads_writes_and_refuses_another_model(tmp_path):
    store = UnitStore(tmp_path, "modelA")
    assert store.unit_images("conv1", 3).empty
    store.claim()
    store.write_image("conv1", 3, "patch_00.png", np.zeros((5, 6, 3), np.uint8))
    store.write_image("conv1", 3, "deconv_00.png", np.zeros((5, 6, 3), np.uint8))
    store.write_image("conv1", 3, "opt_lucid.png", np.zeros((8, 8, 3), np.uint8))
    store.update_unit("conv1", 3, "optimize", {"best_activation": 1.5}, key="lucid")
    store.rebuild_index("conv1", "features.0")
    images = store.unit_images("conv1", 3)
    assert not images.empty
    assert [p.name for p in images.patches] == ["patch_00.png"]
    assert [p.name for p in images.optimized] == ["opt_lucid.png"]
    assert images.info["optimize"]["lucid"]["best_activation"] == 1.5
    index = json.loads((store.layer_folder("conv1") / "index.json").read_text())
    assert index["units"]["3"]["optimize"]["lucid"]["best_activation"] == 1.5
    assert not list(store.folder.rglob("*.tmp"))  # atomic writes leave no temporary file
    # A store made for another model is refused, whether given its root or the model folder.
    write_json_atomic(tmp_path / "other" / "store.json", {"model": "modelB"})
    with pytest.raises(DeepvisError, match="made for the model 'modelB'"):
        UnitStore(tmp_path / "other", "modelA")
    with pytest.raises(DeepvisError, match="made for the model 'modelA'"):
        UnitStore(store.folder, "modelC")


def test_parse_units():
    assert parse_units(["0", "5", "2-4,9"]) == [0, 2, 3, 4, 5, 9]
    assert parse_units(None) is None
    with pytest.raises(DeepvisError):
        parse_units(["x"])


# --------------------------------------------------------------------------- geometry and ranking


def test_receptive_field_is_measured_from_the_model(tiny):
    # conv 3x3 stride 2 pad 1 -> 3 px, stride 2; maxpool 2 -> 5 px, stride 4; conv 3x3 pad 1 -> 13 px.
    first = receptive_field(tiny, tiny.find_layer("features.0"), 64)
    assert first.size == (3, 3) and first.stride == (2.0, 2.0) and first.offset == (-1.0, -1.0)
    deep = receptive_field(tiny, tiny.find_layer("features.5"), 64)
    assert deep.size == (13, 13) and deep.stride == (4.0, 4.0)
    assert deep.offset == (-5.0, -5.0) and deep.box(0, 0, 64, 64) == (0, 0, 8, 8)  # clipped
    assert receptive_field(tiny, tiny.find_layer("output"), 64) is None


def test_merge_is_exact_and_ties_go_to_the_lower_image_index():
    torch.manual_seed(0)
    values = torch.randint(0, 4, (20, 3)).float()  # many ties
    images = torch.arange(20)[:, None].expand(20, 3).clone()
    positions = torch.randint(0, 9, (20, 3))
    empty = (values[:0], images[:0], positions[:0])
    whole = merge_ranked(empty, (values, images, positions), 5)
    odd = [(t[1::2], t[::2]) for t in (values, images, positions)]
    part_a = merge_ranked(empty, tuple(t[0] for t in odd), 5)
    part_b = merge_ranked(empty, tuple(t[1] for t in odd), 5)
    merged = merge_ranked(part_b, part_a, 5)
    for a, b in zip(whole, merged):
        assert torch.equal(a, b)
    for col in range(3):
        pairs = list(zip((-whole[0][:, col]).tolist(), whole[1][:, col].tolist()))
        assert pairs == sorted(pairs)


# --------------------------------------------------------------------------- top-k scan


def test_topk_scan_writes_patches_deconvs_and_resumes(tmp_path, image_folder, caplog, capsys):
    store_root = tmp_path / "store"
    args = ["topk", "--images", str(image_folder), "--k", "3", "--batch-size", "4", "--workers", "0",
            "--layers", "features.0", "features.5", "output", "--store", str(store_root)]
    with caplog.at_level(logging.WARNING):
        assert run_cli(*args) == 0
    assert "broken.jpg" in caplog.text
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["skipped"] == 1 and report["images"] == 10
    store = UnitStore(store_root, TINY)
    index = json.loads((store.layer_folder("features.5") / "index.json").read_text())
    assert sorted(index["units"], key=int) == [str(u) for u in range(8)]
    entry = index["units"]["2"]["topk"]
    assert len(entry["images"]) == 3 and "broken.jpg" not in entry["images"]
    assert entry["activations"] == sorted(entry["activations"], reverse=True)
    images = store.unit_images("features.5", 2)
    assert len(images.patches) == 3 and len(images.deconvs) == 3
    top, left, bottom, right = entry["boxes"][0]
    patch = cv2.imread(str(images.patches[0]))
    assert patch.shape[:2] == (bottom - top, right - left) and bottom - top <= 13
    assert len(store.unit_images("output", 4).patches) == 3
    # The top activation is the image's own spatial maximum.
    tiny = load_model(TINY, device="cpu")
    from deepvis.unitvis.topk import load_input
    x = load_input(image_folder / entry["images"][0], 224, tiny.card.mean, tiny.card.std)[None]
    act = tiny.model.features(x)
    assert act[0, 2].max().item() == pytest.approx(entry["activations"][0], rel=1e-4)
    assert act[0, 2, entry["positions"][0][0], entry["positions"][0][1]].item() == pytest.approx(
        entry["activations"][0], rel=1e-4)
    # A second run finds everything done and rewrites nothing.
    stamp = images.patches[0].stat().st_mtime_ns
    assert not list(store.folder.glob(".topk-*.pt"))
    assert run_cli(*args) == 0
    assert images.patches[0].stat().st_mtime_ns == stamp


def test_topk_resumes_from_a_checkpoint(tmp_path, image_folder, monkeypatch):
    from deepvis.unitvis import topk

    store = UnitStore(tmp_path, TINY)
    tiny = load_model(TINY, device="cpu")
    layers = [tiny.find_layer("features.5")]
    files = topk.list_image_files(image_folder)
    whole, _ = topk.scan(tiny, layers, files, 3, UnitStore(tmp_path / "whole", TINY), batch_size=4,
                         workers=0, progress=False)
    # Interrupt a scan after its first batch (checkpoints forced on every batch).
    monkeypatch.setattr(topk, "CHECKPOINT_SECONDS", -1.0)
    calls = []
    feed = topk.Scanner.feed

    def failing_feed(self, *a):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return feed(self, *a)

    monkeypatch.setattr(topk.Scanner, "feed", failing_feed)
    with pytest.raises(KeyboardInterrupt):
        topk.scan(tiny, layers, files, 3, store, batch_size=4, workers=0, progress=False)
    monkeypatch.setattr(topk.Scanner, "feed", feed)
    resumed, report = topk.scan(tiny, layers, files, 3, store, batch_size=4, workers=0, progress=False)
    assert report["scanned_here"] == len(files) - 4
    a, b = whole.lists["features.5"], resumed.lists["features.5"]
    assert torch.equal(a.images, b.images) and torch.allclose(a.values, b.values)


# --------------------------------------------------------------------------- optimization


def test_batched_optimization_matches_one_unit_at_a_time(tiny):
    layer = tiny.find_layer("features.5")
    preset = get_preset("C", steps=6)
    batch = optimize_units(tiny, layer, [1, 4, 6], preset, size=48)
    for i, unit in enumerate([1, 4, 6]):
        single = optimize_units(tiny, layer, [unit], preset, size=48)
        assert torch.allclose(single.images[0], batch.images[i], atol=1e-4)
        assert single.objective[0].item() == pytest.approx(batch.objective[i].item(), rel=1e-4, abs=1e-5)
    assert batch.site == "shown"  # nn.ReLU6 as its own module: no inner activation


@pytest.mark.parametrize("preset", ["A", "B", "D", "lucid"])
def test_presets_raise_the_unit(tiny, preset):
    layer = tiny.find_layer("features.3")
    result = optimize_units(tiny, layer, list(range(8)), get_preset(preset, steps=12), size=48)
    assert result.images.shape == (8, 3, 48, 48)
    assert 0.0 <= result.images.min() and result.images.max() <= 1.0
    start = optimize_units(tiny, layer, list(range(8)), get_preset(preset, steps=1), size=48)
    assert result.objective.mean() > start.objective.mean()


def test_optimize_cli_records_figures_and_r(tmp_path, image_folder, capsys):
    store_root = tmp_path / "store"
    assert run_cli("topk", "--images", str(image_folder), "--k", "2", "--workers", "0", "--no-deconv",
                   "--layers", "features.3", "--store", str(store_root)) == 0
    capsys.readouterr()
    assert run_cli("optimize", "--layers", "features.3", "--units", "0-3", "--preset", "C", "--steps", "8",
                   "--size", "64", "--store", str(store_root)) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    figures = report["layers"]["features.3"]
    assert figures["units"] == 4 and 0 <= figures["success_rate"] <= 1 and figures["median_R"] is not None
    store = UnitStore(store_root, TINY)
    info = store.unit_images("features.3", 2).info
    entry = info["optimize"]["C"]
    assert entry["seed"] == 0 and entry["hyperparameters"]["decay"] == 1e-4 and entry["preset"] == "C"
    assert entry["R"] == pytest.approx(entry["best_shown"] / info["topk"]["max"], rel=1e-4)
    assert len(store.unit_images("features.3", 2).optimized) == 1
    assert store.unit_images("features.3", 5).optimized == ()
    assert info["topk"]["deconv"] is None and store.unit_images("features.3", 2).deconvs == ()  # --no-deconv


def test_compute_unit_on_demand(tmp_path, tiny):
    from deepvis.unitvis.ondemand import compute_unit
    from deepvis.unitvis import optimize

    store = UnitStore(tmp_path, TINY)
    seen = []
    quick = get_preset("lucid", steps=4)
    original = optimize.PRESETS["lucid"]
    optimize.PRESETS["lucid"] = quick
    try:
        stopped = compute_unit(tiny, "features.5", 3, store, progress=lambda i, n: seen.append((i, n)),
                               should_stop=lambda: len(seen) >= 2)
        assert stopped.empty
        images = compute_unit(tiny, "features.5", 3, store, progress=lambda i, n: seen.append((i, n)))
    finally:
        optimize.PRESETS["lucid"] = original
    assert seen[-1] == (4, 4)
    assert [p.name for p in images.optimized] == ["opt_lucid.png"]
    assert images.info["optimize"]["lucid"]["method"] == "optimize"


def test_embedded_model_optimizes_the_pre_activation():
    loaded = load_model("efficientnet_lite0", device="cpu")
    result = optimize_units(loaded, loaded.find_layer("block3"), [0, 1], get_preset("C", steps=2), size=64)
    assert result.site == "pre"
    assert torch.all(result.shown <= 6.0)


# --------------------------------------------------------------------------- several processes


def test_torchrun_two_processes_give_the_same_store(tmp_path, image_folder, tiny):
    def run(nproc: int, store: Path) -> None:
        common = ["--model", TINY, "--device", "cpu", "--quiet", "--store", str(store)]
        for argv in (["topk", "--images", str(image_folder), "--k", "3", "--batch-size", "3", "--workers", "0",
                      "--layers", "features.2", "features.5"],
                     ["optimize", "--layers", "features.5", "--preset", "C", "--steps", "4", "--size", "48"]):
            if nproc == 1:  # the same code, in this process
                assert main(["precompute", *argv, *common]) == 0
                continue
            command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
                       str(nproc), "-m", "deepvis", "precompute", *argv, *common]
            env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(SUPPORT)}
            done = subprocess.run(command, cwd=SUPPORT, env=env, capture_output=True, text=True, timeout=180)
            assert done.returncode == 0, done.stderr[-3000:]

    run(1, tmp_path / "one")
    run(2, tmp_path / "two")
    for layer in ("features.2", "features.5"):
        one = json.loads((tmp_path / "one" / "tiny_unit_model_make_model" / layer / "index.json").read_text())
        two = json.loads((tmp_path / "two" / "tiny_unit_model_make_model" / layer / "index.json").read_text())
        assert one["units"].keys() == two["units"].keys()
        for unit, entry in one["units"].items():
            other = two["units"][unit]
            for key in ("images", "positions", "boxes", "scan"):
                assert entry["topk"][key] == other["topk"][key]
            assert entry["topk"]["activations"] == pytest.approx(other["topk"]["activations"], rel=1e-4)
            if "optimize" in entry:
                assert entry["optimize"]["C"]["best_activation"] == pytest.approx(
                    other["optimize"]["C"]["best_activation"], rel=1e-3, abs=1e-4)
        names = sorted(p.relative_to(tmp_path / "one").as_posix() for p in (tmp_path / "one").rglob("*.png"))
        assert names == sorted(p.relative_to(tmp_path / "two").as_posix() for p in (tmp_path / "two").rglob("*.png"))


def test_pixel_space_images_are_saved_contrast_stretched():
    from deepvis.unitvis.ondemand import stretch_contrast

    faint = 0.5 + 0.01 * torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    shown = stretch_contrast(faint)
    span = shown.flatten(1)
    assert (span.amin(dim=1) < 0.1).all() and (span.amax(dim=1) > 0.9).all()  # faint images fill the range
    assert abs(float(shown.mean()) - 0.5) < 0.02  # measured 0.4998: grey stays grey
    # The pattern is kept: stretching is an increasing map of each image's pixels.
    order = faint[0].flatten().argsort()
    assert (shown[0].flatten()[order].diff() >= 0).all()
