"""Every neuron of a 16-wide layer at once against one neuron at a time, same run, same numbers.

Trains the default MLP (16-8, softplus) on a bundled table, then times integrated gradients
(64 midpoint steps, from the low baseline) to all 16 neurons of h1 on the test rows, three ways:
- batched: one call of explain.integrated_gradients (the layer's Jacobian from batched matrix products);
- loop: explain.integrated_gradients_one_neuron for each neuron, one backward pass each;
- captum: Captum's NeuronIntegratedGradients (riemann_middle, the same 64 midpoints) for each neuron,
  hooked on h1's own activation module (left out when Captum is not installed: the `compare` extra).
The arms take turns, round after round, on the same torch thread count (deepvis.bench.take_turns:
wall seconds and process CPU seconds); each arm's median and range are printed, and the ratios of
the medians. Also printed: the largest difference between the arms' numbers, and the completeness
error of the batched attributions (tests/test_tabular.py asserts it under 1%).

    python scripts/bench_tabular.py [--tables wine diabetes] [--rounds 10] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import warnings

import torch

from deepvis.bench import ratio_of_medians, rounded, spread_text, take_turns
from deepvis.tabular.data import load_table
from deepvis.tabular.explain import (
    TrainedTable, attribute_layer, integrated_gradients, integrated_gradients_one_neuron,
)
from deepvis.tabular.train import Trainer, TrainSpec


def captum_arm(model, layer: int, x: torch.Tensor, baseline: torch.Tensor, steps: int):
    """Captum's per-neuron integrated gradients for every neuron of the layer, or None without Captum."""
    try:
        from captum.attr import NeuronIntegratedGradients
    except ImportError:
        return None
    method = NeuronIntegratedGradients(model, model.activations[layer])

    def loop():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return torch.stack([method.attribute(x, j, baselines=baseline[None], n_steps=steps,
                                                 method="riemann_middle")
                                for j in range(model.sizes[layer + 1])], 1)

    return loop


def bench(name: str, rounds: int, steps: int, with_captum: bool) -> dict:
    trainer = Trainer(load_table(data=name), TrainSpec())
    trainer.train()
    trained = TrainedTable(trainer.model, trainer.table, trainer.encoding, trainer.train_rows, trainer.test_rows)
    model, layer = trained.model.eval().requires_grad_(False), 0  # h1, 16 neurons
    x = trained.x[torch.from_numpy(trained.test_rows)]
    baseline = trained.baseline()
    width = model.sizes[layer + 1]

    arms = {
        "batched": lambda: integrated_gradients(model, layer, x, baseline, steps),
        "loop": lambda: torch.stack([integrated_gradients_one_neuron(model, layer, x, baseline, j, steps)
                                     for j in range(width)], 1),
    }
    captum = captum_arm(model, layer, x, baseline, steps) if with_captum else None
    if captum is not None:
        arms["captum"] = captum
    turns = take_turns(arms, rounds)
    fast = turns["batched"].results[-1]
    completeness = attribute_layer(model, layer, x, baseline, trained.groups, "ig", steps).completeness_error()
    return {
        "table": name, "rows": len(x), "neurons": width, "columns": x.shape[1], "steps": steps, "rounds": rounds,
        "threads": torch.get_num_threads(),
        "ms": {arm: t.spread(scale=1e3) for arm, t in turns.items()},
        "ms_each": {arm: {"wall": t.wall, "cpu": t.cpu} for arm, t in turns.items()},
        "times_faster": {arm: ratio_of_medians(turns, arm, "batched") for arm in arms if arm != "batched"},
        "max_abs_difference": {arm: float((turns[arm].results[-1] - fast).abs().max())
                               for arm in arms if arm != "batched"},
        "completeness_error": completeness, "completeness_tested_below": 0.01,
    }, turns


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", nargs="+", default=["wine", "diabetes"])
    parser.add_argument("--rounds", type=int, default=10, help="timed rounds, every arm once a round (default 10)")
    parser.add_argument("--steps", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1, help="torch threads, the same for every arm (default 1)")
    parser.add_argument("--no-captum", action="store_true", help="leave Captum's arm out")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results = []
    for name in args.tables:
        r, turns = bench(name, args.rounds, args.steps, not args.no_captum)
        results.append(r)
        print(f"{name}: h1 ({r['neurons']} neurons) x {r['rows']} test rows x {r['columns']} columns, "
              f"{r['steps']} steps, {r['rounds']} rounds, {r['threads']} thread(s); ms, median (min-max):")
        for arm, t in turns.items():
            faster = r["times_faster"].get(arm)
            versus = (f"; batched is {faster['wall']:.0f}x faster by wall, {faster['cpu']:.0f}x by CPU, "
                      f"max |difference| {r['max_abs_difference'][arm]:.1e}") if faster else ""
            print(f"  {arm}: wall {spread_text(t.wall, 1e3)}, CPU {spread_text(t.cpu, 1e3)}{versus}")
        print(f"  completeness error of the batched attributions: {r['completeness_error']:.1e} "
              f"(tested below {r['completeness_tested_below']:.0%})")
    print(json.dumps(rounded(results)))


if __name__ == "__main__":
    main()
