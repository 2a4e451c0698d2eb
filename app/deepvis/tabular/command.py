"""`deepvis tabular train|explain`: an MLP on a table, then what drives each neuron of a layer."""

from __future__ import annotations

import sys
import time
from pathlib import Path


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="tabular", metavar="WHAT", required=True)

    train = sub.add_parser("train", help="train an MLP classifier or regressor on a table")
    source = train.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", help="a table scikit-learn ships: wine, breast_cancer, diabetes, iris")
    source.add_argument("--csv", help="a CSV file with a header row")
    train.add_argument("--target", help="the CSV column to predict")
    train.add_argument("--task", default="auto", choices=("auto", "classification", "regression"),
                       help="auto (default): text or at most 20 distinct integers -> classification")
    train.add_argument("--categorical", nargs="+", metavar="COLUMN", help="integer-coded columns that name categories")
    train.add_argument("--drop", nargs="+", metavar="COLUMN", help="columns to leave out (ids, constants)")
    train.add_argument("--hidden", nargs="+", type=int, default=[16, 8], help="hidden layer widths (default: 16 8)")
    train.add_argument("--activation", default="softplus", choices=("softplus", "relu", "tanh"),
                       help="hidden activation (default: softplus, a smooth ReLU)")
    train.add_argument("--epochs", type=int, default=100, help="passes over the training rows (default: 100)")
    train.add_argument("--lr", type=float, default=0.005, help="Adam's learning rate (default: 0.005)")
    train.add_argument("--batch-size", type=int, default=32, help="rows per step (default: 32)")
    train.add_argument("--seed", type=int, default=0, help="decides the split and the initial weights (default: 0)")
    train.add_argument("--test-fraction", type=float, default=0.2, help="rows held out for testing (default: 0.2)")
    train.add_argument("--out", required=True, help="the model folder to write")
    train.add_argument("--quiet", action="store_true", help="no progress lines")

    explain = sub.add_parser("explain", help="what drives every neuron of a layer, and the rows that excite it")
    explain.add_argument("model", help="a folder written by `deepvis tabular train`")
    explain.add_argument("--layer", help="h1 (default), h2, ..., out, or its number")
    explain.add_argument("--method", default="ig", choices=("ig", "grad-x-input", "ablation"),
                         help="ig: integrated gradients (default)")
    explain.add_argument("--baseline", default="low", choices=("low", "mean"),
                         help="low (default): numbers at their 5th percentile, no category; mean: the average row")
    explain.add_argument("--steps", type=int, default=64, help="integrated gradients' steps (default: 64)")
    explain.add_argument("--top-k", type=int, default=5, help="rows kept per neuron (default: 5)")
    explain.add_argument("--out", help="the folder for neurons.json and neurons.png (default: the model folder)")


def run(args, config=None) -> int:
    import torch

    torch.set_num_threads(1)  # networks this small run faster on one thread than on a team
    if args.tabular == "train":
        return run_train(args)
    return run_explain(args)


def run_train(args) -> int:
    from deepvis.tabular.data import id_warning, load_table
    from deepvis.tabular.train import Trainer, TrainSpec

    table = load_table(args.data, args.csv, args.target, args.task, args.categorical, args.drop)
    for column in table.id_like:
        print(f"deepvis: warning: {id_warning(table, column, f'--drop {column}')}", file=sys.stderr)
    spec = TrainSpec(hidden=tuple(args.hidden), epochs=args.epochs, lr=args.lr, batch_size=args.batch_size,
                     seed=args.seed, test_fraction=args.test_fraction, activation=args.activation)
    trainer = Trainer(table, spec)
    start = time.perf_counter()
    every = max(1, spec.epochs // 10)
    for p in trainer.run():
        if not args.quiet and (p.epoch % every == 0 or p.epoch == p.epochs):
            print(f"epoch {p.epoch:4d}/{p.epochs}  loss {p.train_loss:.4f}  test loss {p.test_loss:.4f}  "
                  f"test {p.score_name} {p.test_score:.3f}", file=sys.stderr)
    out = Path(args.out)
    trainer.save(out)
    metrics = trainer.metrics()
    if trainer.diverged:
        print(f"deepvis: warning: {trainer.diverged}", file=sys.stderr)
    score = "accuracy" if table.task == "classification" else "r2"
    print(f"{table.name}: {table.task} of {table.target!r}, {len(trainer.train_rows)} train / "
          f"{len(trainer.test_rows)} test rows, test {score} {metrics[f'test_{score}']:.3f} "
          f"({time.perf_counter() - start:.1f} s); wrote {out}/: model.pth model.json metrics.json")
    return 0


def run_explain(args) -> int:
    from deepvis.files import write_json_atomic
    from deepvis.tabular.explain import explain_layer, open_trained
    from deepvis.tabular.plots import plot_neurons

    trained = open_trained(args.model)
    start = time.perf_counter()
    report = explain_layer(trained, args.layer, args.method, args.steps, args.top_k, args.baseline)
    seconds = time.perf_counter() - start
    out = Path(args.out or args.model)
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "neurons.json", report, indent=1)
    plot_neurons(report, out / "neurons.png")
    check = f", completeness error {report['completeness_error']:.2e}" if "completeness_error" in report else ""
    print(f"{report['layer']}: {len(report['neurons'])} neurons x {len(report['variables'])} variables over "
          f"{report['rows_averaged']} test rows ({report['method']}, {seconds:.2f} s{check})")
    for j in report["most_important"][:3]:
        neuron = report["neurons"][j]
        top = sorted(neuron["attributions"].items(), key=lambda kv: -abs(kv[1]))[:4]
        label = f" {neuron['label']}" if "label" in neuron else ""  # an output neuron's class or prediction
        print(f"  neuron {j}{label} (rank {neuron['rank']}): " + ", ".join(f"{k} {v:+.3f}" for k, v in top))
    print(f"wrote {out}/: neurons.json neurons.png")
    return 0

