"""Before Qt starts: an unreachable display or a missing xcb library is one deepvis line and exit 2
(Qt itself would abort the process); `snapshot` needs no display whatever DISPLAY says."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import cv2
import pytest

from deepvis.gui import display
from deepvis.paths import SAMPLE_IMAGES


def free_x_number() -> tuple[socket.socket, int]:
    """A listening TCP socket on 127.0.0.1 at 6000 + N: what an X server on host:N answers at."""
    for number in range(60, 100):
        sock = socket.socket()
        try:
            sock.bind(("127.0.0.1", 6000 + number))
        except OSError:
            sock.close()
            continue
        sock.listen(1)
        return sock, number
    pytest.skip("no free port for a fake X server")


def test_an_unreachable_display_is_named():
    problem = display.display_problem({"DISPLAY": "127.0.0.1:99"}, "linux")
    assert problem.startswith("display 127.0.0.1:99 is not reachable") and "xvfb-run" in problem


def test_no_display_and_other_platforms():
    assert display.display_problem({}, "linux") == display.NO_DISPLAY
    assert display.display_problem({"QT_QPA_PLATFORM": "offscreen"}, "linux") is None
    assert display.display_problem({}, "darwin") is None


def test_a_reachable_display_with_every_library_passes(monkeypatch):
    server, number = free_x_number()
    with server:
        monkeypatch.setattr(display, "library_loads", lambda name: True)
        assert display.display_problem({"DISPLAY": f"127.0.0.1:{number}"}, "linux") is None


def test_a_missing_xcb_library_is_one_line_with_the_install_command(monkeypatch, capsys):
    from deepvis.cli import main

    server, number = free_x_number()
    with server:
        monkeypatch.setattr(display, "library_loads", lambda name: name != "libxcb-cursor.so.0")
        monkeypatch.setenv("DISPLAY", f"127.0.0.1:{number}")
        monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
        monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
        monkeypatch.setattr(sys, "platform", "linux")
        assert main([]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "libxcb-cursor0" in err and "sudo apt-get install libxcb-cursor0" in err


def test_snapshot_ignores_an_unreachable_display(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
    env["DISPLAY"] = "127.0.0.1:99"
    out = tmp_path / "shot.png"
    done = subprocess.run([sys.executable, "-m", "deepvis", "snapshot", str(SAMPLE_IMAGES / "coffee.png"),
                           "--size", "800x600", "--out", str(out)], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert cv2.imread(str(out)).shape[:2] == (600, 800)


def test_the_window_with_an_unreachable_display_exits_2_in_one_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY")}
    env["DISPLAY"] = "127.0.0.1:99"
    done = subprocess.run([sys.executable, "-m", "deepvis", str(SAMPLE_IMAGES / "coffee.png")], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"deepvis: error: display 127.0.0.1:99 is not reachable: the window needs one. {display.HEADLESS_WAYS}"]
