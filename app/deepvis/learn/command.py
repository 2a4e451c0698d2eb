"""`deepvis learn`: train a small MLP on 2-D data headless and write what the Learn mode shows.

DIR/metrics.json   final and per-snapshot losses and accuracies (regression: losses); each
                   stage's width and linear-probe accuracy for the final model (input to output)
DIR/boundary.png   the output over [-1, 1]^2 with the points (regression: the prediction)
DIR/landscapes.png every input feature's and every neuron's activation over [-1, 1]^2
DIR/stages.png     the training data at every stage (3-D where 3 wide, PCA where wider)
DIR/landscape.png  the loss over a plane through the final weights, with the training path
DIR/training.mp4   the boundary and the landscapes evolving

The run is set by the flags, or by `--setup FILE.json` (flags given with it change that one
thing); `--save-setup FILE.json` writes the setup and `--export-code FILE.py` a standalone
PyTorch script of it, before training (without --out they are all that is done).
`--bench` prints one JSON line instead: steps/s alone and with every view at 30/s;
`--bench landscape` the loss landscape's time. Ctrl-C or SIGTERM stops training at the next
snapshot: metrics.json (its "stopped" says "interrupted") and the pictures are written for that
snapshot, no video and no loss landscape, and the exit code is 130 or 143.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from deepvis import DeepvisError
from deepvis.files import json_text
from deepvis.interrupt import stop_on_signals

log = logging.getLogger("deepvis.learn")

DEFAULT_STEPS = 5000  # as deepvis.learn.setup's (not imported here: `deepvis --help` stays light)
LANDSCAPE_GRID = 61


def add_arguments(parser) -> None:
    # The flags that define the run default to None: "not given", so that --setup's values stay
    # unless a flag is given; the defaults are the Setup's.
    data = parser.add_argument_group("data")
    data.add_argument("--data", help="quadrants (default), xor, circle, gauss, spiral (two classes), "
                                     "plane, multigauss (regression), or a CSV file")
    data.add_argument("--points", type=int, help="points generated (default: 400)")
    data.add_argument("--noise", type=float, help="std of Gaussian jitter added to the points, 0-1 (default: 0)")
    data.add_argument("--test-fraction", type=float, help="share held out to test (default: 0.3)")
    data.add_argument("--data-seed", type=int,
                      help="seed of the points and the split (default: --seed): a new one regenerates the data")
    data.add_argument("--columns", nargs=2, metavar=("X1", "X2"), help="a CSV's two input columns (default: x1 x2)")
    data.add_argument("--label", help="a CSV's label column: 0/1, or any number with --task regression "
                                      "(default: label)")
    data.add_argument("--task", choices=("classification", "regression"),
                      help="a CSV's task (default: classification; the generated sets have their own)")
    net = parser.add_argument_group("network")
    net.add_argument("--features", help="input features, comma-separated: x1,x2,x1sq,x2sq,x1x2,sinx1,sinx2 "
                                        "(default: x1,x2)")
    net.add_argument("--hidden", nargs="*", type=int,
                     help="hidden layer widths (default: 3 3, the article's network; none or 0: no hidden layer)")
    net.add_argument("--activation", nargs="+",
                     help="sigmoid (default), tanh, relu or linear: one, or one per hidden layer")
    net.add_argument("--init", help="he (default), xavier or normal (N(0, 1) weights and biases)")
    train = parser.add_argument_group("training")
    train.add_argument("--optimizer", help="sgd (default) or adam")
    train.add_argument("--lr", type=float, help="learning rate (default: 3.0; Adam wants ~0.03)")
    train.add_argument("--momentum", type=float, help="SGD's momentum, 0 to 1 (default: 0.9)")
    train.add_argument("--batch-size", type=int, help="points per step (default: 0, all of them)")
    train.add_argument("--l1", type=float, help="L1 weight penalty (default: 0)")
    train.add_argument("--l2", type=float, help="L2 weight penalty (default: 0)")
    train.add_argument("--steps", type=int, help=f"training steps (default: {DEFAULT_STEPS})")
    train.add_argument("--seed", type=int, help="seed of the init and the batches, and of the data unless "
                                                "--data-seed (default: 0)")
    train.add_argument("--every", type=int, help="a snapshot every N steps (default: 10)")
    share = parser.add_argument_group("setup")
    share.add_argument("--setup", metavar="FILE.json", help="run the setup a --save-setup file holds "
                                                            "(flags given too change it)")
    share.add_argument("--save-setup", metavar="FILE.json", help="write the whole setup to FILE.json")
    share.add_argument("--export-code", metavar="FILE.py",
                       help="write a standalone PyTorch script (torch and numpy) that trains the same run")
    out = parser.add_argument_group("output")
    out.add_argument("--out", help="output folder (required unless --bench, --save-setup or --export-code)")
    out.add_argument("--grid", type=int, default=100, help="grid side of the pictures (default: 100)")
    out.add_argument("--discretize", action="store_true",
                     help="the boundary picture in classes (regression: the sign), not the output's shades")
    out.add_argument("--landscape-grid", type=int, default=LANDSCAPE_GRID,
                     help=f"grid side of landscape.png, the loss landscape (default: {LANDSCAPE_GRID}; 0: none)")
    out.add_argument("--frames", type=int, default=150, help="video frames (default: 150; 0: no video)")
    out.add_argument("--device", help="auto, cpu, cuda, cuda:N or mps (default: config.yaml)")
    out.add_argument("--bench", nargs="?", const="training", choices=("training", "landscape"),
                     help="print one JSON line and exit: steps/s alone and with every view at 30/s "
                          "(training, the default), or the loss landscape's time (landscape)")
    out.add_argument("--bench-seconds", type=float, default=6.0, help="length of the bench (default: 6)")


def setup_from(args):
    """The run the flags ask for: --setup's (or the defaults), changed by each flag given."""
    from dataclasses import replace

    from deepvis.learn.features import parse_features
    from deepvis.learn.setup import Setup, load_setup

    setup = load_setup(args.setup) if args.setup else Setup()

    def given(**fields):
        return {name: value for name, value in fields.items() if value is not None}

    data_seed = args.data_seed if args.data_seed is not None else args.seed
    data = replace(setup.data, **given(
        source=args.data, points=args.points, noise=args.noise, test_fraction=args.test_fraction, seed=data_seed,
        columns=tuple(args.columns) if args.columns else None, label=args.label, task=args.task))
    if args.data is not None and args.task is None:
        data = replace(data, task=None)  # a new source: its own task
    spec = replace(setup.spec, **given(
        features=parse_features(args.features) if args.features is not None else None,
        hidden=tuple(args.hidden) if args.hidden is not None else None,
        activations=tuple(args.activation) if args.activation else None, init=args.init))
    train = replace(setup.train, **given(
        optimizer=args.optimizer, learning_rate=args.lr, momentum=args.momentum, batch_size=args.batch_size,
        l1=args.l1, l2=args.l2, seed=args.seed, snapshot_every=args.every))
    return Setup(data, spec, train, args.steps if args.steps is not None else setup.steps)


