"""Work kept on interrupt: each long command, run as `python -m deepvis ...`, is signalled once it
has made progress; it writes what is done, exits 130 (SIGINT) or 143 (SIGTERM) with one line, and
a re-run resumes where it stopped (top-k, class images)."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from deepvis.cli import main
from deepvis.interrupt import stop_on_signals
from support.running import SUPPORT, Running

sys.path.insert(0, str(SUPPORT))  # the support models and small_digits, in this process too

SLOW = "slow_unit_model:make_model"  # the tiny conv net, 0.1 s a forward pass


def test_a_signal_sets_the_flag_and_the_old_handlers_come_back():
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    with stop_on_signals() as stop:
        assert not stop
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop and stop() and stop.signum == signal.SIGTERM
        with pytest.raises(KeyboardInterrupt):  # a second signal stops at once
            os.kill(os.getpid(), signal.SIGINT)
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


@pytest.fixture
def images(tmp_path) -> Path:
    folder = tmp_path / "images"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(60):
        cv2.imwrite(str(folder / f"i{i:02d}.png"), rng.integers(0, 256, (32, 32, 3), dtype=np.uint8))
    return folder


def test_topk_checkpoints_on_ctrl_c_and_a_rerun_resumes(tmp_path, images, caplog, capsys):
    store = tmp_path / "store"
    args = ["precompute", "topk", "--images", str(images), "--model", SLOW, "--device", "cpu", "--store",
            str(store), "--k", "2", "--batch-size", "2", "--layers", "features.5"]
    run = Running(*args, "--workers", "1")  # Ctrl-C reaches the DataLoader worker too
    run.wait_for(lambda: run.progress(r"top-k scan:.*?(\d+)/60") >= 10)
    run.interrupt(signal.SIGINT)
    code, line = run.finish()
    stopped = re.fullmatch(r"deepvis: SIGINT: the top-k scan stopped after (\d+) of 60 images and saved them in "
                           r"(.+\.pt); run the same command again to resume from there", line)
    assert code == 130 and stopped, (code, run.stderr[-2000:])
    done = int(stopped[1])
    assert 10 <= done < 60 and Path(stopped[2]).is_file()
    assert not list(store.rglob("index.json"))  # no patches yet: the scan had not ended

    with caplog.at_level(logging.INFO, logger="deepvis"):
        assert main([*args, "--workers", "0", "--quiet"]) == 0
    assert f"resuming the scan after {done} of 60 images" in caplog.text
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["scanned_here"] == 60 - done
    assert not Path(stopped[2]).exists() and list(store.rglob("index.json"))


def test_class_images_keep_finished_seeds_on_ctrl_c_and_a_rerun_makes_the_rest(tmp_path, capsys):
    out = tmp_path / "classes"
    args = ["dream", "--class", "2", "--seeds", "4", "--size", "32", "--steps", "60", "--model",
            "tiny_unit_model:make_model", "--device", "cpu", "--diversity", "0", "--out", str(out)]
    # Without the diversity term seeds go in batches of 2 on the CPU: 0 and 1, then 2 and 3 (with it,
    # all seeds of a class are made together, as one batch).
    run = Running(*args)
    run.wait_for(lambda: (out / "seed_1.png").is_file(), what="the first batch's images")
    run.interrupt(signal.SIGINT)
    code, line = run.finish()
    assert code == 130, run.stderr[-2000:]
    assert line == f"deepvis: SIGINT: stopped with 2 of 4 seeds written to {out}/; run the same command again " \
                   "to make the rest"
    record = json.loads((out / "classes.json").read_text())
    assert [s["seed"] for s in record["seeds"]] == [0, 1] and not record["complete"]
    assert not (out / "seed_2.png").exists() and not (out / "sheet.png").exists()

    made = {seed: (out / f"seed_{seed}.png").stat().st_mtime_ns for seed in (0, 1)}
    assert main(args) == 0
    assert {seed: (out / f"seed_{seed}.png").stat().st_mtime_ns for seed in (0, 1)} == made  # not made again
    record = json.loads((out / "classes.json").read_text())
    assert [s["seed"] for s in record["seeds"]] == [0, 1, 2, 3] and record["complete"]
    assert (out / "sheet.png").is_file()


def test_learn_writes_its_last_snapshot_on_sigterm(tmp_path):
    out = tmp_path / "learn"
    run = Running("learn", "--steps", "200000", "--grid", "16", "--device", "cpu", "--out", str(out))
    run.wait_for(lambda: run.progress(r"learn:.*?(\d+)/200000") >= 200)
    run.interrupt(signal.SIGTERM, group=False)  # as `kill` sends it
    code, line = run.finish()
    stopped = re.fullmatch(rf"deepvis: SIGTERM: stopped at step (\d+) of 200000; wrote {re.escape(str(out))}/: "
                           r"metrics.json \(stopped: interrupted\) boundary.png landscapes.png stages.png, no video",
                           line)
    assert code == 143 and stopped, (code, run.stderr[-2000:])
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["training"]["stopped"] == "interrupted"
    assert metrics["final"]["step"] == metrics["training"]["steps"] == int(stopped[1]) >= 200
    assert all((out / name).is_file() for name in ("boundary.png", "landscapes.png", "stages.png"))
    assert not (out / "training.mp4").exists()


def test_digits_train_keeps_its_last_finished_epoch_on_ctrl_c(tmp_path):
    from deepvis.digits.data import load_split
    from deepvis.digits.nets import load_mlp
    from deepvis.digits.train import accuracy

    out = tmp_path / "train"
    run = Running("digits", "train", "--hidden", "6", "--epochs", "1000", "--out", str(out))
    run.wait_for(lambda: "epoch 3/1000" in run.stdout, what="three epochs")
    run.interrupt(signal.SIGINT)
    code, line = run.finish()
    stopped = re.fullmatch(rf"deepvis: SIGINT: stopped after epoch (\d+) of 1000; wrote {re.escape(str(out))}/ "
                           r"with that epoch's model, its pictures and metrics.json \(stopped: interrupted\)", line)
    assert code == 130 and stopped, (code, run.stderr[-2000:])
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["stopped"] == "interrupted" and metrics["epochs_done"] == int(stopped[1]) >= 3
    assert (out / "hidden_weights.png").is_file()
    data = load_split()  # the model saved is the one the last epoch measured
    with torch.no_grad():
        logits = load_mlp(out)(torch.from_numpy(data.test_x))
    assert accuracy(logits[None], torch.from_numpy(data.test_y))[0] == metrics["test_accuracy"]


def test_digits_cnn_keeps_its_last_finished_epoch_on_ctrl_c(tmp_path):
    from deepvis.digits.nets import SmallCNN
    from deepvis.digits.train import accuracy
    from small_digits import small_split

    out = tmp_path / "cnn"
    run = Running("digits", "cnn", "--epochs", "500", "--out", str(out), module="small_digits")
    run.wait_for(lambda: "epoch 2/500" in run.stdout, what="two epochs")
    run.interrupt(signal.SIGINT)
    code, line = run.finish()
    stopped = re.fullmatch(rf"deepvis: SIGINT: stopped after epoch (\d+) of 500; wrote {re.escape(str(out))}/: "
                           r"that epoch's model.pth and metrics.json \(stopped: interrupted\)", line)
    assert code == 130 and stopped, (code, run.stderr[-2000:])
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["stopped"] == "interrupted" and metrics["epochs_done"] == int(stopped[1]) >= 2
    assert metrics["classes_from_noise"] is None and not (out / "filters.png").exists()
    model = SmallCNN()
    model.load_state_dict(torch.load(out / "model.pth", weights_only=True))
    data = small_split()
    with torch.no_grad():
        logits = model.eval()(torch.from_numpy(data.test_x))
    assert accuracy(logits[None], torch.from_numpy(data.test_y))[0] == metrics["test_accuracy"]


def _signal_after(monkeypatch, module, epochs: int) -> None:
    """`module`'s train_mlps sends this process SIGINT once it has yielded `epochs` epochs."""
    train = module.train_mlps

    def train_mlps(*args, **kwargs):
        for progress in train(*args, **kwargs):
            yield progress
            if progress.epoch == epochs and progress.test_accuracy is not None:  # at an epoch's end
                os.kill(os.getpid(), signal.SIGINT)
    monkeypatch.setattr(module, "train_mlps", train_mlps)


