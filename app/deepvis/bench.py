"""`deepvis bench`: the headless pipeline against the bare model, in one run.

pipeline_fps counts whole frames: take the source's latest frame, preprocess,
forward with capture, render the grid and panes, move them to the host.
forward_fps times the bare model on the same input, with no hooks.
With --backprop, the pipeline also runs frames with that backprop mode on:
backprop_ratio = backprop_pipeline_fps / pipeline_fps.
With --unit-image, unit_image_s is the median time of the image the window computes by itself
for a unit without one (the lucid preset at the background's steps and size, on one CPU thread
as the window's job runs), over the selected unit and the next two.

All of them are timed in one loop that takes their frames in turn, and each
rate is that of its median frame: on a shared machine a burst of load then
hits every measurement alike, and a single stalled frame does not count.
"""

from __future__ import annotations

import platform
import time
from statistics import median
from typing import Callable

import torch

from deepvis import DeepvisError
from deepvis.device import sync_device
from deepvis.paths import SAMPLE_VIDEO
from deepvis.live.pipeline import Pipeline, ViewState
from deepvis.render import as_maps
from deepvis.sources import open_source
from deepvis.zoo import Layer, LoadedModel


def time_in_turn(tasks: dict[str, Callable[[], dict[str, float] | None]], frames: int, device: torch.device,
                 warmup: int = 3) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Run each task once per round, `frames` rounds: frames per second of each task's median
    frame, and the median milliseconds of the stages each task reports."""
    for _ in range(warmup):
        for task in tasks.values():
            task()
    seconds: dict[str, list[float]] = {name: [] for name in tasks}
    stages: dict[str, dict[str, list[float]]] = {name: {} for name in tasks}
    for _ in range(frames):
        for name, task in tasks.items():
            sync_device(device)
            start = time.perf_counter()
            timings = task()
            sync_device(device)
            seconds[name].append(time.perf_counter() - start)
            for stage, ms in (timings or {}).items():
                stages[name].setdefault(stage, []).append(ms)
    fps = {name: 1.0 / median(values) for name, values in seconds.items()}
    stage_ms = {name: {stage: round(median(v), 3) for stage, v in per.items()} for name, per in stages.items()}
    return fps, stage_ms


def time_unit_images(loaded: LoadedModel, layer: Layer, unit: int, count: int = 3) -> dict:
    """Seconds of the background unit image of `count` units from `unit` on, into a throwaway store."""
    import tempfile

    from deepvis.device import one_cpu_thread
    from deepvis.unitvis.ondemand import BACKGROUND_SIZE, BACKGROUND_STEPS, compute_unit
    from deepvis.unitvis.store import UnitStore

    seconds = []
    with tempfile.TemporaryDirectory() as folder, one_cpu_thread():
        store = UnitStore(folder, loaded.name)
        for index in range(unit, unit + count):
            start = time.perf_counter()
            compute_unit(loaded, layer.name, index, store, steps=BACKGROUND_STEPS, size=BACKGROUND_SIZE)
            seconds.append(time.perf_counter() - start)
    return {"unit_image_s": round(median(seconds), 2), "unit_image_each_s": [round(s, 2) for s in seconds],
            "unit_image_steps": BACKGROUND_STEPS, "unit_image_size": BACKGROUND_SIZE}


def run_bench(loaded: LoadedModel, layer: Layer, frames: int = 100, source: str | None = None,
              unit: int = 0, backprop: str | None = None, top_frames: bool = False,
              unit_image: bool = False) -> dict:
    if frames < 1:
        raise DeepvisError("--frames must be at least 1")
    src = open_source(source or str(SAMPLE_VIDEO)).start()
    try:
        if src.wait_new(-1, timeout=10.0) is None:
            raise DeepvisError(f"no frame could be read from {source or SAMPLE_VIDEO}")
        pipeline = Pipeline(loaded)
        view = ViewState(layer=layer.name, unit=unit)
        x = pipeline.probe.preprocess(src.latest().rgb)
        width = as_maps(pipeline.probe.forward(x, only=[layer.name]).activations[layer.name]).shape[0]
        if not 0 <= unit < width:  # before any timing: a unit that does not exist times nothing real
            raise DeepvisError(f"--unit {unit}: layer {layer.name} has units 0-{width - 1}")

        def bare_forward():
            with torch.no_grad():
                loaded.model(x)

        def pipeline_frame(view: ViewState):
            start = time.perf_counter()
            frame = src.latest()
            source_ms = (time.perf_counter() - start) * 1000.0
            return {"source": source_ms, **pipeline.process(frame.rgb, view, frame.index).timings_ms}

        tasks = {"forward": bare_forward, "pipeline": lambda: pipeline_frame(view)}
        if top_frames:  # the same pipeline keeping every unit's live top-9
            tracking = Pipeline(loaded, track_top_frames=True)

            def tracked_frame():
                frame = src.latest()
                return tracking.process(frame.rgb, view, frame.index).timings_ms

            tasks["top_frames"] = tracked_frame
        if backprop:
            backprop_view = view.with_changes(backprop=backprop)
            tasks["backprop"] = lambda: pipeline_frame(backprop_view)
        fps, stage_ms = time_in_turn(tasks, frames, loaded.device)
        report = {
            "model": loaded.name,
            "device": str(loaded.device),
            "layer": layer.name,
            "frames": frames,
            "pipeline_fps": round(fps["pipeline"], 2),
            "forward_fps": round(fps["forward"], 2),
            "ratio": round(fps["pipeline"] / fps["forward"], 3),
            "ms": stage_ms["pipeline"],
            "torch_threads": torch.get_num_threads(),
            "cpu": platform.processor() or platform.machine(),
        }
        if top_frames:
            report.update({"top_frames_fps": round(fps["top_frames"], 2),
                           "top_frames_ratio": round(fps["top_frames"] / fps["pipeline"], 3)})
        if backprop:
            report.update({"backprop": backprop, "backprop_pipeline_fps": round(fps["backprop"], 2),
                           "backprop_ratio": round(fps["backprop"] / fps["pipeline"], 3),
                           "backprop_ms": stage_ms["backprop"]})
        if unit_image:
            report.update(time_unit_images(loaded, layer, unit))
        return report
    finally:
        src.stop()
