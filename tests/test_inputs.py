"""Wrong inputs that used to be taken silently: each is refused in one line (exit 2) before any
work, naming the value, with nothing computed or written."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from deepvis.cli import main
from support.running import SUPPORT

sys.path.insert(0, str(SUPPORT))  # for --model tiny_unit_model:make_model in this process

TINY = "tiny_unit_model:make_model"


def _refuse(*names: str):
    """Replace functions that do the work with ones that fail the test if called."""
    def refuse(monkeypatch):
        for name in names:
            module, attribute = name.rsplit(".", 1)

            def called(*_args, name=name, **_kwargs):
                raise AssertionError(f"{name} ran: the input was not refused first")
            monkeypatch.setattr(module + "." + attribute, called)
    return refuse


def _images(folder: Path) -> Path:
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        cv2.imwrite(str(folder / f"i{i}.png"), rng.integers(0, 256, (32, 32, 3), dtype=np.uint8))
    return folder


def _table(folder: Path) -> Path:
    path = folder / "points.csv"
    path.write_text("x1,x2,label\n" + "".join(f"{i / 20 - 1},{(i * 7 % 40) / 20 - 1},{i % 2}\n" for i in range(40)))
    return path


def _trained_table(folder: Path, rows) -> Path:
    """A tabular model folder whose model.json's split.test_rows starts with `rows`."""
    model = folder / "iris"
    assert main(["tabular", "train", "--data", "iris", "--hidden", "4", "--epochs", "1", "--out", str(model),
                 "--quiet"]) == 0
    meta = json.loads((model / "model.json").read_text())
    meta["split"]["test_rows"][:len(rows)] = rows
    (model / "model.json").write_text(json.dumps(meta))
    return model


CASES = {
    "topk --max-images -1": (
        lambda tmp: ["precompute", "topk", "--images", str(_images(tmp / "images")), "--max-images", "-1",
                     "--model", TINY, "--device", "cpu", "--store", str(tmp / "store"), "--quiet"],
        "--max-images must be at least 1, not -1", _refuse("deepvis.unitvis.topk.scan", "deepvis.session.open_model")),
    "topk --units 99999": (
        lambda tmp: ["precompute", "topk", "--images", str(_images(tmp / "images")), "--units", "99999",
                     "--layers", "features.5", "--model", TINY, "--device", "cpu", "--store", str(tmp / "store"),
                     "--quiet"],
        "--units 99999 is out of range: layer features.5 has units 0..7", _refuse("deepvis.unitvis.topk.scan")),
    "learn --columns x1 x1": (
        lambda tmp: ["learn", "--data", str(_table(tmp)), "--columns", "x1", "x1", "--out", str(tmp / "out")],
        "--columns needs two different columns, not x1 twice", _refuse("deepvis.learn.trainer.Trainer")),
    "learn --bench-seconds 0": (
        lambda tmp: ["learn", "--bench", "--bench-seconds", "0"],
        "--bench-seconds must be above 0, not 0", _refuse("deepvis.learn.trainer.Trainer")),
    "tabular test row -3": (
        lambda tmp: ["tabular", "explain", str(_trained_table(tmp, [-3]))],
        "split.test_rows holds -3, not a row of iris (0..149", _refuse("deepvis.tabular.explain.explain_layer")),
    "tabular test row 2.5": (
        lambda tmp: ["tabular", "explain", str(_trained_table(tmp, [2.5]))],
        "split.test_rows holds 2.5, not a row of iris", _refuse("deepvis.tabular.explain.explain_layer")),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_wrong_input_is_one_line_before_any_work(case, tmp_path, monkeypatch, capsys):
    argv, message, refuse = CASES[case]
    argv = argv(tmp_path)
    capsys.readouterr()
    before = sorted(tmp_path.rglob("*"))
    refuse(monkeypatch)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("deepvis: error: ") and message in err, err
    assert sorted(tmp_path.rglob("*")) == before  # nothing written


def test_a_sweep_with_other_settings_keeps_the_runs_stored(tmp_path, capsys, caplog):
    def sweep(epochs: int) -> str:
        assert main(["digits", "sweep", "--hidden", "3", "--seeds", "1", "--epochs", str(epochs),
                     "--out", str(tmp_path)]) == 0
        return capsys.readouterr().out

    sweep(1)
    assert "other settings" not in caplog.text
    sweep(2)  # into the same folder: its run is kept beside the first, not over it, and that is said
    assert "also holds runs made with other settings" in caplog.text
    runs = [json.loads(path.read_text()) for path in tmp_path.rglob("h3_s0.json")]
    assert sorted(run["key"]["settings"]["epochs"] for run in runs) == [1, 2]
    assert "1 run(s) were already done (resumed)" in sweep(1)


def test_bench_refuses_a_unit_the_layer_does_not_have(capsys):
    assert main(["bench", "--unit", "99999", "--backprop", "deconv", "--frames", "2", "--device", "cpu"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--unit 99999" in err[0] and "units 0-" in err[0], err
