"""Render the Learn mode's OpenGL views under a real X display and check the pixels.

Run by tests/test_learn.py with QT_QPA_PLATFORM=xcb and DISPLAY set to an Xvfb it started
(pytest-qt's own QApplication is offscreen, where OpenGL cannot render). Writes PNGs of
what it grabbed to the folder given and exits 1 with a reason when a view is blank.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np


def not_blank(rgb: np.ndarray, background: tuple[int, int, int]) -> tuple[bool, float]:
    """True when a real share of the pixels differ from the background (and not all alike)."""
    differs = np.abs(rgb.astype(int) - np.array(background)).sum(2) > 30
    share = float(differs.mean())
    return share > 0.01 and rgb.std() > 5, share


def main(out: Path) -> int:
    from PyQt6.QtWidgets import QApplication

    app = QApplication(sys.argv[:1])
    import cv2

    import time

    from deepvis.config import Config
    from deepvis.learn.data import DataSettings
    from deepvis.learn.network import NetworkSpec
    from deepvis.gui.learn.views3d import opengl_problem
    from deepvis.learn.setup import Setup
    from deepvis.gui.theme import PANEL

    report: dict = {"platform": app.platformName(), "opengl_problem": opengl_problem()}
    background = (PANEL.red(), PANEL.green(), PANEL.blue())
    failures = []

    # The whole mode in one window, as the shell hosts it (pyqtgraph.opengl shares its shader
    # programs between the GL widgets of one window): it must pick the GL views and draw in them.
    from deepvis.gui.mode import ModeContext
    from deepvis.gui.learn.mode import LearnMode

    setup = Setup(DataSettings(points=160), NetworkSpec())
    messages: list[str] = []
    context = ModeContext(Config().replace(device="cpu"), messages.append, lambda _text: None,
                          lambda name: mode, {"learn": setup})
    mode = LearnMode(context)
    mode.resize(1200, 760)
    mode.show()
    mode.activate()
    deadline = time.perf_counter() + 60
    while (mode.frame is None or mode.frame.views.step < 200) and time.perf_counter() < deadline:
        app.processEvents()
        time.sleep(0.01)
    mode.set_playing(False)
    for _ in range(20):
        app.processEvents()
        time.sleep(0.01)
    report["step"] = mode.frame.views.step if mode.frame else None
    report["software"] = [mode.scene.software, mode.surface.software, mode.landscape.software]
    if mode.scene.software or mode.surface.software or mode.landscape.software:
        failures.append("the Learn mode chose the software views although OpenGL is available")
    else:
        # Each 3-D view in its tab, brought to the front (a hidden GL widget draws nothing).
        for name, scene, view in (("stage", "stage", mode.scene), ("surface", "neuron", mode.surface),
                                  ("landscape", "landscape", mode.landscape)):
            mode.vm.set_scene(scene)
            deadline = time.perf_counter() + 60
            while scene == "landscape" and time.perf_counter() < deadline and (
                    mode.frame.landscape is None or view.landscape is None):
                app.processEvents()
                time.sleep(0.01)
            for _ in range(10):
                app.processEvents()
                time.sleep(0.01)
            image = view.grab_rgb()
            cv2.imwrite(str(out / f"gl_{name}.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
            ok, share = not_blank(image, background)
            report[f"{name}_share"] = round(share, 4)
            if not ok:
                failures.append(f"the GL {name} view is blank ({share:.1%} of its pixels differ from the background)")
    mode.grab().save(str(out / "gl_mode.png"))
    mode.shutdown()
    mode.close()

    # A torch optimizer's first step imports torch._dynamo and with it triton, whose LLVM crashed
    # the process when Mesa's had been loaded first (the Learn mode loads triton before its first
    # GL context): this step must not kill the process.
    import torch

    layer = torch.nn.Linear(2, 1)
    optimizer = torch.optim.SGD(layer.parameters(), lr=0.1)
    layer(torch.ones(1, 2)).sum().backward()
    optimizer.step()
    report["triton_after_gl"] = "triton" in sys.modules
    report["failures"] = failures
    print(json.dumps(report))
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main(Path(sys.argv[1])))
