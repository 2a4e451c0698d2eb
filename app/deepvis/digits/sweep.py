"""The hidden-size sweep: test accuracy against hidden size, several seeds each, beside the article's
full-MNIST figures. Each finished run is its own file (written atomically), in a folder named by the
settings it was made with, so an interrupted sweep resumes where it stopped and a sweep with other
settings keeps its runs beside these; the seeds of one hidden size train together as one stack."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from deepvis import DeepvisError
from deepvis.files import result_folder
from deepvis.digits.data import load_split
from deepvis.digits.nets import MLPSpec, MLPStack
from deepvis.digits.report import write_json
from deepvis.digits.train import SGDSettings, train_mlps
from deepvis.weights.figures import new_figure, save_figure

log = logging.getLogger("deepvis.digits")

# "What does a neural network even learn?": full MNIST, 784-H-10 sigmoid, Nielsen's SGD.
ARTICLE_ACCURACY = {10: 0.9343, 5: 0.8665, 4: 0.8373, 3: 0.5875, 2: 0.2280}


@dataclass(frozen=True)
class SweepPlan:
    hiddens: tuple[int, ...]
    seeds: tuple[int, ...]
    spec: MLPSpec = MLPSpec()  # activation, init and l2 of every run (hidden replaced)
    settings: SGDSettings = SGDSettings()

    def check(self) -> "SweepPlan":
        if not self.hiddens or not self.seeds:
            raise DeepvisError("a sweep needs at least one hidden size and one seed")
        for hidden in self.hiddens:
            MLPSpec(hidden, self.spec.activation, self.spec.init, self.spec.l2).check()
        self.settings.check()
        return self

    def key(self) -> dict:
        """What a stored run must match to count as done."""
        return {"spec": {k: v for k, v in asdict(self.spec).items() if k != "hidden"},
                "settings": asdict(self.settings)}


def settings_folder(out: Path, key: dict) -> Path:
    """Where the runs made with one set of settings are kept: a sweep with other settings (another
    --epochs) into the same folder keeps its runs beside these, never over them."""
    spec, settings = key["spec"], key["settings"]
    return out / "runs" / (f"{spec['activation']}_{spec['init']}_l2-{float(spec['l2'])!r}"
                           f"_epochs-{settings['epochs']}_batch-{settings['batch_size']}_lr-{float(settings['lr'])!r}")


def run_path(out: Path, key: dict, hidden: int, seed: int) -> Path:
    return settings_folder(out, key) / f"h{hidden}_s{seed}.json"


def finished_run(path: Path, key: dict) -> dict | None:
    """A stored run made with the same settings, or None."""
    try:
        run = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return run if isinstance(run, dict) and run.get("key") == key else None


def run_sweep(plan: SweepPlan, out: Path, on_run: Callable[[dict], None] | None = None,
              on_step: Callable[[int, int], None] | None = None,
              on_summary: Callable[[dict], None] | None = None,
              cancel: Callable[[], bool] | None = None) -> dict:
    """Train what is missing, write sweep.json and sweep.png; returns sweep.json's content.

    on_run(run) after each finished run; on_step(done, total) every epoch (for progress bars);
    on_summary(summary) after each hidden size; an exception raised by any of them stops the sweep
    with what finished kept, and so does cancel() turning true (sweep.json then has complete false).
    """
    plan.check()
    out = Path(out)
    key, data = plan.key(), load_split()
    result_folder(out / "runs")
    here = result_folder(settings_folder(out, key))
    others = sorted(p.name for p in (out / "runs").iterdir() if p.is_dir() and p != here)
    if others:  # said, not overwritten: each set of settings keeps its own runs
        log.warning("%s also holds runs made with other settings (%s); they are kept, and these go to %s",
                    out / "runs", ", ".join(others), here.name)
    runs: dict[tuple[int, int], dict] = {}
    for hidden in plan.hiddens:
        for seed in plan.seeds:
            old = out / "runs" / f"h{hidden}_s{seed}.json"  # where runs were kept before settings had folders
            if (run := finished_run(run_path(out, key, hidden, seed), key) or finished_run(old, key)) is not None:
                runs[hidden, seed] = run
    resumed = len(runs)
    total = len(plan.hiddens) * len(plan.seeds) * plan.settings.epochs
    done = resumed * plan.settings.epochs
    for hidden in plan.hiddens:
        pending = [seed for seed in plan.seeds if (hidden, seed) not in runs]
        if not pending:
            continue
        spec = MLPSpec(hidden, plan.spec.activation, plan.spec.init, plan.spec.l2)
        stack, started = MLPStack(spec, pending), time.perf_counter()
        progress = None
        for progress in train_mlps(stack, data, plan.settings, evaluate_train=False, cancel=cancel):
            if on_step is not None:
                on_step(done + progress.epoch * len(pending), total)
        if progress is None or (progress.epoch < plan.settings.epochs and not progress.diverged.all()):
            break  # cancelled before the stack's last epoch: its runs are not done
        seconds = (time.perf_counter() - started) / len(pending)
        done += plan.settings.epochs * len(pending)
        for i, seed in enumerate(pending):
            run = {"hidden": hidden, "seed": seed, "test_accuracy": float(progress.test_accuracy[i]),
                   "test_per_epoch": progress.history["test_accuracy"][i],
                   "seconds": round(seconds, 3), "key": key}
            write_json(run_path(out, key, hidden, seed), run)
            runs[hidden, seed] = run
            if on_run is not None:
                on_run(run)
        summary = write_summary(plan, out, runs, resumed)
        if on_summary is not None:
            on_summary(summary)
    return write_summary(plan, out, runs, resumed)


def summarize(runs: list[dict]) -> list[dict]:
    """Per hidden size: mean, min, max and std of test accuracy over seeds, with the article's figure."""
    rows = []
    for hidden in sorted({r["hidden"] for r in runs}, reverse=True):
        acc = np.array([r["test_accuracy"] for r in runs if r["hidden"] == hidden])
        rows.append({"hidden": hidden, "seeds": len(acc), "mean": float(acc.mean()), "std": float(acc.std()),
                     "min": float(acc.min()), "max": float(acc.max()),
                     "article_full_mnist": ARTICLE_ACCURACY.get(hidden)})
    return rows


