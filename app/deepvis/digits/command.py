"""`deepvis digits train | sweep | compare | cnn`: the Digits lab from the command line."""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING

from deepvis import DeepvisError
from deepvis.digits.choices import ACTIVATIONS, INITS
from deepvis.interrupt import stop_on_signals

if TYPE_CHECKING:  # torch comes with them: imported where a step runs, not for --help
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
    from deepvis.digits.train import SGDSettings

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


REPORT_EVERY = 50  # training steps between progress bar updates


def _bar(total: int, what: str, unit: str):
    """A progress bar on stderr, as precompute's, shown after the first second (a quick run or an
    early error stays one line); lines for stdout go through its write()."""
    from tqdm import tqdm

    return tqdm(total=total, unit=unit, desc=what, dynamic_ncols=True, smoothing=0.1, leave=False, delay=1.0)


def _say(bar, line: str) -> None:
    """A line on stdout, above the bar once it shows (tqdm's write would show it before its delay,
    and its close would then leave it standing)."""
    if bar is not None and bar.last_print_t >= bar.start_t + bar.delay:
        bar.write(line, file=sys.stdout)
    else:
        print(line)
    sys.stdout.flush()


class _StageBars:
    """A progress bar for each stage of `digits cnn` in turn: training, then the class images."""

    def __init__(self) -> None:
        self.stage, self.bar = None, None

    def update(self, stage: str, done: int, total: int) -> None:
        if stage != self.stage:
            self.close()
            self.stage, self.bar = stage, _bar(total, f"cnn {stage}", "step")
        self.bar.update(done - self.bar.n)

    def say(self, line: str) -> None:
        _say(self.bar, line)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _train(args, settings: SGDSettings, out: Path) -> int:
    from deepvis.digits.data import load_split
    from deepvis.digits.nets import MLPSpec, MLPStack
    from deepvis.digits.report import write_run
    from deepvis.digits.train import divergence_message, train_mlps

    spec = MLPSpec(args.hidden, args.activation, args.init, args.l2).check()
    data = load_split()
    stack, started = MLPStack(spec, [args.seed]), time.perf_counter()
    progress, diverged = None, 0
    steps = len(data.train_x) // settings.batch_size * settings.epochs
    with stop_on_signals() as stop, _bar(steps, "train", "step") as bar:
        for progress in train_mlps(stack, data, settings, report_every=REPORT_EVERY, cancel=stop):
            bar.update(progress.step - bar.n)
            if progress.diverged is None:  # within an epoch
                continue
            if progress.diverged[0]:
                diverged = int(progress.diverged[0])
                break
            _say(bar, f"epoch {progress.epoch}/{settings.epochs}: train {progress.train_accuracy[0]:.2%}, "
                      f"test {progress.test_accuracy[0]:.2%}")
    finished = len(progress.history["test_accuracy"][0]) if progress is not None else 0
    kept = diverged - 1 if diverged else finished
    interrupted = bool(stop) and not diverged and kept < settings.epochs
    stopped = divergence_message(diverged) if diverged else "interrupted" if interrupted else None
    if kept == 0:
        if interrupted:
            return stop.exit("stopped in epoch 1, before any epoch finished; nothing was written")
        raise DeepvisError(stopped + "; nothing was written")
    if diverged:
        print(f"deepvis: warning: {stopped}", file=sys.stderr)
    history = {k: v[0][:kept] for k, v in progress.history.items()}
    metrics = write_run(out, stack.module(0), settings, args.seed, history, time.perf_counter() - started,
                        stopped)
    if interrupted:
        return stop.exit(f"stopped after epoch {kept} of {settings.epochs}; wrote {out}/ with that epoch's model, "
                         "its pictures and metrics.json (stopped: interrupted)")
    print(f"test accuracy {metrics['test_accuracy']:.2%}; wrote {out}/: metrics.json model.pth model.json "
          "hidden_weights.png output_weights.png digit_0..9.png")
    return 0


def _sweep(args, settings: SGDSettings, out: Path) -> int:
    from deepvis.digits.nets import MLPSpec
    from deepvis.digits.sweep import SweepPlan, run_sweep

    if not 1 <= args.seeds <= 100:
        raise DeepvisError(f"--seeds must be between 1 and 100, not {args.seeds}")
    plan = SweepPlan(tuple(args.hidden), tuple(range(args.seed, args.seed + args.seeds)),
                     MLPSpec(args.hidden[0], args.activation, args.init, args.l2), settings).check()
    runs = len(plan.hiddens) * len(plan.seeds)
    with stop_on_signals() as stop, _bar(runs * settings.epochs, "sweep", "epoch") as bar:
        summary = run_sweep(plan, out, on_run=lambda r: _say(
            bar, f"hidden {r['hidden']:4d} seed {r['seed']}: test {r['test_accuracy']:.2%}"),
            on_step=lambda done, _total: bar.update(done - bar.n), cancel=stop)
    if stop and not summary["complete"]:
        return stop.exit(f"stopped with {len(summary['runs'])} of {runs} runs done, kept in {out}/runs; run the "
                         "same command again to train the rest")
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
    from deepvis.digits.nets import MLPSpec

    MLPSpec(args.hidden, args.activation, "scaled", args.l2).check()
    with stop_on_signals() as stop, _bar(2 * settings.epochs, "compare", "epoch") as bar:
        result = run_compare(args.hidden, out, args.l2, args.seed, settings, args.activation,
                             on_step=lambda done, _total: bar.update(done - bar.n), cancel=stop)
        done = bar.n
    if result is None:
        return stop.exit(f"stopped after {done} of {2 * settings.epochs} epochs, before both runs were trained; "
                         "nothing was written (compare writes when both are done)")
    for name, run in result["runs"].items():
        print(f"{name:9s}: test {run['test_accuracy']:.2%}, roughness {run['roughness']:.3f}")
    print(f"wrote {out}/compare.json compare.png")
    return 0


def _cnn(args, settings: SGDSettings, out: Path) -> int:
    from deepvis.digits.cnn import run_cnn

    with stop_on_signals() as stop, closing(_StageBars()) as bars:
        result = run_cnn(out, settings, args.seed, digits=args.digits, noise_seeds=args.noise_seeds,
                         steps=args.steps, log=bars.say, cancel=stop, on_batch=bars.update)
    if result["stopped"] == "interrupted":
        epochs = result["epochs_done"]
        if epochs == 0:
            return stop.exit("stopped in epoch 1, before any epoch finished; nothing was written")
        if epochs < settings.epochs:
            return stop.exit(f"stopped after epoch {epochs} of {settings.epochs}; wrote {out}/: that epoch's "
                             "model.pth and metrics.json (stopped: interrupted)")
        return stop.exit(f"stopped while making the class images; wrote {out}/: model.pth filters.png "
                         "filters_on_noise.png metrics.json (stopped: interrupted)")
    print(f"test accuracy {result['test_accuracy']:.2%}; wrote {out}/: metrics.json model.pth filters.png "
          "filters_on_noise.png classes_from_noise.png")
    return 0
