"""Displayed FPS of the real window against `deepvis bench`'s pipeline_fps, in one process.

Two figures, each the median over slices:
- ceiling: the window on the sample video decoded as fast as it can (unpaced), over
  the bench's pipeline_fps: what the window itself costs.
- paced: the window on the video paced at --source-fps (as a webcam delivers it),
  over min(source rate, pipeline_fps): whether the window keeps up with its source.
Slices of the two windows and of the bench alternate, so that a shared machine's
load falls on all alike; the embedded default runs on the bench's layer.

As in `deepvis` itself, the GUI thread runs torch on one thread and the model runs
on a thread of its own: the window's worker, and here the bench's thread. Each
slice's window is closed before its bench runs, so that no two threads hold
OpenMP teams at once (see gui.worker.keep_gui_thread_single_threaded).

    QT_QPA_PLATFORM=offscreen python scripts/window_fps.py [--slices 8] [--seconds 5]

It runs against whichever deepvis is imported, so the same script measures an older
checkout too (PYTHONPATH=OLD/app).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import threading
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0, help="of live window per slice")
    parser.add_argument("--frames", type=int, default=40, help="bench frames per slice")
    parser.add_argument("--layer", default=None)
    parser.add_argument("--source-fps", type=float, default=30.0, help="pace of the sample video (a webcam: 30)")
    args = parser.parse_args()

    import torch

    from deepvis.bench import run_bench
    from deepvis.config import load_config
    from deepvis.gui.app import make_application
    from deepvis.gui.main_window import MainWindow
    from deepvis.gui.worker import WORKER_THREADS, keep_gui_thread_single_threaded
    from deepvis.paths import SAMPLE_VIDEO
    from deepvis.sources import VideoSource
    from deepvis.zoo import load_model

    keep_gui_thread_single_threaded()
    config = load_config()
    loaded = load_model(config.model, device="cpu")
    layer = loaded.find_layer(args.layer) if args.layer else loaded.default_layer()
    app = make_application()

    def live(seconds: float) -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            app.processEvents()
            time.sleep(0.002)

    def bench_on_a_thread() -> dict:
        report = {}

        def run() -> None:
            torch.set_num_threads(WORKER_THREADS)
            report.update(run_bench(loaded, layer, frames=args.frames))

        thread = threading.Thread(target=run)
        thread.start()
        thread.join()
        return report

    def displayed_fps(fps: float) -> float:
        """Frames the window displays per second on the sample video at that pace (0: unpaced)."""
        source = VideoSource(SAMPLE_VIDEO, fps=fps).start()
        window = MainWindow(config, loaded, source, layer=layer.name)
        counter = getattr(window, "live", window)  # the Live mode, or an older window itself
        window.resize(config.window.width, config.window.height)
        window.show()
        try:
            live(2.0)  # start-up and the first frames are not counted
            shown, start = counter.frames_displayed, time.perf_counter()
            live(args.seconds)
            return (counter.frames_displayed - shown) / (time.perf_counter() - start)
        finally:
            window.shutdown()
            window.close()
            source.stop()

    rows = []
    for index in range(args.slices):
        unpaced = displayed_fps(0)
        paced = displayed_fps(args.source_fps)
        bench = bench_on_a_thread()
        pipeline = bench["pipeline_fps"]
        rows.append({"slice": index, "unpaced_fps": round(unpaced, 2), "paced_fps": round(paced, 2),
                     "pipeline_fps": pipeline, "forward_fps": bench["forward_fps"],
                     "ceiling_ratio": round(unpaced / pipeline, 3),
                     "paced_ratio": round(paced / min(args.source_fps, pipeline), 3)})
        print(json.dumps(rows[-1]), flush=True)
    summary = {key: round(statistics.median(r[key] for r in rows), 3)
               for key in ("unpaced_fps", "paced_fps", "pipeline_fps", "ceiling_ratio", "paced_ratio")}
    print(json.dumps({"median": summary}))


if __name__ == "__main__":
    main()
