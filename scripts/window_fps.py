"""Displayed FPS of the real window against `deepvis bench`'s pipeline_fps, in one process.

The window runs on the sample video paced at 30 fps (as a webcam would deliver
it), with the embedded default on the bench's layer; rounds of the window and of
the bench alternate so that a shared machine's load falls on both alike.

    QT_QPA_PLATFORM=offscreen python scripts/window_fps.py [--rounds 3] [--seconds 15]
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--frames", type=int, default=60, help="bench frames per round")
    parser.add_argument("--layer", default=None)
    parser.add_argument("--source-fps", type=float, default=30.0, help="pace of the sample video (a webcam: 30)")
    args = parser.parse_args()

    from deepvis.bench import run_bench
    from deepvis.config import load_config
    from deepvis.gui.app import make_application
    from deepvis.gui.main_window import MainWindow
    from deepvis.paths import SAMPLE_VIDEO
    from deepvis.sources import VideoSource
    from deepvis.zoo import load_model

    config = load_config()
    loaded = load_model(config.model, device="cpu")
    layer = loaded.find_layer(args.layer) if args.layer else loaded.default_layer()
    app = make_application()
    rows = []
    for round_index in range(args.rounds):
        source = VideoSource(SAMPLE_VIDEO, fps=args.source_fps).start()
        window = MainWindow(config, loaded, source, layer=layer.name)
        window.resize(config.window.width, config.window.height)
        window.show()
        samples = []
        end = time.perf_counter() + args.seconds
        while time.perf_counter() < end:
            app.processEvents()
            time.sleep(0.002)
            if time.perf_counter() > end - args.seconds / 2:  # skip the warm-up half
                samples.append(window.measured_fps())
        window.shutdown()
        window.close()
        source.stop()
        displayed = sum(samples) / max(1, len(samples))
        bench = run_bench(loaded, layer, frames=args.frames)
        rows.append({"round": round_index, "displayed_fps": round(displayed, 2),
                     "pipeline_fps": bench["pipeline_fps"], "forward_fps": bench["forward_fps"],
                     "ratio": round(displayed / bench["pipeline_fps"], 3)})
        print(json.dumps(rows[-1]), flush=True)
    mean = {key: round(sum(r[key] for r in rows) / len(rows), 3)
            for key in ("displayed_fps", "pipeline_fps", "ratio")}
    print(json.dumps({"mean": mean}))


if __name__ == "__main__":
    main()
