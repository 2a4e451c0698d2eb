"""`deepvis digits sweep` against scikit-learn's MLPClassifier, timed in one run.

Both train 784-H-10 sigmoid (logistic) MLPs with softmax outputs on the same MNIST-5k split
(4000 / 1000), with plain mini-batch SGD (no momentum), the same hidden sizes, seeds, epochs,
batch size and learning rate, and no L2 (sklearn alpha=0). scikit-learn keeps its own
(Glorot) initialization; deepvis uses N(0,1)/sqrt(fan-in). Prints one JSON object.

    python scripts/bench_digits.py [--hidden 30 10 5 4 3 2] [--seeds 3] [--epochs 30]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from deepvis.digits.data import load_split
from deepvis.digits.nets import MLPSpec
from deepvis.digits.sweep import SweepPlan, run_sweep
from deepvis.digits.train import SGDSettings


def time_deepvis(hiddens, seeds, settings) -> tuple[float, dict]:
    plan = SweepPlan(tuple(hiddens), tuple(seeds), MLPSpec(), settings)
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        summary = run_sweep(plan, Path(out))
        seconds = time.perf_counter() - started
    return seconds, {row["hidden"]: row["mean"] for row in summary["by_hidden"]}


def time_sklearn(hiddens, seeds, settings) -> tuple[float, dict]:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    data = load_split()
    accuracy: dict[int, list[float]] = {}
    started = time.perf_counter()
    for hidden in hiddens:
        for seed in seeds:
            model = MLPClassifier((hidden,), activation="logistic", solver="sgd", alpha=0.0,
                                  batch_size=settings.batch_size, learning_rate="constant",
                                  learning_rate_init=settings.lr, momentum=0.0, nesterovs_momentum=False,
                                  max_iter=settings.epochs, tol=0.0, n_iter_no_change=settings.epochs + 1,
                                  shuffle=True, random_state=seed)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                model.fit(data.train_x, data.train_y)
            accuracy.setdefault(hidden, []).append(float(model.score(data.test_x, data.test_y)))
    seconds = time.perf_counter() - started
    return seconds, {h: float(np.mean(a)) for h, a in accuracy.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, nargs="+", default=[30, 10, 5, 4, 3, 2])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=10)
    parser.add_argument("--lr", type=float, default=0.5)
    args = parser.parse_args()
    settings = SGDSettings(args.epochs, args.batch_size, args.lr)
    seeds = list(range(args.seeds))
    load_split()  # read and cached before either clock starts
    ours, our_acc = time_deepvis(args.hidden, seeds, settings)
    theirs, their_acc = time_sklearn(args.hidden, seeds, settings)
    rows = [{"hidden": h, "deepvis": round(our_acc[h], 4), "sklearn": round(their_acc[h], 4),
             "difference_points": round(100 * (our_acc[h] - their_acc[h]), 2)} for h in args.hidden]
    print(json.dumps({
        "runs": len(args.hidden) * len(seeds), "epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr,
        "deepvis_seconds": round(ours, 2), "sklearn_seconds": round(theirs, 2),
        "speedup": round(theirs / ours, 2), "mean_accuracy": rows,
        "overall_deepvis": round(float(np.mean(list(our_acc.values()))), 4),
        "overall_sklearn": round(float(np.mean(list(their_acc.values()))), 4),
    }, indent=2))


if __name__ == "__main__":
    main()
