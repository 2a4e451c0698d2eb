"""Displayed FPS of the real window against `deepvis bench`'s pipeline_fps, in one process.

Two figures, each the median over slices:
- ceiling: the window on the sample video served from memory far faster than any pipeline
  (--ceiling-fps, 240), over the bench's pipeline_fps: what the window itself costs. (Decoding
  unpaced instead would spend a whole core of two on the decoder and measure that.)
- paced: the window on the video paced at --source-fps (as a webcam delivers it),
  over min(source rate, pipeline_fps): whether the window keeps up with its source.
With --unit-job, a third window shows a unit without an optimized image on a layer the shipped
store holds no image for, with auto_unit_images on (an empty user store), so the background job
computes one unit after another while the window plays at its ceiling (job_ratio: its displayed
FPS over the ceiling window's without the job) and paced (paced_job_ratio), and job_seconds the
median time of one unit's image.
With --accentuation, a fourth window accentuates the frame on screen for the selected unit, again
and again, while it plays (accent_ratio and paced_accent_ratio, as for the unit job), and
first_result_seconds is the median time from the key to the first result in the unit panel.
Slices of the windows and of the bench alternate, so that a shared machine's
load falls on all alike; the embedded default runs on the bench's layer.

As in `deepvis` itself, the GUI thread runs torch on one thread and the model runs
on a thread of its own: the window's worker, and here the bench's thread. Each
slice's window is closed before its bench runs, so that no two threads hold
OpenMP teams at once (see gui.jobs.keep_gui_thread_single_threaded).

    QT_QPA_PLATFORM=offscreen python scripts/window_fps.py [--slices 8] [--seconds 5]
    QT_QPA_PLATFORM=offscreen python scripts/window_fps.py --unit-job --layer block4 --unit 64
    QT_QPA_PLATFORM=offscreen python scripts/window_fps.py --accentuation --layer block4 --unit 5

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
    parser.add_argument("--accentuation", action="store_true",
                        help="also measure the window while it accentuates the frame for the selected unit")
    parser.add_argument("--no-top-frames", action="store_true",
                        help="the window without the live top-9 (config live_top_frames: false)")
    parser.add_argument("--job-rest", type=float, default=None,
                        help="the background job's rest after each step, in multiples of the step (default: deepvis's)")
    parser.add_argument("--ceiling-fps", type=float, default=240.0, help="pace of the in-memory source")
    parser.add_argument("--source-fps", type=float, default=30.0, help="pace of the sample video (a webcam: 30)")
    args = parser.parse_args()

    import cv2
    import torch

    from deepvis.bench import run_bench
    from deepvis.config import load_config
    from deepvis.gui.app import make_application
    from deepvis.gui.main_window import MainWindow
    from deepvis.gui.jobs import keep_gui_thread_single_threaded, worker_threads
    from deepvis.paths import SAMPLE_VIDEO
    from deepvis.sources import VideoSource
    from deepvis.zoo import load_model

    keep_gui_thread_single_threaded()
    config = load_config()
    if args.no_top_frames:
        config = config.replace(live_top_frames=False)
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
            torch.set_num_threads(worker_threads())
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

    first_results: list[float] = []
    accent_runs: list[float] = []

    def keep_accentuating(mode, began: list) -> None:
        """Record the first result's and the whole run's time, and start again on the frame then shown."""
        state = mode.accent
        now = time.perf_counter()
        if began and state.result is not None and len(first_results) < len(began):
            first_results.append(now - began[-1])
        if state.phase in ("idle", "done"):
            if state.phase == "done":
                accent_runs.append(now - began[-1])
                mode.accent_jobs.dismiss()
            began.append(time.perf_counter())
            mode.accentuate()

    class VideoInMemory(VideoSource):
        """The sample video decoded once, then served from memory at `fps`: a source that costs
        next to nothing, so that the window is what is measured."""

        def __init__(self, fps: float):
            super().__init__(SAMPLE_VIDEO, fps=fps)
            capture = cv2.VideoCapture(str(SAMPLE_VIDEO))
            self.decoded = []
            while (read := capture.read())[0]:
                self.decoded.append(cv2.cvtColor(read[1], cv2.COLOR_BGR2RGB))
            capture.release()

        def _open(self) -> None:
            self._frame_in_file, self._next_due = 0, time.perf_counter()

        def _close(self) -> None:
            pass

        def _read(self):
            index, self._frame_in_file = self._frame_in_file, self._frame_in_file + 1
            return self.decoded[index % len(self.decoded)], f"{self.name} #{index}"

    def displayed_fps(fps: float, job: bool = False, in_memory: bool = False, accent: bool = False) -> float:
        """Frames the window displays per second on the sample video at that pace."""
        source = (VideoInMemory(fps) if in_memory else VideoSource(SAMPLE_VIDEO, fps=fps)).start()
        # Each job window gets an empty user store of its own: its unit has no image yet.
        window_config = config.replace(store=tempfile.mkdtemp(prefix="deepvis-window-fps-"),
                                       auto_unit_images=True) if job else config
        window = MainWindow(window_config, loaded, source, layer=layer.name, unit=args.unit)
        counter = getattr(window, "live", window)  # the Live mode, or an older window itself
        window.resize(config.window.width, config.window.height)
        window.show()
        try:
            live(2.0)  # start-up and the first frames are not counted
            if job and counter.unit_jobs.task is None:
                raise SystemExit(f"no unit image started for {layer.name}:{args.unit}: it has one already")
            shown, start = counter.frames_displayed, time.perf_counter()
            began: list[float] = []
            each = (lambda: keep_a_job_running(counter)) if job else None
            if accent:
                each = lambda: keep_accentuating(counter, began)  # noqa: E731
            live(args.seconds, each)
            if accent and len(first_results) < len(began):
                first_results.append(time.perf_counter() - began[-1])  # none within the slice: counted as that
            return (counter.frames_displayed - shown) / (time.perf_counter() - start)
        finally:
            window.shutdown()
            window.close()
            source.stop()

    if args.job_rest is not None:
        from deepvis.gui import unit_jobs

        unit_jobs.BACKGROUND_REST = args.job_rest
    rows = []
    for index in range(args.slices):
        ceiling = displayed_fps(args.ceiling_fps, in_memory=True)
        paced = displayed_fps(args.source_fps)
        bench = bench_on_a_thread()
        pipeline = bench["pipeline_fps"]
        row = {"slice": index, "ceiling_fps": round(ceiling, 2), "paced_fps": round(paced, 2),
               "pipeline_fps": pipeline, "forward_fps": bench["forward_fps"],
               "ceiling_ratio": round(ceiling / pipeline, 3),
               "paced_ratio": round(paced / min(args.source_fps, pipeline), 3)}
        if args.unit_job:
            with_job = displayed_fps(args.ceiling_fps, job=True, in_memory=True)
            paced_with_job = displayed_fps(args.source_fps, job=True)
            row.update(job_fps=round(with_job, 2), job_ratio=round(with_job / ceiling, 3),
                       paced_job_fps=round(paced_with_job, 2), paced_job_ratio=round(paced_with_job / paced, 3),
                       units_computed=len(job_seconds))
        if args.accentuation:
            with_accent = displayed_fps(args.ceiling_fps, in_memory=True, accent=True)
            paced_with_accent = displayed_fps(args.source_fps, accent=True)
            row.update(accent_fps=round(with_accent, 2), accent_ratio=round(with_accent / ceiling, 3),
                       paced_accent_fps=round(paced_with_accent, 2),
                       paced_accent_ratio=round(paced_with_accent / paced, 3), accentuations=len(accent_runs))
        rows.append(row)
        print(json.dumps(row), flush=True)
    keys = ["ceiling_fps", "paced_fps", "pipeline_fps", "ceiling_ratio", "paced_ratio"]
    keys += ["job_fps", "job_ratio", "paced_job_fps", "paced_job_ratio"] if args.unit_job else []
    keys += ["accent_fps", "accent_ratio", "paced_accent_fps", "paced_accent_ratio"] if args.accentuation else []
    summary = {key: round(statistics.median(r[key] for r in rows), 3) for key in keys}
    if first_results:
        summary["first_result_seconds"] = round(statistics.median(first_results), 2)
        summary["first_result_max_seconds"] = round(max(first_results), 2)
    if accent_runs:
        summary["accentuation_seconds"] = round(statistics.median(accent_runs), 2)
    if job_seconds:
        summary["job_seconds"] = round(statistics.median(job_seconds), 2)
    print(json.dumps({"median": summary}))


if __name__ == "__main__":
    main()
