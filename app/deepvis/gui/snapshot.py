"""`deepvis snapshot [INPUT] [--mode NAME] --out FILE.png`: the real window, rendered offscreen."""

from __future__ import annotations

import os
import time
from pathlib import Path

from deepvis import DeepvisError

TIMEOUT_S = 120.0


def parse_size(text: str | None, config) -> tuple[int, int]:
    if not text:
        return config.window.width, config.window.height
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise DeepvisError(f"--size must be WIDTHxHEIGHT, e.g. 1440x900, not {text!r}") from None
    if not (320 <= width <= 10000 and 240 <= height <= 10000):
        raise DeepvisError(f"--size {text} is out of range (320x240 to 10000x10000)")
    return width, height


def wait_until(app, condition, timeout: float) -> bool:
    deadline = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > deadline:
            return False
        app.processEvents()
        time.sleep(0.01)
    return True


def render_window(window, app, unit: int, timeout: float = TIMEOUT_S) -> None:
    """Wait until the shown mode is ready; for Live, a result of its view with the unit panel loaded."""
    mode = window.current
    if not wait_until(app, mode.ready, timeout):
        raise DeepvisError(f"the {mode.name} mode showed nothing within {timeout:.0f} s")
    if mode.name == "live":
        count = mode.last_delivery.result.layout.n_units
        if not 0 <= unit < count:
            raise DeepvisError(f"--unit {unit} is out of range: {mode.view.layer} has units 0..{count - 1}")
        # A few results of a moving source let the FPS read-out settle (a still image gives one).
        wait_until(app, lambda: mode.frames_displayed >= 3, 3.0)
    window._refresh_status()
    app.processEvents()


def run_snapshot(args, config) -> int:
    # A snapshot needs no display, whatever DISPLAY says: an unreachable one would abort Qt.
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from deepvis.session import open_model, pick_layer
    from deepvis.gui.app import make_application
    from deepvis.gui.modes import mode_names
    from deepvis.sources import open_source

    out = Path(args.out)
    if out.suffix.lower() != ".png":
        raise DeepvisError(f"--out must name a .png file, not {out}")
    size = parse_size(getattr(args, "size", None), config)
    mode = getattr(args, "mode", None) or "live"
    if mode not in mode_names():
        raise DeepvisError(f"--mode {mode}: no such mode (modes: {', '.join(mode_names())})")
    if mode == "live" and not args.input:
        raise DeepvisError("a snapshot of the live mode needs an INPUT: an image, a video or a folder")
    source = open_source(args.input).start() if mode == "live" else None
    window = None
    try:
        loaded = layer = None
        if mode == "live":
            loaded = open_model(config)
            layer = pick_layer(loaded, config.layer).name
        app = make_application()
        from deepvis.gui.main_window import MainWindow

        window = MainWindow(config, loaded, source, layer=layer, unit=args.unit,
                            message=loaded.message if loaded else None, mode=mode)
        window.resize(*size)
        window.show()
        render_window(window, app, args.unit)
        out.parent.mkdir(parents=True, exist_ok=True)
        path = window.save_screenshot(out)
    finally:
        if window is not None:
            window.shutdown()
            window.close()
        elif source is not None:
            source.stop()
    print(f"wrote {path}")
    return 0
