"""`deepvis digits train | sweep | compare | cnn`: the Digits lab from the command line."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from deepvis import DeepvisError
from deepvis.digits.nets import ACTIVATIONS, INITS, MLPSpec
from deepvis.digits.train import SGDSettings


def _sgd_flags(parser: argparse.ArgumentParser, epochs: int = 30, lr: float = 0.5, batch: int = 10) -> None:
    parser.add_argument("--epochs", type=int, default=epochs,
                        help=f"passes over the 4000 training images (default: {epochs})")
    parser.add_argument("--batch-size", type=int, default=batch, help=f"mini-batch size (default: {batch})")
    parser.add_argument("--lr", type=float, default=lr, help=f"SGD learning rate (default: {lr})")
    parser.add_argument("--seed", type=int, default=0, help="seed of the init and the shuffles (default: 0)")
    parser.add_argument("--out", required=True, help="output folder")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="digits_command", metavar="STEP", required=True)

    train = sub.add_parser("train", help="train an MLP 784-H-10 and draw its weights")
    train.add_argument("--hidden", type=int, default=30, help="hidden units (default: 30)")
    train.add_argument("--init", choices=INITS, default="scaled",
                       help="randn: N(0,1) weights; scaled: N(0,1)/sqrt(fan-in) (default)")
    train.add_argument("--l2", type=float, default=0.0, help="L2 weight decay lambda, as Nielsen's (default: 0)")
    train.add_argument("--activation", choices=ACTIVATIONS, default="sigmoid",
                       help="hidden activation (default: sigmoid)")
    _sgd_flags(train)

    sweep = sub.add_parser("sweep", help="test accuracy against hidden size over seeds (resumable)")
    sweep.add_argument("--hidden", type=int, nargs="+", default=[30, 10, 5, 4, 3, 2], help="hidden sizes")
    sweep.add_argument("--seeds", type=int, default=3, help="seeds per hidden size: 0..N-1 (default: 3)")
    sweep.add_argument("--init", choices=INITS, default="scaled")
    sweep.add_argument("--l2", type=float, default=0.0)
    sweep.add_argument("--activation", choices=ACTIVATIONS, default="sigmoid")
    _sgd_flags(sweep)

    compare = sub.add_parser("compare", help="randn init without L2 against randn/sqrt(n) with L2, side by side")
    compare.add_argument("--hidden", type=int, default=30, help="hidden units (default: 30)")
    compare.add_argument("--l2", type=float, default=5.0, help="lambda of the regularized run (default: 5)")
    compare.add_argument("--activation", choices=ACTIVATIONS, default="sigmoid")
    _sgd_flags(compare)

    cnn = sub.add_parser("cnn", help="a small CNN: its filters, the filters on noise, class images from noise")
    cnn.add_argument("--digits", type=int, nargs="+", default=list(range(10)), help="digits to dream (default: all)")
    cnn.add_argument("--noise-seeds", type=int, default=4, help="noise seeds per digit (default: 4)")
    cnn.add_argument("--steps", type=int, default=200, help="optimization steps per image (default: 200)")
    _sgd_flags(cnn, epochs=4, lr=0.05, batch=16)


def run(args: argparse.Namespace, config=None) -> int:
    step = args.digits_command
    out = Path(args.out)
    settings = SGDSettings(args.epochs, args.batch_size, args.lr).check()
    if step == "train":
        return _train(args, settings, out)
    if step == "sweep":
        return _sweep(args, settings, out)
    if step == "compare":
        return _compare(args, settings, out)
    return _cnn(args, settings, out)


def _train(args, settings: SGDSettings, out: Path) -> int:
    from deepvis.digits.data import load_split
    from deepvis.digits.nets import MLPStack
    from deepvis.digits.report import write_run
    from deepvis.digits.train import train_mlps

    spec = MLPSpec(args.hidden, args.activation, args.init, args.l2).check()
    data = load_split()
    stack, started = MLPStack(spec, [args.seed]), time.perf_counter()
    for progress in train_mlps(stack, data, settings):
        print(f"epoch {progress.epoch}/{settings.epochs}: train {progress.train_accuracy[0]:.2%}, "
              f"test {progress.test_accuracy[0]:.2%}", flush=True)
    history = {k: v[0] for k, v in progress.history.items()}
    metrics = write_run(out, stack.module(0), settings, args.seed, history, time.perf_counter() - started)
    print(f"test accuracy {metrics['test_accuracy']:.2%}; wrote {out}/: metrics.json model.pth model.json "
          "hidden_weights.png output_weights.png digit_0..9.png")
    return 0


def _sweep(args, settings: SGDSettings, out: Path) -> int:
    from deepvis.digits.sweep import SweepPlan, run_sweep

    if not 1 <= args.seeds <= 100:
        raise DeepvisError(f"--seeds must be between 1 and 100, not {args.seeds}")
    plan = SweepPlan(tuple(args.hidden), tuple(range(args.seed, args.seed + args.seeds)),
                     MLPSpec(args.hidden[0], args.activation, args.init, args.l2), settings).check()
    summary = run_sweep(plan, out, on_run=lambda r: print(
        f"hidden {r['hidden']:4d} seed {r['seed']}: test {r['test_accuracy']:.2%}", flush=True))
    if summary["resumed_runs"]:
        print(f"{summary['resumed_runs']} run(s) were already done (resumed)")
    for row in summary["by_hidden"]:
        article = row["article_full_mnist"]
        print(f"hidden {row['hidden']:4d}: mean {row['mean']:.2%} (min {row['min']:.2%}, max {row['max']:.2%})"
              + (f"   article (full MNIST) {article:.2%}" if article else ""))
    print(f"wrote {out}/sweep.json sweep.png runs/")
    return 0


def _compare(args, settings: SGDSettings, out: Path) -> int:
    from deepvis.digits.compare import run_compare

    MLPSpec(args.hidden, args.activation, "scaled", args.l2).check()
    result = run_compare(args.hidden, out, args.l2, args.seed, settings, args.activation)
    for name, run in result["runs"].items():
        print(f"{name:9s}: test {run['test_accuracy']:.2%}, roughness {run['roughness']:.3f}")
    print(f"wrote {out}/compare.json compare.png")
    return 0


def _cnn(args, settings: SGDSettings, out: Path) -> int:
    from deepvis.digits.cnn import run_cnn

    result = run_cnn(out, settings, args.seed, digits=args.digits, noise_seeds=args.noise_seeds, steps=args.steps,
                     log=lambda line: print(line, flush=True))
    print(f"test accuracy {result['test_accuracy']:.2%}; wrote {out}/: metrics.json model.pth filters.png "
          "filters_on_noise.png classes_from_noise.png")
    return 0
