"""`deepvis digits sweep` against scikit-learn's MLPClassifier, the two taking turns.

Both train 784-H-10 sigmoid (logistic) MLPs with softmax outputs on the same MNIST-5k split
(4000 / 1000), with plain mini-batch SGD (no momentum), the same hidden sizes, seeds, epochs,
batch size and learning rate, and no L2 (sklearn alpha=0). scikit-learn keeps its own
(Glorot) initialization; deepvis uses N(0,1)/sqrt(fan-in).

Each round runs the whole sweep with deepvis (into a fresh folder, so that nothing is resumed),
then the same networks with scikit-learn (deepvis.bench.take_turns: wall seconds and process CPU
seconds). Both on one thread: deepvis's sweep trains on one by design, and scikit-learn's BLAS is
held to one as well. Prints one JSON object: each arm's median and range per round and per network,
the ratios of the medians, and the test accuracy per hidden size, of each seed and their mean
(the same in every round: both are seeded).

    python scripts/bench_digits.py [--hidden 30 10 5 3] [--seeds 3] [--epochs 30] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import warnings
from pathlib import Path

import numpy as np

from deepvis.bench import ratio_of_medians, rounded, take_turns
from deepvis.digits.data import load_split
from deepvis.digits.nets import MLPSpec
from deepvis.digits.sweep import SweepPlan, run_sweep
from deepvis.digits.train import SGDSettings


def deepvis_sweep(hiddens, seeds, settings) -> dict[int, list[float]]:
    """Test accuracy of every seed, per hidden size."""
    plan = SweepPlan(tuple(hiddens), tuple(seeds), MLPSpec(), settings)
    with tempfile.TemporaryDirectory() as out:
        summary = run_sweep(plan, Path(out))
    accuracy: dict[int, list[float]] = {}
    for run in summary["runs"]:
        accuracy.setdefault(run["hidden"], []).append(run["test_accuracy"])
    return accuracy


def sklearn_sweep(hiddens, seeds, settings) -> dict[int, list[float]]:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    data = load_split()
    accuracy: dict[int, list[float]] = {}
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
    return accuracy


def main() -> None:
    from threadpoolctl import threadpool_limits

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, nargs="+", default=[30, 10, 5, 3])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=10)
    parser.add_argument("--lr", type=float, default=0.5)
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds, each arm once a round (default 3)")
    args = parser.parse_args()
    settings = SGDSettings(args.epochs, args.batch_size, args.lr)
    seeds = list(range(args.seeds))
    networks = len(args.hidden) * len(seeds)
    load_split()  # read and cached before any clock starts
    arms = {"deepvis": lambda: deepvis_sweep(args.hidden, seeds, settings),
            "sklearn": lambda: sklearn_sweep(args.hidden, seeds, settings)}
    with threadpool_limits(limits=1):
        # A one-epoch, one-network warm-up of each, so that neither pays first-call setup in a timed round.
        deepvis_sweep([args.hidden[0]], [0], SGDSettings(1, args.batch_size, args.lr))
        sklearn_sweep([args.hidden[0]], [0], SGDSettings(1, args.batch_size, args.lr))
        turns = take_turns(arms, args.rounds, warmup=0)
    ours, theirs = turns["deepvis"].results[-1], turns["sklearn"].results[-1]
    rows = [{"hidden": h, "deepvis": float(np.mean(ours[h])), "sklearn": float(np.mean(theirs[h])),
             "difference_points": 100 * float(np.mean(ours[h]) - np.mean(theirs[h])),
             "deepvis_seeds": ours[h], "sklearn_seeds": theirs[h]} for h in args.hidden]
    print(json.dumps(rounded({
        "networks_per_round": networks, "rounds": args.rounds, "threads": 1, "epochs": args.epochs,
        "batch_size": args.batch_size, "lr": args.lr,
        "seconds_per_round": {arm: t.spread() for arm, t in turns.items()},
        "seconds_per_network": {arm: t.spread(scale=1 / networks) for arm, t in turns.items()},
        "seconds_each_round": {arm: {"wall": t.wall, "cpu": t.cpu} for arm, t in turns.items()},
        "deepvis_times_faster": ratio_of_medians(turns, "sklearn", "deepvis"),
        "mean_accuracy": rows,
        "accuracy_same_every_round": all(r == t.results[0] for t in turns.values() for r in t.results),
        "overall_deepvis": float(np.mean(list(ours.values()))),
        "overall_sklearn": float(np.mean(list(theirs.values()))),
    }), indent=1))


if __name__ == "__main__":
    main()
