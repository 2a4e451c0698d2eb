"""`deepvis bench --startup`: how long deepvis takes to start, against the libraries it needs.

help_ratio: `python -m deepvis --help` over `python -c "import torch"` (goal <= 0.1: the command
line imports no torch). first_frame_ratio: the real window (offscreen, on the sample video) up to
its first displayed frame, over importing torch, torchvision, timm and PyQt6's widgets (goal
<= 1.5). Each figure is timed in fresh subprocesses, the four in turn for several rounds, the
order reversed every other round; seconds are medians, ratios the median of each round's ratio,
so that a burst of load on a shared machine falls on both sides of a ratio alike.

No torch is imported here: the process that times the others stays small.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from statistics import median

from deepvis import DeepvisError
from deepvis.paths import SAMPLE_VIDEO

TIMEOUT_S = 600.0
WINDOW_LIBRARIES = "torch, torchvision, timm, PyQt6.QtWidgets"


def run_child(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, str]:
    """(seconds from start to exit, stdout) of `python ARGV`; an error if it fails."""
    start = time.time()
    try:
        done = subprocess.run([sys.executable, *argv], capture_output=True, text=True, timeout=TIMEOUT_S,
                              env=env)
    except subprocess.TimeoutExpired:
        raise DeepvisError(f"`python {' '.join(argv)}` ran past {TIMEOUT_S:.0f} s") from None
    seconds = time.time() - start
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise DeepvisError(f"`python {' '.join(argv)}` failed ({done.returncode}): {last}")
    return seconds, done.stdout


def reported_time(stdout: str) -> float:
    """The wall-clock time a child printed on its last line (it may exit long after it)."""
    lines = stdout.strip().splitlines()
    try:
        return float(lines[-1])
    except (IndexError, ValueError):
        raise DeepvisError(f"a timed child printed no time: {stdout[-200:]!r}") from None


def seconds_until_reported(argv: list[str], env: dict[str, str] | None = None) -> float:
    """Seconds from a child's start to the moment it reports: its exit (shutting threads down, freeing
    torch) is not counted."""
    start = time.time()
    _, stdout = run_child(argv, env)
    return reported_time(stdout) - start


def window_argv(source: str, passed: list[str]) -> list[str]:
    return ["-m", "deepvis", "gui", source, *passed, "--exit-at-first-frame"]


def measures(source: str, passed: list[str]) -> dict:
    """name -> a function timing one run; the pairs to compare stand next to each other."""
    offscreen = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    return {
        "help": lambda: run_child(["-m", "deepvis", "--help"])[0],
        "torch_import": lambda: run_child(["-c", "import torch"])[0],
        "first_frame": lambda: seconds_until_reported(window_argv(source, passed), offscreen),
        "imports": lambda: seconds_until_reported(
            ["-c", f"import time, {WINDOW_LIBRARIES}; print(time.time())"], offscreen),
    }


def summary(seconds: dict[str, list[float]]) -> dict:
    """Medians, each round's ratios' median, and the spread (min, max) of every figure."""
    def ratios(top: str, bottom: str) -> list[float]:
        return [a / b for a, b in zip(seconds[top], seconds[bottom])]

    help_ratios, frame_ratios = ratios("help", "torch_import"), ratios("first_frame", "imports")
    report = {
        "help_seconds": round(median(seconds["help"]), 3),
        "torch_import_seconds": round(median(seconds["torch_import"]), 3),
        "help_ratio": round(median(help_ratios), 3),
        "first_frame_seconds": round(median(seconds["first_frame"]), 3),
        "imports_seconds": round(median(seconds["imports"]), 3),
        "first_frame_ratio": round(median(frame_ratios), 3),
        "rounds": len(help_ratios),
    }
    spread = {f"{name}_seconds": values for name, values in seconds.items()}
    spread.update(help_ratio=help_ratios, first_frame_ratio=frame_ratios)
    report["spread"] = {name: [round(min(v), 3), round(max(v), 3)] for name, v in spread.items()}
    return report


def run_startup_bench(rounds: int = 5, source: str | None = None, passed: list[str] | None = None,
                      log=None) -> dict:
    """Time the start-up figures in `rounds` alternated rounds. `passed`: options for the window
    (e.g. ["--config", "my.yaml", "--model", "resnet18"])."""
    if rounds < 1:
        raise DeepvisError("--rounds must be at least 1")
    timed = measures(str(source or SAMPLE_VIDEO), list(passed or []))
    seconds: dict[str, list[float]] = {name: [] for name in timed}
    for round_index in range(rounds):
        order = list(timed) if round_index % 2 == 0 else list(reversed(timed))
        for name in order:
            seconds[name].append(timed[name]())
        if log is not None:
            log(f"round {round_index + 1}/{rounds}: "
                + ", ".join(f"{name} {values[-1]:.2f} s" for name, values in seconds.items()))
    return summary(seconds)
