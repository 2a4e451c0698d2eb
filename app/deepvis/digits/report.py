"""One trained MLP's folder: metrics.json, model.pth + model.json, and its weight pictures."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from deepvis.digits import pictures
from deepvis.digits.nets import MLP, save_mlp
from deepvis.digits.train import SGDSettings
from deepvis.files import write_json_atomic
from deepvis.weights.figures import save_figure


def write_json(path: Path, data) -> Path:
    """Atomically: a reader (or a resumed sweep) never sees half a file."""
    return write_json_atomic(path, data)


def write_run(folder: Path, mlp: MLP, settings: SGDSettings, seed: int, history: dict[str, list[float]],
              seconds: float, stopped: str | None = None) -> dict:
    """Everything `deepvis digits train` writes; returns the metrics. `stopped`: why training
    ended before settings.epochs ("interrupted", or a divergence message; history then holds the
    epochs kept)."""
    folder.mkdir(parents=True, exist_ok=True)
    metrics = {
        "test_accuracy": history["test_accuracy"][-1],
        "train_accuracy": history["train_accuracy"][-1],
        "per_epoch": {"test_accuracy": history["test_accuracy"], "train_accuracy": history["train_accuracy"]},
        "epochs_done": len(history["test_accuracy"]), "stopped": stopped,
        "spec": asdict(mlp.spec), "settings": asdict(settings), "seed": seed,
        "data": "MNIST-5k, stratified split 4000 train / 1000 test", "seconds": round(seconds, 3),
    }
    write_json(folder / "metrics.json", metrics)
    save_mlp(mlp, folder)
    w1, w2 = pictures.mlp_weights(mlp)
    spec = mlp.spec
    title = (f"784-{spec.hidden}-10 {spec.activation}, init {spec.init}, L2 {spec.l2:g}: "
             f"test {metrics['test_accuracy']:.2%}"
             + (f" ({'interrupted' if stopped == 'interrupted' else 'diverged'}: epoch {metrics['epochs_done']} "
                f"kept)" if stopped else ""))
    save_figure(pictures.hidden_figure(w1, title), folder / "hidden_weights.png")
    save_figure(pictures.output_figure(w2), folder / "output_weights.png")
    for digit in range(10):
        save_figure(pictures.digit_figure(w1, w2, digit), folder / f"digit_{digit}.png")
    return metrics
