"""The command line: probe's files, models, bench's report, one-line errors."""

import json

import cv2
import numpy as np
import pytest

from deepvis.cli import main
from deepvis.paths import SAMPLE_IMAGES


def test_probe_writes_its_files(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["probe", str(SAMPLE_IMAGES / "coffee.png"), "--layer", "block4", "--unit", "7",
                 "--out", str(out), "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    assert "espresso" in printed.splitlines()[0]

    predictions = json.loads((out / "predictions.json").read_text())
    assert predictions["top5"][0]["label"] == "espresso" and len(predictions["top5"]) == 5
    assert predictions["layer"] == "block4" and predictions["unit"] == 7

    x = np.load(out / "input.npy")
    assert x.dtype == np.float32 and x.shape == (1, 3, 224, 224)

    grid = cv2.imread(str(out / "grid.png"))
    assert grid is not None and grid.ndim == 3 and min(grid.shape[:2]) > 100

    acts = np.load(out / "activations.npz")
    assert {"stem", "block3", "block4", "head", "fc", "prob"} <= set(acts.files)
    assert acts["block4"].dtype == np.float32 and acts["block4"].shape == (1, 480, 14, 14)
    assert acts["prob"].argmax() == predictions["top5"][0]["index"]


def test_probe_accepts_a_module_path_as_layer(tmp_path):
    out = tmp_path / "out"
    assert main(["probe", str(SAMPLE_IMAGES / "chelsea.png"), "--layer", "conv_head", "--out", str(out)]) == 0
    acts = np.load(out / "activations.npz")
    assert acts["conv_head"].shape == (1, 1280, 7, 7)


@pytest.mark.parametrize("argv, message", [
    (["probe", "missing.png"], "no such file or folder"),
    (["probe", "{img}", "--layer", "conv9"], "has no layer 'conv9'"),
    (["probe", "{img}", "--unit", "5000"], "--unit 5000 is out of range"),
    (["probe", "{img}", "--model", "nonet"], "unknown model 'nonet'"),
    (["probe", "{img}", "--weights", "none.pth"], "weights file not found"),
])
def test_bad_input_gives_one_line(tmp_path, capsys, argv, message):
    argv = [a.replace("{img}", str(SAMPLE_IMAGES / "coffee.png")) for a in argv] + ["--out", str(tmp_path)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("deepvis: error:") and message in err[0]


def test_models_lists_models_and_layers(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "efficientnet_lite0 (default)" in out
    assert "conv1 p1 conv2 p2 conv3 conv4 conv5 p5 fc6 fc7 fc8 prob" in out
    for name in ("vgg16", "googlenet", "resnet18", "resnet50", "squeezenet1_1", "timm:NAME"):
        assert name in out


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for command in ("gui", "probe", "snapshot", "bench", "precompute", "models"):
        assert command in out


def test_bench_prints_one_json_line(capsys):
    assert main(["bench", "--frames", "4", "--device", "cpu"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    report = json.loads(lines[0])
    assert report["pipeline_fps"] > 0 and report["forward_fps"] > 0
    assert {"source", "preprocess", "forward", "render", "transfer"} <= set(report["ms"])


@pytest.mark.parametrize("argv, command", [
    ([], "gui"), (["photo.png"], "gui"), (["models"], "models"),
    (["--config", "c.yaml"], "gui"), (["--config", "c.yaml", "models"], "models"),
    (["--config", "c.yaml", "photo.png"], "gui"), (["--config=c.yaml", "bench"], "bench"),
])
def test_the_window_is_the_default_command(argv, command):
    from deepvis.cli import parse_args

    args = parse_args(argv)
    assert args.command == command
    if "photo.png" in argv:
        assert args.input == "photo.png"
