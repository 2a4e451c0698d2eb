"""Start-up: the command line's help, its errors and `deepvis models` import no torch (nor any heavy
library), and the window imports a mode's libraries only when that mode is first shown.

Each check runs in a fresh process: what other tests imported would hide an import here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from deepvis.cli import COMMANDS
from deepvis.paths import SAMPLE_VIDEO

HEAVY = ("torch", "torchvision", "timm", "cv2", "matplotlib", "sklearn", "scipy", "mlxtend", "PyQt6")
# What only the modes other than Live need.
MODE_LIBRARIES = ("matplotlib", "sklearn", "scipy", "mlxtend", "pyqtgraph.opengl")
SUPPORT = Path(__file__).parent / "support"

# Runs `deepvis ARGV` for each ARGV given as JSON, then prints the exit codes and the modules
# imported, as JSON on the last line.
RUN_DEEPVIS = """
import json, runpy, sys
codes = []
for argv in json.loads(sys.argv[1]):
    sys.argv = ["deepvis", *argv]
    try:
        runpy.run_module("deepvis", run_name="__main__")
    except SystemExit as exit:
        codes.append(exit.code)
print()
print(json.dumps({"codes": codes, "modules": sorted(sys.modules)}))
"""


def run_deepvis(*runs: list[str], env: dict[str, str] | None = None) -> tuple[list[int], set[str], list[str]]:
    """(exit codes, modules imported, the lines printed) of `deepvis ARGV` for each ARGV, in one
    fresh process."""
    done = subprocess.run([sys.executable, "-c", RUN_DEEPVIS, json.dumps(runs)],
                          capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    report = json.loads(lines[-1])
    return report["codes"], set(report["modules"]), lines[:-1]


@pytest.mark.parametrize("argv, code", [
    (["--help"], 0),
    (["models"], 0),
    (["learn", "--help"], 0),
    (["digits", "train", "--help"], 0),
    (["learn", "--no-such-flag"], 2),  # an argument error
    (["probe"], 2),  # a missing argument
    (["--version"], 0),
])
def test_the_command_line_imports_no_heavy_library(argv, code):
    codes, modules, _ = run_deepvis(argv)
    assert codes == [code]
    assert sorted(modules.intersection(HEAVY)) == []


def test_no_command_help_imports_a_heavy_library():
    codes, modules, _ = run_deepvis(*[[command, "--help"] for command in COMMANDS])
    assert codes == [0] * len(COMMANDS)
    assert sorted(modules.intersection(HEAVY)) == []


def test_the_window_shows_its_first_frame_without_the_other_modes_libraries():
    """The real `deepvis gui VIDEO` (what `bench --startup` times) up to its first frame."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    codes, modules, lines = run_deepvis(["gui", str(SAMPLE_VIDEO), "--device", "cpu", "--exit-at-first-frame"],
                                        env=env)
    assert codes == [0]
    assert [line for line in lines if line.replace(".", "").isdigit()]  # the first frame's wall-clock time
    assert sorted(modules.intersection(MODE_LIBRARIES)) == []


def test_a_modes_libraries_come_when_it_is_first_shown(tmp_path):
    done = subprocess.run([sys.executable, str(SUPPORT / "mode_imports.py"), str(tmp_path), "digits", "tabular"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["live"] == []
    assert report["tabular"]  # they come with the modes (which ones, when, is each mode's own affair)


def test_the_startup_bench_alternates_its_rounds_and_reports_medians(monkeypatch):
    from deepvis import startup

    calls: list[str] = []
    seconds = {"help": [0.2, 0.1, 0.3], "torch_import": [4.0, 2.0, 3.0], "first_frame": [9.0, 6.0, 12.0],
               "imports": [6.0, 5.0, 6.0]}

    def timed(name):
        def run():
            calls.append(name)
            return seconds[name][sum(call == name for call in calls) - 1]
        return run

    monkeypatch.setattr(startup, "measures", lambda source, passed: {name: timed(name) for name in seconds})
    report = startup.run_startup_bench(rounds=3)
    assert calls[:8] == ["help", "torch_import", "first_frame", "imports",
                         "imports", "first_frame", "torch_import", "help"]
    assert report["help_seconds"] == 0.2 and report["torch_import_seconds"] == 3.0
    assert report["help_ratio"] == 0.05  # the median of 0.05, 0.05 and 0.1
    assert report["first_frame_seconds"] == 9.0 and report["imports_seconds"] == 6.0
    assert report["first_frame_ratio"] == 1.5  # of 1.5, 1.2 and 2.0
    assert report["spread"]["first_frame_seconds"] == [6.0, 12.0] and report["rounds"] == 3


def test_the_startup_bench_passes_its_options_to_the_window():
    from deepvis.cli import _window_flags, parse_args

    args = parse_args(["bench", "--startup", "--model", "resnet18", "--device", "cpu", "--config", "my.yaml"])
    assert args.startup and _window_flags(args) == ["--config", "my.yaml", "--model", "resnet18", "--device", "cpu"]
