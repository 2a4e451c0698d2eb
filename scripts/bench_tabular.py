"""Every neuron of a 16-wide layer at once against one neuron at a time, same run, same numbers.

Trains the default MLP (16-8, softplus) on a bundled table, then times integrated gradients
(64 steps, from the low baseline) to all 16 neurons of h1 on the test rows: one batched call
(explain.integrated_gradients) against a loop calling explain.integrated_gradients_one_neuron for
each neuron (one backward pass each, the way per-neuron tools do it). The two are timed in
alternation; the medians are compared. Prints one line per table and a JSON summary.

    python scripts/bench_tabular.py [--tables wine diabetes] [--repeats 30] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from deepvis.tabular.data import load_table
from deepvis.tabular.explain import (
    TrainedTable, attribute_layer, integrated_gradients, integrated_gradients_one_neuron,
)
from deepvis.tabular.train import Trainer, TrainSpec


def bench(name: str, repeats: int, steps: int) -> dict:
    trainer = Trainer(load_table(data=name), TrainSpec())
    trainer.train()
    trained = TrainedTable(trainer.model, trainer.table, trainer.encoding, trainer.train_rows, trainer.test_rows)
    model, layer = trained.model, 0  # h1, 16 neurons
    x = trained.x[torch.from_numpy(trained.test_rows)]
    baseline = trained.baseline()
    width = model.sizes[layer + 1]

    def batched():
        return integrated_gradients(model, layer, x, baseline, steps)

    def loop():
        return torch.stack([integrated_gradients_one_neuron(model, layer, x, baseline, j, steps)
                            for j in range(width)], 1)

    batched(), loop()  # warm up
    times = {"batched": [], "loop": []}
    for _ in range(repeats):
        for label, fn in (("batched", batched), ("loop", loop)):
            start = time.perf_counter()
            result = fn()
            times[label].append(time.perf_counter() - start)
            if label == "batched":
                fast = result
            else:
                slow = result
    b, l = statistics.median(times["batched"]), statistics.median(times["loop"])
    completeness = attribute_layer(model, layer, x, baseline, trained.groups, "ig", steps).completeness_error()
    return {"table": name, "rows": len(x), "neurons": width, "columns": x.shape[1], "steps": steps,
            "batched_ms": b * 1e3, "loop_ms": l * 1e3, "ratio": l / b,
            "max_abs_difference": float((fast - slow).abs().max()), "completeness_error": completeness}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", nargs="+", default=["wine", "diabetes"])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--steps", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1: tiny networks)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results = []
    for name in args.tables:
        r = bench(name, args.repeats, args.steps)
        results.append(r)
        print(f"{name}: h1 ({r['neurons']} neurons) x {r['rows']} test rows x {r['columns']} columns, "
              f"{r['steps']} steps: batched {r['batched_ms']:.2f} ms, loop {r['loop_ms']:.2f} ms, "
              f"ratio {r['ratio']:.1f}x, max |difference| {r['max_abs_difference']:.1e}, "
              f"completeness error {r['completeness_error']:.1e}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