def run(args, config) -> int:
    import torch

    from deepvis.device import pick_device
    from deepvis.learn.data import make_dataset
    from deepvis.learn.loop import LiveTraining, prepare_thread
    from deepvis.learn.trainer import Trainer
    from deepvis.learn.views import ViewComputer

    check_args(args)
    setup = setup_from(args)
    data, spec, train = setup.data, setup.spec, setup.train
    dataset = make_dataset(data)  # a bad CSV is refused before anything is written
    written = share_setup(args, setup)
    if not args.out and not args.bench:
        print("wrote " + " ".join(str(path) for path in written))
        return 0
    device = pick_device(config.device)
    threads = torch.get_num_threads()
    prepare_thread()
    trainer = Trainer(dataset, spec, train, device)
    if args.bench == "landscape":
        from deepvis.learn.bench import run_landscape_bench

        report = run_landscape_bench(trainer, setup.steps, args.landscape_grid or LANDSCAPE_GRID, threads)
        print(json_text(report, indent=None), end="")
        return 0
    if args.bench:
        from deepvis.learn.bench import SLICES, run_bench

        from tqdm import tqdm

        live = LiveTraining(trainer, ViewComputer(dataset, spec, device))
        with tqdm(total=2 * SLICES, unit="slice", desc="learn bench", dynamic_ncols=True, leave=False,
                  delay=1.0) as bar:
            report = run_bench(live, args.bench_seconds, progress=lambda done, total: bar.update(done - bar.n))
        print(json_text(report, indent=None), end="")
        return 0

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    computer = ViewComputer(dataset, spec, device, grid=args.grid, probe_iterations=40, discretize=args.discretize)
    live = LiveTraining(trainer, computer, view_rate=0)
    log.info("training %s on %s (%s) for %d steps", trainer.spec.describe(), dataset.name, dataset.sizes,
             setup.steps)
    with stop_on_signals() as stop:  # only while training: a signal while writing stops at once
        seconds = train_until(live, setup.steps, stop)
    if trainer.failure:
        log.warning(trainer.failure)
    final = live.timeline.latest
    views = live.views(final)
    write_outputs(out, live, views, args, setup, seconds, "interrupted" if stop else None)
    if stop:
        return stop.exit(f"stopped at step {final.step} of {setup.steps}; wrote {out}/: metrics.json "
                         "(stopped: interrupted) boundary.png landscapes.png stages.png, no video")
    s = final
    if dataset.regression:
        print(f"step {s.step}: train loss (MSE) {s.train_loss:.5f}, test loss (MSE) {s.test_loss:.5f}")
    else:
        print(f"step {s.step}: train accuracy {s.train_accuracy:.1%} (loss {s.train_loss:.4f}), "
              f"test accuracy {s.test_accuracy:.1%} (loss {s.test_loss:.4f})")
        print("probes: " + ", ".join(f"{st.name} {st.probe_accuracy:.1%}" for st in views.stages))
    print(f"wrote {out}/: metrics.json boundary.png landscapes.png stages.png"
          + (" landscape.png" if args.landscape_grid else "") + (" training.mp4" if args.frames else ""))
    return 0


