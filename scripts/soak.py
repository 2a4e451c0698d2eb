"""A soak of the real window: the Live mode on the sample video for N seconds (offscreen), its
resident memory and thread count sampled every 10 s. Prints one JSON line: the figures after a
warm-up (30 s, when the model, caches and the top-9 seen live have settled) and at the end, and
the growth between them.

    QT_QPA_PLATFORM=offscreen python scripts/soak.py [--seconds 300]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

WARM_UP = 30.0


def resident_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300.0)
    args = parser.parse_args()

    from PyQt6.QtWidgets import QApplication

    app = QApplication(sys.argv[:1])
    from deepvis.config import Config
    from deepvis.gui.jobs import keep_gui_thread_single_threaded
    from deepvis.gui.main_window import MainWindow
    from deepvis.paths import SAMPLE_VIDEO
    from deepvis.session import open_model
    from deepvis.sources import VideoSource

    keep_gui_thread_single_threaded()
    store = tempfile.mkdtemp(prefix="deepvis-soak-")
    config = Config().replace(store=store, device="cpu", auto_unit_images=False)
    window = MainWindow(config, open_model(config), VideoSource(SAMPLE_VIDEO, fps=30).start())
    window.resize(1440, 900)
    window.show()
    samples = []
    start = time.monotonic()
    next_sample = start
    while time.monotonic() - start < args.seconds:
        app.processEvents()
        time.sleep(0.005)
        now = time.monotonic()
        if now >= next_sample:
            samples.append((round(now - start, 1), round(resident_mb(), 1), len(os.listdir("/proc/self/task")),
                            window.live.frames_displayed))
            next_sample += 10.0
    window.shutdown()
    warm = next(s for s in samples if s[0] >= WARM_UP) if samples[-1][0] >= WARM_UP else samples[0]
    end = samples[-1]
    print(json.dumps({"seconds": end[0], "frames": end[3], "rss_mb_warm": warm[1], "rss_mb_end": end[1],
                      "rss_growth_mb": round(end[1] - warm[1], 1), "threads_warm": warm[2], "threads_end": end[2],
                      "samples": samples}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
