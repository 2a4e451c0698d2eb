"""Result files are written to a temporary name and renamed: a symlink planted where a result goes is
replaced, never followed; a failed write keeps the old file and leaves no temporary behind; JSON is
always valid."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import numpy as np
import pytest

from deepvis import DeepvisError
from deepvis.cli import main
from deepvis.files import atomic_files, atomic_path, json_text, write_bytes_atomic, write_json_atomic
from deepvis.paths import SAMPLE_IMAGES

SQUEEZENET = Path(__file__).resolve().parents[1].parent / "shared" / "weights" / "squeezenet1_1-imagenet.pth"
VICTIM_TEXT = "a file outside the output folder\n"


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if ".tmp" in p.name)


def strict_json(text: str):
    """json.loads that refuses NaN and Infinity, as other JSON readers do."""
    def refuse(name):
        raise ValueError(f"not JSON: {name}")
    return json.loads(text, parse_constant=refuse)


# --------------------------------------------------------------------------- the helper


def test_a_planted_symlink_is_replaced_not_followed(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text(VICTIM_TEXT)
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.json").symlink_to(victim)
    (out / "b.npy").symlink_to(victim)
    write_json_atomic(out / "a.json", {"x": 1})
    with atomic_path(out / "b.npy") as path:
        np.save(path, np.arange(3))
    assert victim.read_bytes() == VICTIM_TEXT.encode()
    assert not (out / "a.json").is_symlink() and json.loads((out / "a.json").read_text()) == {"x": 1}
    assert not (out / "b.npy").is_symlink() and np.load(out / "b.npy").tolist() == [0, 1, 2]
    assert leftovers(out) == []


def test_a_failed_write_keeps_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "model.pth"
    write_bytes_atomic(target, b"the good model")
    with pytest.raises(DeepvisError, match="cannot write .*model.pth: No space left on device"):
        with atomic_path(target) as path:
            path.write_bytes(b"half a mod")
            raise OSError(errno.ENOSPC, "No space left on device")
    assert target.read_bytes() == b"the good model"
    assert leftovers(tmp_path) == []


def test_files_of_one_result_are_renamed_only_when_all_are_written(tmp_path):
    for name in ("model.pth", "model.json"):
        (tmp_path / name).write_text(f"old {name}")
    with pytest.raises(DeepvisError, match="cannot write .*model.json: No space left on device"):
        with atomic_files() as files:
            files.path(tmp_path / "model.pth").write_text("new weights")
            files.path(tmp_path / "model.json")
            raise OSError(errno.ENOSPC, "No space left on device")
    assert [(tmp_path / n).read_text() for n in ("model.pth", "model.json")] == ["old model.pth", "old model.json"]
    assert leftovers(tmp_path) == []
    with atomic_files() as files:
        files.path(tmp_path / "model.pth").write_text("new weights")
    assert (tmp_path / "model.pth").read_text() == "new weights"


def test_json_is_valid_with_nulls_for_values_that_are_not_finite():
    value = strict_json(json_text({"test_r2": float("nan"), "curve": [1.0, float("inf"), np.float32(2.5)]}))
    assert value["test_r2"] is None and value["curve"] == [1.0, None, 2.5]
    assert "test_r2 (nan)" in value["note"] and "curve[1] (inf)" in value["note"]
    assert "note" not in strict_json(json_text({"a": 1.5}))


# --------------------------------------------------------------------------- every command


COMMANDS = {
    "learn": (["learn", "--data", "xor", "--hidden", "4", "--activation", "tanh", "--steps", "30", "--points", "60",
               "--grid", "16", "--frames", "2"],
              ["metrics.json", "boundary.png", "landscapes.png", "stages.png", "training.mp4"]),
    "tabular train": (["tabular", "train", "--data", "wine", "--epochs", "2", "--hidden", "4", "--quiet"],
                      ["model.pth", "model.json", "metrics.json"]),
    "digits train": (["digits", "train", "--hidden", "4", "--epochs", "1", "--batch-size", "100"],
                     ["metrics.json", "model.pth", "model.json", "hidden_weights.png", "digit_0.png"]),
    "weights": (["weights", "--model", "squeezenet1_1", "--weights", str(SQUEEZENET), "--layer", "features.0",
                 "--noise-size", "16"],
                ["weights.json", "first_layer_rgb.png", "filters_on_noise.png", "histograms.png"]),
    "probe": (["probe", str(SAMPLE_IMAGES / "coffee.png"), "--layer", "block4", "--unit", "7", "--device", "cpu",
               "--backprop", "guided"],
              ["predictions.json", "input.npy", "grid.png", "activations.npz", "backprop.npy", "backprop.png"]),
}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_no_command_writes_through_a_planted_symlink(tmp_path, command):
    if command == "weights" and not SQUEEZENET.is_file():
        pytest.skip("shared SqueezeNet weights not present")
    argv, outputs = COMMANDS[command]
    victim = tmp_path / "victim.txt"
    victim.write_text(VICTIM_TEXT)
    out = tmp_path / "out"
    out.mkdir()
    for name in outputs:
        (out / name).symlink_to(victim)
    assert main(argv + ["--out", str(out)]) == 0
    assert victim.read_bytes() == VICTIM_TEXT.encode()
    for name in outputs:
        assert not (out / name).is_symlink() and (out / name).is_file() and (out / name).stat().st_size > 0, name
    for name in (n for n in outputs if n.endswith(".json")):
        strict_json((out / name).read_text())
    assert leftovers(out) == []


def test_a_failed_tabular_train_keeps_the_good_model(tmp_path, monkeypatch):
    out = tmp_path / "model"
    argv = ["tabular", "train", "--data", "wine", "--epochs", "2", "--hidden", "4", "--quiet", "--out", str(out)]
    assert main(argv) == 0
    names = ("model.pth", "model.json", "metrics.json")
    before = {name: (out / name).read_bytes() for name in names}
    write_text = Path.write_text

    def disk_full_at_metrics(self, *args, **kwargs):
        if "metrics.json" in self.name:  # the last file: model.pth and model.json are written by then
            raise OSError(errno.ENOSPC, "No space left on device")
        return write_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", disk_full_at_metrics)
    assert main(argv[:-2] + ["--seed", "7", "--out", str(out)]) == 2  # one line, no traceback
    assert {name: (out / name).read_bytes() for name in names} == before
    assert leftovers(out) == []


@pytest.fixture
def tiny_filesystem(tmp_path):
    """A 64 KiB tmpfs (where this user may mount one: root on Linux), unmounted afterwards."""
    import shutil
    import subprocess

    mount = tmp_path / "tiny"
    mount.mkdir()
    if shutil.which("mount") is None or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root on Linux)")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


FULL_DISK_COMMANDS = {
    "learn": ["learn", "--steps", "20", "--frames", "0", "--grid", "64", "--device", "cpu"],
    "tabular train": ["tabular", "train", "--data", "wine", "--epochs", "2", "--hidden", "4", "--quiet"],
}


@pytest.mark.parametrize("command", list(FULL_DISK_COMMANDS))
@pytest.mark.parametrize("read_only", [False, True], ids=["full", "read-only"])
def test_a_full_or_read_only_disk_is_one_line_and_leaves_no_half_file(tiny_filesystem, read_only, command, capsys):
    import subprocess

    out = tiny_filesystem / "run"
    if read_only:
        subprocess.run(["mount", "-o", "remount,ro", str(tiny_filesystem)], check=True)
    elif command == "tabular train":  # a model that fits, then filler: the next result finds no room
        (tiny_filesystem / "filler").write_bytes(b"\0" * (60 * 1024))
    code = main(FULL_DISK_COMMANDS[command] + ["--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and str(tiny_filesystem) in err[0] and "Traceback" not in err[0], err
    reason = "Read-only file system" if read_only else "No space left on device"
    assert reason in err[0]
    leftovers = [p.name for p in tiny_filesystem.rglob("*") if p.is_file()]
    assert all(not name.startswith(".") for name in leftovers), leftovers  # no temporary left behind


def test_a_folder_link_planted_in_the_output_is_replaced_not_followed(tmp_path):
    if not SQUEEZENET.is_file():
        pytest.skip("shared SqueezeNet weights not present")
    victim = tmp_path / "victim"
    victim.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / "layers").symlink_to(victim, target_is_directory=True)
    argv = ["weights", "--model", "squeezenet1_1", "--weights", str(SQUEEZENET), "--layer", "features.0",
            "--noise-size", "16", "--out", str(out)]
    assert main(argv) == 0
    assert list(victim.iterdir()) == []  # nothing written through the link
    assert not (out / "layers").is_symlink() and any((out / "layers").iterdir())