def test_digits_compare_stops_on_ctrl_c_and_writes_nothing(tmp_path, monkeypatch, capsys):
    from deepvis.digits import compare

    _signal_after(monkeypatch, compare, 2)
    out = tmp_path / "compare"
    assert main(["digits", "compare", "--hidden", "6", "--epochs", "50", "--out", str(out)]) == 130
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert line.startswith("deepvis: SIGINT: stopped after 2 of 100 epochs") and "nothing was written" in line
    assert not list(out.iterdir())


def test_digits_sweep_keeps_finished_runs_on_ctrl_c_and_resumes(tmp_path, monkeypatch, capsys):
    from deepvis.digits import sweep

    _signal_after(monkeypatch, sweep, 2)  # at the end of the first stack: the second is stopped at once
    out = tmp_path / "sweep"
    args = ["digits", "sweep", "--hidden", "4", "3", "--seeds", "1", "--epochs", "2", "--out", str(out)]
    assert main(args) == 130
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"deepvis: SIGINT: stopped with 1 of 2 runs done, kept in {out}/runs; run the same command again to "
        "train the rest")
    summary = json.loads((out / "sweep.json").read_text())
    assert not summary["complete"] and [r["hidden"] for r in summary["runs"]] == [4]
    monkeypatch.undo()
    assert main(args) == 0
    assert "1 run(s) were already done (resumed)" in capsys.readouterr().out
    assert json.loads((out / "sweep.json").read_text())["complete"]


@pytest.mark.parametrize("signum, group, expected", [(signal.SIGINT, True, 130), (signal.SIGTERM, False, 143)])
def test_ctrl_c_in_the_terminal_closes_the_window_cleanly(tmp_path, monkeypatch, signum, group, expected):
    """The window (offscreen) on a video: Ctrl-C quits it as File > Quit does, no traceback."""
    from support.windows import write_video

    monkeypatch.setenv("HOME", str(tmp_path))  # the user's unit store and caches
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    video = write_video(tmp_path / "tiny.mp4", frames=60)
    run = Running("gui", str(video), "--device", "cpu", cwd=tmp_path)
    run.wait_for(lambda: "tiny.mp4" in run.stderr, timeout=120, what="the window's first message")
    time.sleep(1.0)  # frames flowing, the worker busy
    run.interrupt(signum, group=group)
    code, _line = run.finish(timeout=60)
    assert code == expected, run.stderr[-3000:]
    assert "Traceback" not in run.stderr and "KeyboardInterrupt" not in run.stderr, run.stderr[-3000:]
    assert f"closed by signal {signum.value}" in run.stderr
