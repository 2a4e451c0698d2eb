"""Shared fixtures. Qt runs offscreen in the tests: no display is needed."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path  # noqa: E402  (after the platform is set)

import pytest  # noqa: E402

from deepvis.config import Config  # noqa: E402
from support.windows import TIMEOUT, tiny_model, write_video  # noqa: E402


@pytest.fixture
def config(tmp_path) -> Config:
    return Config().replace(store=str(tmp_path / "units"), device="cpu")


@pytest.fixture
def make_window(qtbot, config):
    """make(source, loaded=None, config=..., **kw): a shown main window on a started source,
    once its first result is displayed; shut down at the end of the test."""
    from deepvis.gui.main_window import MainWindow

    windows = []

    def make(source, loaded=None, config=config, **kw):
        window = MainWindow(config, loaded or tiny_model(), source.start(), **kw)
        window.resize(1024, 700)
        window.show()
        qtbot.addWidget(window)
        windows.append(window)
        qtbot.waitUntil(lambda: window.live.last_delivery is not None, timeout=TIMEOUT)
        return window

    yield make
    for window in windows:
        window.shutdown()


@pytest.fixture
def video(tmp_path) -> Path:
    return write_video(tmp_path / "tiny.mp4")


@pytest.fixture(scope="module")
def loaded():
    """The embedded default model (no network), loaded once for the test file."""
    from deepvis.session import open_model

    return open_model(Config().replace(device="cpu"))


@pytest.fixture
def same_model(monkeypatch, loaded):
    """Commands given the already loaded embedded model, so that each does not load it again."""
    import deepvis.session

    monkeypatch.setattr(deepvis.session, "open_model", lambda config: loaded)
