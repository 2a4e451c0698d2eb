"""Displayed FPS of the real window against `deepvis bench`'s pipeline_fps, in one process.

Two figures, each the median over slices:
- ceiling: the window on the sample video decoded as fast as it can (unpaced), over
  the bench's pipeline_fps: what the window itself costs.
- paced: the window on the video paced at --source-fps (as a webcam delivers it),
  over min(source rate, pipeline_fps): whether the window keeps up with its source.
With --unit-job, a third window shows a unit without an optimized image on a layer the shipped
store holds no image for, with auto_unit_images on (an empty user store), so the background job
computes one unit after another while the window plays unpaced: job_ratio is its displayed FPS
over the unpaced window's without the job, and job_seconds the median time of one unit's image.
Slices of the windows and of the bench alternate, so that a shared machine's
load falls on all alike; the embedded default runs on the bench's layer.

As in `deepvis` itself, the GUI thread runs torch on one thread and the model runs
on a thread of its own: the window's worker, and here the bench's thread. Each
slice's window is closed before its bench runs, so that no two threads hold
OpenMP teams at once (see gui.worker.keep_gui_thread_single_threaded).

    QT_QPA_PLATFORM=offscreen python scripts/window_fps.py [--slices 8] [--seconds 5]
    QT_QPA_PLATFORM=offscreen python scripts/window_fps.py --unit-job --layer block4 --unit 64

It runs against whichever deepvis is imported, so the same script measures an older
checkout too (PYTHONPATH=OLD/app).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import threading
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0, help="of live window per slice")
    parser.add_argument("--frames", type=int, default=40, help="bench frames per slice")
    parser.add_argument("--layer", default=None)
    parser.add_argument("--unit", type=int, default=0, help="the selected unit")
    parser.add_argument("--unit-job", action="store_true",
                        help="also measure the window while unit images are computed in the background")
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

    def live(seconds: float, each=None) -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            app.processEvents()
            if each is not None:
                each()
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

    job_seconds: list[float] = []

    def keep_a_job_running(mode) -> None:
        """Record each finished unit image's time and select the next unit, which starts the next."""
        task = mode.unit_jobs.task
        if task is None:
            return
        if not hasattr(task, "began"):
            task.began = time.perf_counter()
        if task.isFinished() and not hasattr(task, "ended"):
            task.ended = time.perf_counter()
            job_seconds.append(task.ended - task.began)
            mode.model.run("move_right")

    def displayed_fps(fps: float, job: bool = False) -> float:
        """Frames the window displays per second on the sample video at that pace (0: unpaced)."""
        source = VideoSource(SAMPLE_VIDEO, fps=fps).start()
        window_config = config.replace(store=store_folder, auto_unit_images=True) if job else config
        window = MainWindow(window_config, loaded, source, layer=layer.name, unit=args.unit)
        counter = getattr(window, "live", window)  # the Live mode, or an older window itself
        window.resize(config.window.width, config.window.height)
        window.show()
        try:
            live(2.0)  # start-up and the first frames are not counted
            if job and counter.unit_jobs.task is None:
                raise SystemExit(f"no unit image started for {layer.name}:{args.unit}: it has one already")
            shown, start = counter.frames_displayed, time.perf_counter()
            live(args.seconds, (lambda: keep_a_job_running(counter)) if job else None)
            return (counter.frames_displayed - shown) / (time.perf_counter() - start)
        finally:
            window.shutdown()
            window.close()
            source.stop()

    store_folder = tempfile.mkdtemp(prefix="deepvis-window-fps-")  # an empty user store
    rows = []
    for index in range(args.slices):
        unpaced = displayed_fps(0)
        paced = displayed_fps(args.source_fps)
        bench = bench_on_a_thread()
        pipeline = bench["pipeline_fps"]
        row = {"slice": index, "unpaced_fps": round(unpaced, 2), "paced_fps": round(paced, 2),
               "pipeline_fps": pipeline, "forward_fps": bench["forward_fps"],
               "ceiling_ratio": round(unpaced / pipeline, 3),
               "paced_ratio": round(paced / min(args.source_fps, pipeline), 3)}
        if args.unit_job:
            with_job = displayed_fps(0, job=True)
            row.update(job_fps=round(with_job, 2), job_ratio=round(with_job / unpaced, 3),
                       units_computed=len(job_seconds))
        rows.append(row)
        print(json.dumps(row), flush=True)
    keys = ["unpaced_fps", "paced_fps", "pipeline_fps", "ceiling_ratio", "paced_ratio"]
    keys += ["job_fps", "job_ratio"] if args.unit_job else []
    summary = {key: round(statistics.median(r[key] for r in rows), 3) for key in keys}
    if job_seconds:
        summary["job_seconds"] = round(statistics.median(job_seconds), 2)
    print(json.dumps({"median": summary}))


if __name__ == "__main__":
    main()
