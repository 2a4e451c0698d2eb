"""`deepvis learn --bench`: training steps/s alone and with every view computed at 30/s;
`--bench landscape`: the time of one loss landscape.

Both are measured in the same run, in alternating slices, so that a machine busy with
something else slows both alike; the ratio is the price of watching. Rates per CPU-second
of the training thread are given too: they do not fall when other processes share the cores
(cpu_share says how much of the wall time the thread got).
"""

from __future__ import annotations

import platform
from typing import Callable

import torch

from deepvis.device import sync_device
from deepvis.learn.loop import VIEW_RATE, LiveTraining

SLICES = 6


def run_bench(live: LiveTraining, seconds: float = 6.0, view_rate: float = VIEW_RATE,
              progress: Callable[[int, int], None] | None = None) -> dict:
    """The two rates, measured in alternating slices; progress(slices done, slices) after each."""
    live.view_interval = 1.0 / view_rate
    live.run_for(0.3, with_views=True)  # warm-up: first calls allocate
    device = live.trainer.device
    totals = {False: {"seconds": 0.0, "cpu_seconds": 0.0, "steps": 0},
              True: {"seconds": 0.0, "cpu_seconds": 0.0, "steps": 0}}
    updates = view_ms = 0.0
    for i in range(SLICES * 2):
        with_views = i % 2 == 1
        part = live.run_for(seconds / (SLICES * 2), with_views)
        sync_device(device)
        totals[with_views]["seconds"] += part["seconds"]
        totals[with_views]["cpu_seconds"] += part["cpu_seconds"]
        totals[with_views]["steps"] += part["steps"]
        if with_views:
            updates += part["view_updates_per_s"] * part["seconds"]
            view_ms += part["view_ms"] * part["view_updates_per_s"] * part["seconds"]
        if progress is not None:
            progress(i + 1, SLICES * 2)
    alone = totals[False]["steps"] / totals[False]["seconds"]
    watched = totals[True]["steps"] / totals[True]["seconds"]
    alone_cpu = totals[False]["steps"] / max(totals[False]["cpu_seconds"], 1e-9)
    watched_cpu = totals[True]["steps"] / max(totals[True]["cpu_seconds"], 1e-9)
    trainer = live.trainer
    return {
        "network": trainer.spec.describe(),
        "data": trainer.dataset.name,
        "train_points": len(trainer.dataset.y_train),
        "optimizer": trainer.settings.optimizer,
        "batch": trainer.settings.batch_size or "full",
        "device": str(device),
        "torch_threads": torch.get_num_threads(),
        "cpu": platform.processor() or platform.machine(),
        "train_steps_per_s": round(alone, 1),
        "with_views_steps_per_s": round(watched, 1),
        "ratio": round(watched / alone, 3),
        "train_steps_per_cpu_s": round(alone_cpu, 1),
        "with_views_steps_per_cpu_s": round(watched_cpu, 1),
        "cpu_share": round((totals[False]["cpu_seconds"] + totals[True]["cpu_seconds"])
                           / (totals[False]["seconds"] + totals[True]["seconds"]), 2),
        "view_updates_per_s": round(updates / totals[True]["seconds"], 1),
        "view_ms": round(view_ms / updates, 2) if updates else None,
        "seconds": round(totals[False]["seconds"] + totals[True]["seconds"], 1),
        "failure": trainer.failure,
    }


def run_landscape_bench(trainer, steps: int, grid: int, threads: int, repeats: int = 5) -> dict:
    """The loss landscape's time: train `steps` (a snapshot every N, the path), then compute the
    landscape around the last snapshot `repeats` times with `threads` torch threads and with one.
    Wall and process CPU seconds are both given: on a machine shared with other work the wall
    time grows with the load, the CPU time far less."""
    import os
    import statistics
    import time

    from deepvis.learn.landscape import LandscapeComputer

    path = list(trainer.run(steps))
    computer = LandscapeComputer(trainer.dataset, trainer.spec, trainer.device, grid, seed=trainer.settings.seed)
    timings = {}
    before = torch.get_num_threads()
    try:
        for count in sorted({threads, 1}, reverse=True):
            torch.set_num_threads(count)
            computer.compute(path[-1], path)  # warm-up: first calls allocate
            walls, cpus = [], []
            for _ in range(repeats):
                wall, cpu = time.perf_counter(), time.process_time()
                landscape = computer.compute(path[-1], path)
                sync_device(trainer.device)
                walls.append(time.perf_counter() - wall)
                cpus.append(time.process_time() - cpu)
            timings[count] = (statistics.median(walls), statistics.median(cpus))
    finally:
        torch.set_num_threads(before)
    return {
        "network": trainer.spec.describe(),
        "data": trainer.dataset.name,
        "train_points": len(trainer.dataset.y_train),
        "parameters": trainer.network.n_parameters,
        "grid": f"{grid}x{grid}",
        "path_points": len(path),
        "device": str(trainer.device),
        "dtype": str(computer.dtype).removeprefix("torch."),
        "cpu": platform.processor() or platform.machine(),
        "load_average": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "repeats": repeats,
        **{f"seconds_{count}_threads": round(wall, 3) for count, (wall, _) in timings.items()},
        **{f"cpu_seconds_{count}_threads": round(cpu, 3) for count, (_, cpu) in timings.items()},
        "centre_loss": landscape.centre_loss,
        "train_loss": path[-1].train_loss,
    }
