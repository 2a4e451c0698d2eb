"""The shell: modes as tabs, only the visible mode's worker runs, keys and menus follow the visible
mode, and `snapshot --mode` renders any mode offscreen."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import sys
import types

import cv2
import numpy as np
import pytest
from PyQt6.QtWidgets import QLabel, QVBoxLayout

from deepvis.config import Config
from deepvis.gui import modes
from deepvis.gui.mode import Mode
from deepvis.sources import VideoSource
from support.windows import TIMEOUT, tiny_model, write_video

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


class EchoMode(Mode):
    """A second mode for the tests: records the keys it is given and whether it is active."""

    name = "echo"
    title = "Echo"

    def __init__(self, context, parent=None):
        super().__init__(context, parent)
        self.keys: list[str] = []
        self.activations = 0
        QVBoxLayout(self).addWidget(QLabel("echo"))

    def add_menus(self, menu_bar):
        self.menu = menu_bar.addMenu("&Echo")
        self.menu.addAction("Say hello").triggered.connect(lambda: self.message.emit("hello"))
        return [self.menu]

    def handle_key(self, name):
        self.keys.append(name)
        return True

    def activate(self):
        super().activate()
        self.activations += 1

    def status_text(self):
        return "echo mode"


@pytest.fixture
def with_echo(monkeypatch):
    module = types.ModuleType("deepvis_test_echo")
    module.EchoMode = EchoMode
    monkeypatch.setitem(sys.modules, "deepvis_test_echo", module)
    monkeypatch.setattr(modes, "MODES", modes.MODES + (("echo", "Echo", "deepvis_test_echo", "EchoMode"),))


@pytest.fixture
def shell(qtbot, tmp_path, with_echo):
    from deepvis.gui.main_window import MainWindow

    config = Config().replace(store=str(tmp_path / "units"), device="cpu")
    source = VideoSource(write_video(tmp_path / "v.mp4"), fps=0).start()
    window = MainWindow(config, tiny_model(), source)
    window.resize(1024, 700)
    window.show()
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: window.live.last_delivery is not None, timeout=TIMEOUT)
    yield window
    window.shutdown()


def test_modes_are_tabs_created_when_first_shown(shell):
    assert [shell.tabs.tabText(i) for i in range(shell.tabs.count())] == [
        modes.mode_title(name) for name in modes.mode_names()]
    assert shell.tabs.tabText(0) == "Live" and shell.tabs.tabText(shell.tabs.count() - 1) == "Echo"
    assert set(shell.modes) == {"live"}  # the echo mode is not built until shown
    shell.tabs.setCurrentIndex(modes.mode_names().index("echo"))
    assert set(shell.modes) == {"live", "echo"} and shell.current.name == "echo"
    assert shell.tabs.currentWidget() is shell.modes["echo"]


def test_only_the_visible_mode_runs(shell, qtbot):
    live = shell.live
    qtbot.waitUntil(lambda: live.worker.frames_processed > 3, timeout=TIMEOUT)
    echo = shell.show_mode("echo")
    assert echo.active and not live.active and live.source.paused
    qtbot.wait(300)  # a frame in flight may still land
    before = live.worker.frames_processed
    qtbot.wait(500)
    assert live.worker.frames_processed == before  # hidden: no frame processed
    shell.show_mode("live")
    assert live.active and not echo.active and not live.source.paused
    qtbot.waitUntil(lambda: live.worker.frames_processed > before + 3, timeout=TIMEOUT)


def test_a_users_pause_survives_a_visit_to_another_mode(shell, qtbot):
    qtbot.keyClick(shell, " ")
    assert shell.live.source.paused
    shell.show_mode("echo")
    shell.show_mode("live")
    assert shell.live.source.paused


def test_keys_status_and_menus_follow_the_visible_mode(shell, qtbot):
    live = shell.live
    qtbot.keyClick(shell, "l")
    assert live.view.unit == 1
    echo = shell.show_mode("echo")
    qtbot.keyClick(shell, "l")
    assert echo.keys == ["l"] and live.view.unit == 1
    shell._refresh_status()
    assert shell.status_label.text() == "echo mode"
    titles = {a.text(): a.isVisible() for a in shell.menuBar().actions() if a.text()}
    assert titles["&Echo"] and not titles["&Model"] and titles["&File"] and titles["&Help"]
    assert not any(a.isVisible() for a in shell._mode_entries["live"])
    echo.menu.actions()[0].trigger()
    assert shell.message_label.text() == "hello"
    shell.show_mode("live")
    titles = {a.text(): a.isVisible() for a in shell.menuBar().actions() if a.text()}
    assert titles["&Model"] and not titles["&Echo"]
    assert "conv2:1" in shell.status_text()
    # Each mode's status line is its own: Echo's "hello" does not follow into Live, and comes back.
    assert shell.message_label.text() != "hello"
    shell.show_message("live's line")
    shell.show_mode("echo")
    assert shell.message_label.text() == "hello"
    shell.show_mode("live")
    assert shell.message_label.text() == "live's line"


def test_help_lists_the_shell_and_the_mode_keys(shell, qtbot):
    qtbot.keyClick(shell, "h")
    assert shell.help_overlay.isVisible()
    texts = [text for _, text in shell.help_overlay.rows]
    assert "this help" in texts and "select the unit to the left" in texts
    qtbot.keyClick(shell, "h")
    assert not shell.help_overlay.isVisible()


def test_snapshot_renders_another_mode(tmp_path, with_echo):
    from deepvis.cli import main

    out = tmp_path / "echo.png"
    assert main(["snapshot", "--mode", "echo", "--out", str(out), "--size", "640x480"]) == 0
    image = cv2.imread(str(out))
    assert image is not None and image.shape[:2] == (480, 640)


def test_snapshot_of_an_unknown_mode_says_so(tmp_path, capsys):
    from deepvis.cli import main

    assert main(["snapshot", "--mode", "nosuch", "--out", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert "no such mode" in err and "live" in err and "Traceback" not in err
    assert main(["snapshot", "--out", str(tmp_path / "x.png")]) == 2
    assert "needs an INPUT" in capsys.readouterr().err


def pane_geometries(live) -> dict[str, tuple[int, int, int, int]]:
    from PyQt6.QtCore import QPoint

    out = {}
    for name, pane in live.panes.items():
        corner = pane.mapTo(live.window(), QPoint(0, 0))
        out[name] = (corner.x(), corner.y(), pane.width(), pane.height())
    return out


def test_panes_hold_still(shell, qtbot, tmp_path):
    """The panes keep their geometry when the unit panel fills or empties, images load, and a long
    status message appears."""
    from deepvis.unitvis.store import weights_fingerprint

    live = shell.live
    qtbot.wait(300)
    before = pane_geometries(live)
    store = live.unit_panel.store
    store.claim()
    image = np.full((64, 64, 3), 120, np.uint8)
    for i in range(9):
        store.write_image("conv2", 1, f"patch_{i:02d}.png", image)
    store.write_image("conv2", 1, "opt_lucid.png", image)
    live.model.select_unit(1)  # a unit with images: the panel fills
    qtbot.waitUntil(lambda: live.unit_panel.shown_key == ("conv2", 1) and live.unit_panel.pages.currentIndex() == 0,
                    timeout=TIMEOUT)
    qtbot.wait(100)
    assert pane_geometries(live) == before
    shell.show_message("a very long status message " * 20)
    qtbot.wait(100)
    assert pane_geometries(live) == before
    live.model.select_unit(2)  # no images: the panel empties
    qtbot.waitUntil(lambda: live.unit_panel.shown_key == ("conv2", 2), timeout=TIMEOUT)
    qtbot.wait(100)
    assert pane_geometries(live) == before
    assert weights_fingerprint(live.loaded.model) == store.fingerprint


def test_g_sends_lives_frame_to_dream(shell, qtbot, monkeypatch):
    from deepvis.gui.dream.mode import DreamMode

    calls = []
    monkeypatch.setattr(DreamMode, "dream_from_live", lambda self, use_unit=False: calls.append(use_unit) or True)
    qtbot.keyClick(shell, "g")
    assert shell.current.name == "dream" and calls == [False]
    shell.show_mode("live")
    qtbot.keyClick(shell, "G")
    assert shell.current.name == "dream" and calls == [False, True]
