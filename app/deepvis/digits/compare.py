"""Init and regularization compared: N(0, 1) weights without regularization against
N(0, 1) / sqrt(n) with L2, same seed and data. Hidden units are matched across the two runs by
weight similarity, and the smoothness of the weight images is measured, not only shown."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Callable

import numpy as np
from scipy.optimize import linear_sum_assignment

from deepvis.digits.data import SIDE, load_split
from deepvis.digits.nets import MLPSpec, MLPStack
from deepvis.digits.pictures import mlp_weights, unit_image
from deepvis.digits.report import write_json
from deepvis.digits.train import SGDSettings, train_mlps
from deepvis.weights.figures import new_figure, save_figure

DEFAULT_L2 = 5.0
NOISE_ROUGHNESS = float(np.sqrt(2))  # roughness of white Gaussian noise, for reference


def roughness(w1: np.ndarray) -> np.ndarray:
    """Per hidden unit: the mean |difference| between neighbouring pixels of its 28 x 28 weight image,
    over its mean |weight| (scale-free: 0 for a flat image, about 1.41 for white noise)."""
    images = w1.reshape(len(w1), SIDE, SIDE)
    dx = np.abs(np.diff(images, axis=2)).mean(axis=(1, 2))
    dy = np.abs(np.diff(images, axis=1)).mean(axis=(1, 2))
    return (dx + dy) / 2 / np.abs(images).mean(axis=(1, 2)).clip(min=1e-12)


# Below this cosine a pair is only the closest the assignment could find, not one feature learned
# twice: the figure and compare.json say which pairs are alike.
MATCH_THRESHOLD = 0.5


def match_units(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For hidden weights a, b (H x 784): the permutation of b that best matches a (Hungarian, on the
    cosine similarity) and each pair's cosine."""
    an = a / np.linalg.norm(a, axis=1, keepdims=True).clip(min=1e-12)
    bn = b / np.linalg.norm(b, axis=1, keepdims=True).clip(min=1e-12)
    cosine = an @ bn.T
    rows, cols = linear_sum_assignment(-cosine)
    order = cols[np.argsort(rows)]
    return order, cosine[np.arange(len(a)), order]


def run_compare(hidden: int, out: Path, l2: float = DEFAULT_L2, seed: int = 0,
                settings: SGDSettings = SGDSettings(), activation: str = "sigmoid",
                on_step: Callable[[int, int], None] | None = None,
                cancel: Callable[[], bool] | None = None) -> dict | None:
    """Both runs trained, compared, and written as compare.json and compare.png; returns
    compare.json's content, or None when cancel() turned true (nothing is written then)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    data = load_split()
    runs = {}
    specs = {"randn": MLPSpec(hidden, activation, "randn", 0.0), "scaled_l2": MLPSpec(hidden, activation, "scaled", l2)}
    for i, (name, spec) in enumerate(specs.items()):
        stack = MLPStack(spec, [seed])
        for progress in train_mlps(stack, data, settings, cancel=cancel):
            if on_step is not None:
                on_step(i * settings.epochs + progress.epoch, 2 * settings.epochs)
        if cancel is not None and cancel():
            return None
        w1, w2 = mlp_weights(stack.module(0))
        runs[name] = {"spec": spec, "w1": w1, "w2": w2, "test_accuracy": float(progress.test_accuracy[0]),
                      "train_accuracy": float(progress.train_accuracy[0]), "roughness": roughness(w1)}
    order, cosine = match_units(runs["randn"]["w1"], runs["scaled_l2"]["w1"])
    result = {
        "data": "MNIST-5k, stratified split 4000 train / 1000 test", "seed": seed, "settings": asdict(settings),
        "smoothness_measure": "mean over hidden units of mean |neighbour difference| / mean |weight| "
                              f"(lower is smoother; white noise {NOISE_ROUGHNESS:.2f})",
        "runs": {name: {"spec": asdict(r["spec"]), "test_accuracy": r["test_accuracy"],
                        "train_accuracy": r["train_accuracy"], "roughness": float(r["roughness"].mean()),
                        "roughness_per_unit": [round(float(v), 4) for v in r["roughness"]]}
                 for name, r in runs.items()},
        "match_threshold": MATCH_THRESHOLD,
        "pairs": [{"randn": i, "scaled_l2": int(j), "cosine": round(float(c), 4), "alike": bool(c >= MATCH_THRESHOLD)}
                  for i, (j, c) in enumerate(zip(order, cosine))],
    }
    write_json(out / "compare.json", result)
    save_figure(compare_figure(runs, order, cosine), out / "compare.png")
    return result


def compare_figure(runs: dict, order: np.ndarray, cosine: np.ndarray):
    """Matched pairs side by side: randn (left) and randn/sqrt(n) + L2 (right) of each pair."""
    a, b = runs["randn"], runs["scaled_l2"]
    n = len(order)
    pair_cols = min(6, n)
    pair_rows = -(-n // pair_cols)
    figure = new_figure(2.3 * pair_cols + 0.3, 1.35 * pair_rows + 1.6)
    outer = figure.add_gridspec(pair_rows, pair_cols, wspace=0.14, hspace=0.45)
    for i, j in enumerate(order):
        pair = outer[divmod(i, pair_cols)].subgridspec(1, 2, wspace=0.04)
        for k, (w, label) in enumerate(((a["w1"][i], f"h{i}"), (b["w1"][j], f"h{j}"))):
            ax = figure.add_subplot(pair[0, k])
            ax.imshow(unit_image(w), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            alike = "" if cosine[i] >= MATCH_THRESHOLD else " (unlike)"
            ax.set_title(label if k == 0 else f"{label} cos {cosine[i]:+.2f}{alike}", fontsize=7, loc="left")
    alike = int((cosine >= MATCH_THRESHOLD).sum())
    pairs = (f"{alike} of {n} pairs alike (cosine >= {MATCH_THRESHOLD}); the others are only the closest "
             "assignment" if alike else f"no pair alike (every cosine < {MATCH_THRESHOLD}): the two runs learned "
             "different features; pairs shown by the closest assignment")
    figure.suptitle(
        f"left: randn init, no L2 (test {a['test_accuracy']:.1%}, roughness {a['roughness'].mean():.2f})   "
        f"right: randn/sqrt(n) + L2 {b['spec'].l2:g} (test {b['test_accuracy']:.1%}, "
        f"roughness {b['roughness'].mean():.2f})\n{pairs}\nroughness = mean |neighbour "
        f"difference| / mean |weight| (noise {NOISE_ROUGHNESS:.2f}); blue +, red -, each image on its own scale",
        fontsize=8.5)
    figure.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=1 - 1.15 / (1.35 * pair_rows + 1.6))
    return figure
