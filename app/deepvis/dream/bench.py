"""DeepDream's speed against the bare work it is made of: forward to the layer and backward.

Both run in one process on the same octave sizes and step counts: the bare
steps read the same layer (the forward stopped there) and take the gradient of
the same objective at the input, with no roll, no normalization and no update.
The bare steps run before and after the dream and are averaged, so that a
machine whose load drifts during the run does not favour either side.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from deepvis.device import sync_device
from deepvis.dream.ascent import dream_objective
from deepvis.dream.deepdream import DreamSettings, dream, octave_sizes
from deepvis.zoo import Layer, LoadedModel


def bare_seconds(loaded: LoadedModel, objective, sizes: list[tuple[int, int]], steps: int) -> float:
    """Seconds for `steps` forward+backward passes at each size."""
    generator = torch.Generator().manual_seed(0)
    sync_device(loaded.device)
    start = time.perf_counter()
    for height, width in sizes:
        x = torch.rand(1, 3, height, width, generator=generator).to(loaded.device).requires_grad_(True)
        for _ in range(steps):
            value = objective(loaded.model, x)
            torch.autograd.grad(value.sum(), [x])
    sync_device(loaded.device)
    return time.perf_counter() - start


def bench_dream(loaded: LoadedModel, rgb: np.ndarray, layer: Layer, unit: int | None,
                settings: DreamSettings) -> tuple[dict, object]:
    """The report (one JSON-able dict) and the dream's result."""
    objective = dream_objective(loaded, layer, unit)
    sizes = octave_sizes(*rgb.shape[:2], settings)
    bare_seconds(loaded, objective, sizes[:1], 1)  # warm-up: first-call allocations
    before = bare_seconds(loaded, objective, sizes, settings.steps)
    sync_device(loaded.device)
    start = time.perf_counter()
    result = dream(loaded, rgb, layer, unit, settings)
    sync_device(loaded.device)
    dreaming = time.perf_counter() - start
    after = bare_seconds(loaded, objective, sizes, settings.steps)
    bare = (before + after) / 2
    steps = settings.total_steps
    report = {
        "model": loaded.name, "layer": layer.name, "unit": unit, "device": str(loaded.device),
        "size": [int(rgb.shape[1]), int(rgb.shape[0])], "octaves": settings.octaves, "steps": steps,
        "dream_steps_per_s": steps / dreaming, "bare_steps_per_s": steps / bare,
        "speed_ratio": bare / dreaming, "objective_ratio": result.ratio,
    }
    return report, result
