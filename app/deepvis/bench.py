"""`deepvis bench`: the headless pipeline against the bare model, in one run.

pipeline_fps counts whole frames: take the source's latest frame, preprocess,
forward with capture, render the grid and panes, move them to the host.
forward_fps times the bare model on the same input, with no hooks.
With --backprop, backprop_ratio = backprop_pipeline_fps / backprop_baseline_fps,
both timed in one loop that alternates a backprop frame with a forward-only one,
as frames per second of the median frame (robust to a shared machine's spikes).
"""

from __future__ import annotations

import platform
import time
from statistics import median

import torch

from deepvis import DeepvisError
from deepvis.paths import SAMPLE_VIDEO
from deepvis.pipeline import Pipeline, ViewState
from deepvis.sources import open_source
from deepvis.zoo import Layer, LoadedModel


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_forward(loaded: LoadedModel, x: torch.Tensor, frames: int) -> float:
    """Frames per second of the bare model (no hooks, no rendering)."""
    with torch.no_grad():
        for _ in range(3):
            loaded.model(x)
        _sync(loaded.device)
        start = time.perf_counter()
        for _ in range(frames):
            loaded.model(x)
        _sync(loaded.device)
    return frames / (time.perf_counter() - start)


def time_pipeline(pipeline: Pipeline, source, view: ViewState, frames: int) -> tuple[float, dict[str, float]]:
    """Frames per second of the whole pipeline, and the median milliseconds of each stage."""
    stages: dict[str, list[float]] = {}
    for _ in range(3):
        pipeline.process(source.latest().rgb, view)
    _sync(pipeline.loaded.device)
    start = time.perf_counter()
    for i in range(frames):
        t = time.perf_counter()
        frame = source.latest()
        stages.setdefault("source", []).append((time.perf_counter() - t) * 1000.0)
        result = pipeline.process(frame.rgb, view, frame.index)
        for stage, ms in result.timings_ms.items():
            stages.setdefault(stage, []).append(ms)
    _sync(pipeline.loaded.device)
    fps = frames / (time.perf_counter() - start)
    return fps, {stage: round(median(values), 3) for stage, values in stages.items()}


def time_alternating(pipeline: Pipeline, source, views: tuple[ViewState, ...],
                     frames: int) -> tuple[list[float], dict[str, float]]:
    """Frames per second of each view's median frame, their frames taken in turn; the last view's median
    ms per stage."""
    for view in views:
        pipeline.process(source.latest().rgb, view)
    seconds: list[list[float]] = [[] for _ in views]
    stages: dict[str, list[float]] = {}
    for _ in range(frames):
        for i, view in enumerate(views):
            frame = source.latest()
            _sync(pipeline.loaded.device)
            start = time.perf_counter()
            result = pipeline.process(frame.rgb, view, frame.index)
            _sync(pipeline.loaded.device)
            seconds[i].append(time.perf_counter() - start)
        for stage, ms in result.timings_ms.items():
            stages.setdefault(stage, []).append(ms)
    return [1.0 / median(s) for s in seconds], {stage: round(median(values), 3) for stage, values in stages.items()}


def run_bench(loaded: LoadedModel, layer: Layer, frames: int = 100, source: str | None = None,
              unit: int = 0, backprop: str | None = None) -> dict:
    if frames < 1:
        raise DeepvisError("--frames must be at least 1")
    src = open_source(source or str(SAMPLE_VIDEO)).start()
    try:
        if src.wait_new(-1, timeout=10.0) is None:
            raise DeepvisError(f"no frame could be read from {source or SAMPLE_VIDEO}")
        pipeline = Pipeline(loaded)
        view = ViewState(layer=layer.name, unit=unit)
        x = pipeline.probe.preprocess(src.latest().rgb)
        # Interleave the two measurements so that a noisy machine affects both alike.
        half = max(1, frames // 2)
        bp_view = view.with_changes(backprop=backprop) if backprop else None
        fwd_a = time_forward(loaded, x, half)
        pipe_a, stages = time_pipeline(pipeline, src, view, half)
        fwd_b = time_forward(loaded, x, frames - half) if frames > 1 else fwd_a
        pipe_b, _ = time_pipeline(pipeline, src, view, frames - half) if frames > 1 else (pipe_a, None)
        forward_fps = (fwd_a + fwd_b) / 2
        pipeline_fps = (pipe_a + pipe_b) / 2
        report = {
            "model": loaded.name,
            "device": str(loaded.device),
            "layer": layer.name,
            "frames": frames,
            "pipeline_fps": round(pipeline_fps, 2),
            "forward_fps": round(forward_fps, 2),
            "ratio": round(pipeline_fps / forward_fps, 3),
            "ms": stages,
            "torch_threads": torch.get_num_threads(),
            "cpu": platform.processor() or platform.machine(),
        }
        if bp_view:
            # Frame by frame against the forward-only view: a shared machine's load hits both alike.
            (plain_fps, bp_fps), bp_stages = time_alternating(pipeline, src, (view, bp_view), frames)
            report.update({"backprop": backprop, "backprop_pipeline_fps": round(bp_fps, 2),
                           "backprop_baseline_fps": round(plain_fps, 2),
                           "backprop_ratio": round(bp_fps / plain_fps, 3), "backprop_ms": bp_stages})
        return report
    finally:
        src.stop()