def write_summary(plan: SweepPlan, out: Path, runs: dict, resumed: int) -> dict:
    ordered = [runs[k] for k in sorted(runs, key=lambda k: (-k[0], k[1]))]
    summary = {
        "data": "MNIST-5k, stratified split 4000 train / 1000 test",
        **plan.key(), "hiddens": list(plan.hiddens), "seeds": list(plan.seeds),
        "complete": len(runs) == len(plan.hiddens) * len(plan.seeds), "resumed_runs": resumed,
        "runs": [{k: r[k] for k in ("hidden", "seed", "test_accuracy", "seconds")} for r in ordered],
        "by_hidden": summarize(ordered), "article_full_mnist": ARTICLE_ACCURACY,
    }
    write_json(out / "sweep.json", summary)
    save_figure(sweep_figure(summary), out / "sweep.png")
    return summary


def sweep_figure(summary: dict):
    """Test accuracy vs hidden size: each seed, the mean with its range, the article's points."""
    figure = new_figure(7.0, 4.8)
    ax = figure.add_subplot(1, 1, 1)
    rows = sorted(summary["by_hidden"], key=lambda r: r["hidden"])
    if rows:
        h = np.array([r["hidden"] for r in rows])
        mean = np.array([r["mean"] for r in rows]) * 100
        low, high = np.array([r["min"] for r in rows]) * 100, np.array([r["max"] for r in rows]) * 100
        ax.fill_between(h, low, high, color="#21669c", alpha=0.18, lw=0, label="range over seeds")
        ax.plot(h, mean, "o-", color="#21669c", lw=2, label="MNIST-5k mean (this toolbox)")
        runs = summary["runs"]
        ax.plot([r["hidden"] for r in runs], [r["test_accuracy"] * 100 for r in runs], ".", color="#21669c",
                alpha=0.5, ms=5)
    article = sorted(ARTICLE_ACCURACY.items())
    ax.plot([a for a, _ in article], [b * 100 for _, b in article], "s--", color="#b2182b", lw=1.2, ms=5,
            label="article, full MNIST")
    ax.set_xscale("log", base=2)
    ax.margins(x=0.06)
    ticks = sorted(set(summary["hiddens"]) | set(ARTICLE_ACCURACY))
    ax.set_xticks(ticks)
    means = {r["hidden"]: r["mean"] * 100 for r in rows}

    def label(t):
        ours = f"{means[t]:.1f}" if t in means else "–"
        theirs = f"{ARTICLE_ACCURACY[t] * 100:.1f}" if t in ARTICLE_ACCURACY else "–"
        return f"{t}\n{ours}\n{theirs}"
    ax.set_xticklabels([label(t) for t in ticks], fontsize=8)
    ax.set_ylim(0, 100)
    ax.set_xlabel("hidden units, then test accuracy (%): this toolbox's mean, the article's")
    ax.set_ylabel("test accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    n_seeds = len(summary["seeds"])
    state = "" if summary["complete"] else "  (partial)"
    ax.set_title(f"784-H-10: test accuracy vs hidden size, {n_seeds} seed(s){state}", fontsize=10)
    figure.tight_layout()
    return figure
