"""`deepvis learn`: train a small MLP on 2-D data headless and write what the Learn mode shows.

DIR/metrics.json   final and per-snapshot losses and accuracies; each stage's width and
                   linear-probe accuracy for the final model (input to output)
DIR/boundary.png   the output over [-1, 1]^2 with the points
DIR/landscapes.png every neuron's activation over [-1, 1]^2, labelled layer:unit
DIR/stages.png     the training data at every stage (3-D where 3 wide, PCA where wider)
DIR/training.mp4   the boundary and the landscapes evolving

`--bench` prints one JSON line instead: steps/s alone and with every view at 30/s.
Ctrl-C or SIGTERM stops training at the next snapshot: metrics.json (its "stopped" says
"interrupted") and the pictures are written for that snapshot, no video, and the exit code is
130 or 143.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from deepvis import DeepvisError
from deepvis.files import json_text
from deepvis.interrupt import stop_on_signals

log = logging.getLogger("deepvis.learn")

DEFAULT_STEPS = 5000


def add_arguments(parser) -> None:
    data = parser.add_argument_group("data")
    data.add_argument("--data", default="quadrants",
                      help="quadrants (default), xor, circle, gauss, spiral, or a CSV file")
    data.add_argument("--points", type=int, default=400, help="points generated (default: 400)")
    data.add_argument("--noise", type=float, default=0.0,
                      help="std of Gaussian jitter added to the points, 0-1 (default: 0)")
    data.add_argument("--test-fraction", type=float, default=0.3, help="share held out to test (default: 0.3)")
    data.add_argument("--columns", nargs=2, default=["x1", "x2"], metavar=("X1", "X2"),
                      help="a CSV's two input columns (default: x1 x2)")
    data.add_argument("--label", default="label", help="a CSV's 0/1 label column (default: label)")
    net = parser.add_argument_group("network")
    net.add_argument("--hidden", nargs="*", type=int, default=[3, 3],
                     help="hidden layer widths (default: 3 3, the article's network)")
    net.add_argument("--activation", nargs="+", default=["sigmoid"],
                     help="sigmoid (default), tanh, relu or linear: one, or one per hidden layer")
    net.add_argument("--init", default="he", help="he (default), xavier or normal (N(0, 1) weights and biases)")
    train = parser.add_argument_group("training")
    train.add_argument("--optimizer", default="sgd", help="sgd (default) or adam")
    train.add_argument("--lr", type=float, default=3.0, help="learning rate (default: 3.0; Adam wants ~0.03)")
    train.add_argument("--momentum", type=float, default=0.9, help="SGD's momentum, 0 to 1 (default: 0.9)")
    train.add_argument("--batch-size", type=int, default=0, help="points per step (default: 0, all of them)")
    train.add_argument("--l1", type=float, default=0.0, help="L1 weight penalty (default: 0)")
    train.add_argument("--l2", type=float, default=0.0, help="L2 weight penalty (default: 0)")
    train.add_argument("--steps", type=int, default=DEFAULT_STEPS, help=f"training steps (default: {DEFAULT_STEPS})")
    train.add_argument("--seed", type=int, default=0, help="seed of the data, the init and the batches (default: 0)")
    train.add_argument("--every", type=int, default=10, help="a snapshot every N steps (default: 10)")
    out = parser.add_argument_group("output")
    out.add_argument("--out", help="output folder (required unless --bench)")
    out.add_argument("--grid", type=int, default=100, help="grid side of the pictures (default: 100)")
    out.add_argument("--frames", type=int, default=150, help="video frames (default: 150; 0: no video)")
    out.add_argument("--device", help="auto, cpu, cuda, cuda:N or mps (default: config.yaml)")
    out.add_argument("--bench", action="store_true",
                     help="print steps/s alone and with every view at 30/s (one JSON line) and exit")
    out.add_argument("--bench-seconds", type=float, default=6.0, help="length of the bench (default: 6)")


def settings_from(args):
    """The data, network and training settings the flags ask for."""
    from deepvis.learn.data import DataSettings
    from deepvis.learn.network import NetworkSpec
    from deepvis.learn.trainer import TrainSettings

    data = DataSettings(args.data, args.points, args.noise, args.test_fraction, args.seed,
                        tuple(args.columns), args.label)
    spec = NetworkSpec(tuple(args.hidden), tuple(args.activation), args.init)
    train = TrainSettings(args.optimizer, args.lr, args.batch_size, args.l1, args.l2, args.seed, args.every,
                          args.momentum)
    return data, spec, train


def run(args, config) -> int:
    from deepvis.device import pick_device
    from deepvis.learn.data import make_dataset
    from deepvis.learn.loop import LiveTraining, prepare_thread
    from deepvis.learn.trainer import Trainer
    from deepvis.learn.views import ViewComputer

    check_args(args)
    data, spec, train = settings_from(args)
    device = pick_device(config.device)
    prepare_thread()
    dataset = make_dataset(data)
    trainer = Trainer(dataset, spec, train, device)
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
    live = LiveTraining(trainer, ViewComputer(dataset, spec, device, grid=args.grid, probe_iterations=40),
                        view_rate=0)
    log.info("training %s on %s (%s) for %d steps", spec.describe(), dataset.name, dataset.sizes, args.steps)
    with stop_on_signals() as stop:  # only while training: a signal while writing stops at once
        seconds = train_until(live, args.steps, stop)
    if trainer.failure:
        log.warning(trainer.failure)
    final = live.timeline.latest
    views = live.views(final)
    write_outputs(out, live, views, args, seconds, "interrupted" if stop else None)
    if stop:
        return stop.exit(f"stopped at step {final.step} of {args.steps}; wrote {out}/: metrics.json "
                         "(stopped: interrupted) boundary.png landscapes.png stages.png, no video")
    s = final
    print(f"step {s.step}: train accuracy {s.train_accuracy:.1%} (loss {s.train_loss:.4f}), "
          f"test accuracy {s.test_accuracy:.1%} (loss {s.test_loss:.4f})")
    print("probes: " + ", ".join(f"{st.name} {st.probe_accuracy:.1%}" for st in views.stages))
    print(f"wrote {out}/: metrics.json boundary.png landscapes.png stages.png"
          + (" training.mp4" if args.frames else ""))
    return 0


def check_args(args) -> None:
    """The flags no data set is needed to judge, refused in one line before any work."""
    if not args.bench and not args.out:
        raise DeepvisError("--out DIR is required (or --bench)")
    if args.steps < 0 or args.grid < 8 or args.frames < 0:
        raise DeepvisError("--steps and --frames must not be negative, and --grid must be at least 8")
    if args.columns[0] == args.columns[1]:
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


def write_outputs(out: Path, live, views, args, seconds: float, stopped: str | None = None) -> None:
    """metrics.json and the pictures of `views`' snapshot, and the video unless training was
    `stopped` early (a signal: the user wants the command to end)."""
    from deepvis.files import write_json_atomic
    from deepvis.learn import export
    from deepvis.learn.views import ViewComputer

    trainer = live.trainer
    dataset = trainer.dataset
    metrics = {
        "data": {"source": args.data, "name": dataset.name, "train_points": len(dataset.y_train),
                 "test_points": len(dataset.y_test), "noise": args.noise, "seed": args.seed},
        "network": {"sizes": list(trainer.spec.sizes), "activations": list(trainer.spec.layer_activations),
                    "output": "sigmoid", "init": trainer.spec.init, "parameters": trainer.network.n_parameters},
        "training": {"optimizer": trainer.settings.optimizer, "learning_rate": trainer.settings.learning_rate,
                     "batch_size": trainer.settings.batch_size, "l1": trainer.settings.l1,
                     "l2": trainer.settings.l2, "steps": trainer.step_count, "seconds": round(seconds, 3),
                     "snapshot_every": trainer.settings.snapshot_every, "stopped": stopped or trainer.failure},
        "final": views.snapshot.metrics(),
        "history": live.timeline.history(),
        "stages": [{"name": s.name, "width": s.width, "probe_accuracy": s.probe_accuracy,
                    "shown": "pca" if s.projected else f"{s.dims}d"} for s in views.stages],
    }
    write_json_atomic(out / "metrics.json", metrics, indent=1)
    export.save_boundary(views, dataset, out / "boundary.png")
    export.save_landscapes(views, out / "landscapes.png")
    export.save_stages(views, out / "stages.png")
    if args.frames and not stopped:
        from tqdm import tqdm

        snapshots = live.timeline.snapshots()
        count = min(args.frames, len(snapshots))
        picks = sorted({round(i * (len(snapshots) - 1) / max(count - 1, 1)) for i in range(count)})
        video_views = ViewComputer(dataset, trainer.spec, trainer.device, grid=64)
        frames = (export.training_frame(video_views.compute(snapshots[i], stages=False), dataset)
                  for i in tqdm(picks, unit="frame", desc="video", dynamic_ncols=True, leave=False, delay=1.0))
        export.write_video(frames, out / "training.mp4")
