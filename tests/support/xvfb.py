"""A virtual X display for the tests that need a real one (OpenGL, the stress run)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from typing import Iterator

import pytest


def start_xvfb() -> tuple[subprocess.Popen, str]:
    """An Xvfb on a free display number (it writes the number it took to a pipe)."""
    read, write_end = os.pipe()
    process = subprocess.Popen(["Xvfb", "-displayfd", str(write_end), "-screen", "0", "1600x1000x24",
                                "-nolisten", "tcp"], pass_fds=(write_end,), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    os.close(write_end)
    with os.fdopen(read) as pipe:
        number = pipe.readline().strip()
    if not number:
        process.kill()
        raise RuntimeError("Xvfb did not start")
    return process, f":{number}"


@contextlib.contextmanager
def xvfb_environment() -> Iterator[dict]:
    """os.environ for a child process on a fresh Xvfb with Qt's xcb platform; skips the test where
    Xvfb is missing (fails it under CI, which installs it)."""
    if shutil.which("Xvfb") is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("Xvfb is missing; .ci/run installs it (apt-get install xvfb)")
        pytest.skip("Xvfb is not installed (apt-get install xvfb libgl1-mesa-dri)")
    process, display = start_xvfb()
    try:
        env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb"}
        env.pop("DEEPVIS_NO_OPENGL", None)
        yield env
    finally:
        process.terminate()
        process.wait(10)