def share_setup(args, setup) -> list[Path]:
    """--save-setup's file and --export-code's script, written before any training."""
    written = []
    if args.save_setup:
        from deepvis.learn.setup import save_setup

        written.append(save_setup(args.save_setup, setup))
    if args.export_code:
        from deepvis.learn.export_code import write_script

        written.append(write_script(args.export_code, setup))
    return written


def check_args(args) -> None:
    """The flags no data set is needed to judge, refused in one line before any work."""
    if not args.bench and not args.out and not (args.save_setup or args.export_code):
        raise DeepvisError("--out DIR is required (or --bench, --save-setup or --export-code)")
    if (args.steps is not None and args.steps < 0) or args.grid < 8 or args.frames < 0:
        raise DeepvisError("--steps and --frames must not be negative, and --grid must be at least 8")
    if args.landscape_grid < 0 or 0 < args.landscape_grid < 3:
        raise DeepvisError(f"--landscape-grid must be 0 (none) or at least 3, not {args.landscape_grid}")
    if args.columns and args.columns[0] == args.columns[1]:
        raise DeepvisError(f"--columns needs two different columns, not {args.columns[0]} twice")
    if not args.bench_seconds > 0:
        raise DeepvisError(f"--bench-seconds must be above 0, not {args.bench_seconds:g}")


