"""The real window under Xvfb for a minute: modes switched and their jobs started and stopped
quickly, at random (seeded), with faulthandler on. A crash, a hang or a traceback fails it.
DEEPVIS_STRESS_SECONDS sets the length (default 60)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from support.xvfb import xvfb_environment

SECONDS = float(os.environ.get("DEEPVIS_STRESS_SECONDS", "60"))


def test_switching_modes_and_starting_and_stopping_jobs_quickly_for_a_minute(tmp_path):
    script = Path(__file__).parent / "support" / "stress_modes.py"
    with xvfb_environment() as env:
        env["DEEPVIS_CACHE"] = str(tmp_path / "cache")  # Digits' MNIST cache and its jobs' figures
        result = subprocess.run([sys.executable, str(script), str(SECONDS), str(tmp_path)], env=env,
                                capture_output=True, text=True, timeout=SECONDS + 240)
    tail = result.stderr[-4000:]
    assert result.returncode == 0, f"exit {result.returncode}\n{tail}"
    assert "Traceback" not in result.stderr, tail
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["seconds"] >= SECONDS and all(count > 0 for count in report["actions"].values()), report
