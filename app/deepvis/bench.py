"""`deepvis bench`: the headless pipeline against the bare model, in one run.

pipeline_fps counts whole frames: take the source's latest frame, preprocess,
forward with capture, render the grid and panes, move them to the host.
forward_fps times the bare model on the same input, with no hooks.
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
        bp_a, bp_stages = time_pipeline(pipeline, src, bp_view, half) if bp_view else (None, None)
        fwd_b = time_forward(loaded, x, frames - half) if frames > 1 else fwd_a
        pipe_b, _ = time_pipeline(pipeline, src, view, frames - half) if frames > 1 else (pipe_a, None)
        bp_b = time_pipeline(pipeline, src, bp_view, frames - half)[0] if bp_view and frames > 1 else bp_a
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
            bp_fps = (bp_a + bp_b) / 2
            report.update({"backprop": backprop, "backprop_pipeline_fps": round(bp_fps, 2),
                           "backprop_ratio": round(bp_fps / pipeline_fps, 3), "backprop_ms": bp_stages})
        return report
    finally:
        src.stop()
