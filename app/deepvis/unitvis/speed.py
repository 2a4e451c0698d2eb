"""Speed checks that the CLI can re-run (`--compare-forward`, `--compare-single N`).

Ratios of interleaved runs in one process, so a busy machine slows both alike.
"""

from __future__ import annotations

import time
from typing import Sequence

import torch

from deepvis.device import sync_device
from deepvis.unitvis.optimize import Preset, optimize_units
from deepvis.unitvis.topk import ImageFiles, Scanner, _worker_init
from deepvis.zoo import Layer, LoadedModel


def compare_scan(loaded: LoadedModel, layers: Sequence[Layer], files, k: int, batch_size: int, workers: int,
                 batches: int = 6, rounds: int = 2) -> dict:
    """Images/s of the top-k scan (loading, forward with the reducing hooks, merging) against the
    bare batched forward of the whole model on the same images, already in memory."""
    card = loaded.card
    n = min(len(files), batches * batch_size)
    dataset = ImageFiles(files, range(n), card.input_size, card.mean, card.std)
    preloaded = [torch.stack([dataset[i][0] for i in range(s, min(s + batch_size, n))]).to(loaded.device)
                 for s in range(0, n, batch_size)]
    scan_rates, forward_rates = [], []
    for _ in range(rounds):
        scanner = Scanner(loaded, layers, k)
        loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, num_workers=workers,
                                             worker_init_fn=_worker_init if workers else None)
        start = time.perf_counter()
        for x, images, valid in loader:
            scanner.feed(x, images, valid)
        sync_device(loaded.device)
        scan_rates.append(n / (time.perf_counter() - start))
        start = time.perf_counter()
        with torch.inference_mode():
            for x in preloaded:
                loaded.model(x)
        sync_device(loaded.device)
        forward_rates.append(n / (time.perf_counter() - start))
    scan_rate, forward_rate = sum(scan_rates) / rounds, sum(forward_rates) / rounds
    return {"images": n, "batch_size": batch_size, "workers": workers, "rounds": rounds,
            "scan_images_per_s": round(scan_rate, 2), "forward_images_per_s": round(forward_rate, 2),
            "ratio": round(scan_rate / forward_rate, 3),
            "scan_stops_after_last_layer": all(l.path != "" for l in layers),
            "device": str(loaded.device), "torch_threads": torch.get_num_threads()}


def compare_single(loaded: LoadedModel, layer: Layer, units: Sequence[int] | None, preset: Preset, n: int,
                   batch_size: int, size: int | None, use_pre: bool) -> dict:
    """Units/s of one batch of n units against the same n units one at a time (nothing is saved).

    Order: batched, one at a time, batched again (the two batched runs averaged).
    """
    chosen = list(units or range(n))[:n]
    chosen = chosen[: max(1, min(len(chosen), batch_size))]

    def batched() -> float:
        start = time.perf_counter()
        optimize_units(loaded, layer, chosen, preset, size=size, use_pre=use_pre)
        sync_device(loaded.device)
        return len(chosen) / (time.perf_counter() - start)

    first = batched()
    start = time.perf_counter()
    for unit in chosen:
        optimize_units(loaded, layer, [unit], preset, size=size, use_pre=use_pre)
    sync_device(loaded.device)
    single = len(chosen) / (time.perf_counter() - start)
    second = batched()
    rate = (first + second) / 2
    return {"layer": layer.name, "units": len(chosen), "preset": preset.name, "steps": preset.steps,
            "size": size or loaded.card.input_size, "batched_units_per_s": round(rate, 4),
            "single_units_per_s": round(single, 4), "speedup": round(rate / single, 3),
            "device": str(loaded.device), "torch_threads": torch.get_num_threads()}
