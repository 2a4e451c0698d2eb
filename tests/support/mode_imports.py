"""Which libraries the window has imported: after Live's first result, then after each mode named
on the command line is shown. Run by tests/test_startup.py in a fresh process, so that what other
tests imported does not count. Prints one JSON line: {"live": [...], MODE: [...], ...}.

    python tests/support/mode_imports.py OUT_DIR MODE...
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

os.environ["QT_QPA_PLATFORM"] = "offscreen"
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# What the modes other than Live need, and nothing at the window's start does.
MODE_LIBRARIES = ("matplotlib", "sklearn", "scipy", "mlxtend", "pyqtgraph.opengl", "OpenGL")


def imported() -> list[str]:
    return [name for name in MODE_LIBRARIES if name in sys.modules]


def settle(app, condition, seconds: float) -> None:
    deadline = time.perf_counter() + seconds
    while not condition() and time.perf_counter() < deadline:
        app.processEvents()
        time.sleep(0.01)


def main(out: Path, modes: list[str]) -> int:
    from deepvis.config import Config
    from deepvis.gui.app import make_application
    from deepvis.gui.main_window import MainWindow
    from deepvis.sources import VideoSource
    from support.windows import tiny_model, write_video

    app = make_application()
    config = Config().replace(store=str(out / "units"), device="cpu")
    window = MainWindow(config, tiny_model(), VideoSource(write_video(out / "v.mp4"), fps=0).start())
    window.show()
    settle(app, lambda: window.live.last_delivery is not None, 60.0)
    report = {"live": imported()}
    for name in modes:
        before = set(imported())
        window.show_mode(name)
        # A mode may import on its worker: wait a little for a library the mode brings.
        settle(app, lambda: set(imported()) - before, 5.0)
        report[name] = imported()
    window.shutdown()
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(Path(sys.argv[1]), sys.argv[2:]))