def train_until(live, steps: int, stop) -> float:
    """Train to `steps` (or a failure, or a signal: `stop` is read after every snapshot), with a
    progress bar on stderr after the first second; returns the seconds it took."""
    from tqdm import tqdm

    trainer = live.trainer
    start = time.perf_counter()
    with tqdm(total=steps, initial=trainer.step_count, unit="step", desc="learn", dynamic_ncols=True,
              smoothing=0.1, leave=False, delay=1.0) as bar:
        while trainer.step_count < steps and not trainer.failure and not stop:
            live.tick(min(trainer.settings.snapshot_every, steps - trainer.step_count), with_views=False)
            bar.update(trainer.step_count - bar.n)
    return time.perf_counter() - start


def write_outputs(out: Path, live, views, args, setup, seconds: float, stopped: str | None = None) -> None:
    """metrics.json and the pictures of `views`' snapshot, and the loss landscape and the video
    unless training was `stopped` early (a signal: the user wants the command to end)."""
    from deepvis.files import write_json_atomic
    from deepvis.learn import export
    from deepvis.learn.views import ViewComputer

    trainer = live.trainer
    dataset = trainer.dataset
    regression = dataset.regression
    settings = trainer.settings
    metrics = {
        "task": dataset.task,
        "data": {"source": setup.data.source, "name": dataset.name, "train_points": len(dataset.y_train),
                 "test_points": len(dataset.y_test), "noise": setup.data.noise, "seed": setup.data.seed,
                 **({"target_range": list(dataset.target_range)} if dataset.target_range else {})},
        "network": {"features": list(trainer.spec.features), "sizes": list(trainer.spec.sizes),
                    "activations": list(trainer.spec.layer_activations), "output": trainer.spec.output,
                    "init": trainer.spec.init, "parameters": trainer.network.n_parameters},
        "training": {"optimizer": settings.optimizer, "learning_rate": settings.learning_rate,
                     "batch_size": settings.batch_size, "l1": settings.l1, "l2": settings.l2,
                     "seed": settings.seed, "steps": trainer.step_count, "seconds": round(seconds, 3),
                     "snapshot_every": settings.snapshot_every, "stopped": stopped or trainer.failure},
        "final": views.snapshot.metrics(),
        "history": live.timeline.history(),
        "stages": [{"name": s.name, "width": s.width, "probe_accuracy": None if regression else s.probe_accuracy,
                    "shown": "pca" if s.projected else f"{s.dims}d"} for s in views.stages],
    }
    landscape = None
    if args.landscape_grid and not stopped:
        from deepvis.learn.landscape import LandscapeComputer

        start = time.perf_counter()
        landscape = LandscapeComputer(dataset, trainer.spec, trainer.device, args.landscape_grid,
                                      seed=settings.seed).compute(views.snapshot, live.timeline.snapshots())
        metrics["landscape"] = {"grid": landscape.grid, "span": landscape.span, "step": landscape.step,
                                "centre_loss": landscape.centre_loss, "min_loss": float(landscape.loss.min()),
                                "max_loss": float(landscape.loss.max()), "path_points": len(landscape.path),
                                "seconds": round(time.perf_counter() - start, 3)}
    write_json_atomic(out / "metrics.json", metrics, indent=1)
    export.save_boundary(views, dataset, out / "boundary.png")
    export.save_landscapes(views, out / "landscapes.png")
    export.save_stages(views, out / "stages.png")
    if landscape is not None:
        export.save_loss_landscape(landscape, out / "landscape.png")
    if args.frames and not stopped:
        from tqdm import tqdm

        snapshots = live.timeline.snapshots()
        count = min(args.frames, len(snapshots))
        picks = sorted({round(i * (len(snapshots) - 1) / max(count - 1, 1)) for i in range(count)})
        video_views = ViewComputer(dataset, trainer.spec, trainer.device, grid=64, discretize=args.discretize)
        frames = (export.training_frame(video_views.compute(snapshots[i], stages=False), dataset)
                  for i in tqdm(picks, unit="frame", desc="video", dynamic_ncols=True, leave=False, delay=1.0))
        export.write_video(frames, out / "training.mp4")
