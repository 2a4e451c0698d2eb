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
take_turns is that loop; the comparisons in scripts/ time their arms with it too.
"""

from __future__ import annotations

import platform
import time
from pathlib import Path
from dataclasses import dataclass, field
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


@dataclass
class Turns:
    """One arm's timings, a value per timed round: wall and CPU seconds, and what it returned."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    results: list = field(default_factory=list)

    def spread(self, scale: float = 1.0) -> dict[str, dict[str, float]]:
        """Median, min and max of the wall and CPU seconds, times `scale` (1000 for ms)."""
        return {"wall": spread(self.wall, scale), "cpu": spread(self.cpu, scale)}


def spread(values: list[float], scale: float = 1.0) -> dict[str, float]:
    return {"median": median(values) * scale, "min": min(values) * scale, "max": max(values) * scale}


def cpu_name() -> str:
    """The processor's model name (Linux), else what the platform module knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_facts() -> dict:
    """What a measurement ran on, for a script's report: date, CPU, cores, torch and its threads, load."""
    import datetime
    import os

    return {"date": datetime.date.today().isoformat(), "cpu": cpu_name(), "cores": os.cpu_count(),
            "torch": torch.__version__, "threads": torch.get_num_threads(),
            "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None}


def take_turns(arms: dict[str, Callable[[], object]], rounds: int, warmup: int = 1,
               device: torch.device | None = None, wall_clock: Callable[[], float] = time.perf_counter,
               cpu_clock: Callable[[], float] = time.process_time) -> dict[str, Turns]:
    """Every arm once per round, in turn (A, B, A, B, ...), `rounds` timed rounds after `warmup`
    untimed ones: a change in the machine's load then falls on every arm alike, which timing one
    arm's runs after the other's does not give.

    Wall seconds from perf_counter; CPU seconds from process_time, the CPU time of every thread of
    the process, so that it counts the work of torch's and BLAS's helper threads as well (thread_time
    would see the calling thread's only). CPU time leaves out the time spent waiting for a core that
    another process holds; it still counts a thread pool's spinning, so arms compared on it should
    run with the same thread count (the scripts set one for both). Clocks can be swapped for tests.
    """
    if rounds < 1:
        raise DeepvisError(f"rounds must be at least 1, not {rounds}")
    for _ in range(warmup):
        for arm in arms.values():
            arm()
    turns = {name: Turns() for name in arms}
    for _ in range(rounds):
        for name, arm in arms.items():
            if device is not None:
                sync_device(device)
            wall, cpu = wall_clock(), cpu_clock()
            result = arm()
            if device is not None:
                sync_device(device)
            turns[name].cpu.append(cpu_clock() - cpu)
            turns[name].wall.append(wall_clock() - wall)
            turns[name].results.append(result)
    return turns


def ratio_of_medians(turns: dict[str, Turns], slower: str, faster: str) -> dict[str, float]:
    """How many times `faster` is faster than `slower`: the ratio of their median seconds, wall and CPU."""
    return {clock: median(getattr(turns[slower], clock)) / median(getattr(turns[faster], clock))
            for clock in ("wall", "cpu")}


def rounded(value, digits: int = 4):
    """Floats anywhere in nested dicts and lists rounded to `digits` significant digits, for printing."""
    if isinstance(value, float):
        return float(f"{value:.{digits}g}")
    if isinstance(value, dict):
        return {key: rounded(v, digits) for key, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [rounded(v, digits) for v in value]
    return value


def spread_text(values: list[float], scale: float = 1.0, digits: int = 2) -> str:
    """'median (min-max)', for a script's printed line."""
    s = spread(values, scale)
    return f"{s['median']:.{digits}f} ({s['min']:.{digits}f}-{s['max']:.{digits}f})"


def time_in_turn(tasks: dict[str, Callable[[], dict[str, float] | None]], frames: int, device: torch.device,
                 warmup: int = 3) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Run each task once per round, `frames` rounds: frames per second of each task's median
    frame, and the median milliseconds of the stages each task reports."""
    turns = take_turns(tasks, frames, warmup, device)
    fps = {name: 1.0 / median(t.wall) for name, t in turns.items()}
    stage_ms = {}
    for name, t in turns.items():
        stages: dict[str, list[float]] = {}
        for timings in t.results:
            for stage, ms in (timings or {}).items():
                stages.setdefault(stage, []).append(ms)
        stage_ms[name] = {stage: round(median(v), 3) for stage, v in stages.items()}
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
