"""The small CNN: trained on MNIST-5k like the MLP, then its first-layer filters, the filters
applied to noise, and class images from noise: for a digit, several noise seeds optimized
(deepvis.optvis) to maximize its output unit, each shown beside its nearest training images."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from deepvis import DeepvisError
from deepvis.digits.data import SIDE, DigitData, load_split
from deepvis.digits.nets import SmallCNN
from deepvis.digits.report import write_json
from deepvis.device import one_cpu_thread
from deepvis.files import atomic_path
from deepvis.digits.train import SGDSettings, train_cnn
from deepvis.weights.colors import diverging_rgb
from deepvis.weights.figures import figure_rgb, new_figure, save_figure, save_rgb
from deepvis.weights.noise import filters_on_noise

NEAREST = 2  # training images shown beside each class image
NOISE_STD = 0.15  # the starting noise around mid-grey
DECAY = 0.01  # L2 decay per step: pulls pixels to black, the background of MNIST
# Lucid's diversity term between the seeds of a digit, at conv2's rectified maps. Without it the seeds
# end nearly alike: mean pixel difference 0.073 (0.030-0.154 by digit) against 0.307 between digits
# (4 epochs, 4 seeds, 200 steps). At 5: 0.147 (0.102-0.209), every probability still >= 0.995; at 10
# the lowest fell to 0.87, and after a single epoch's training to 0.44.
DIVERSITY = 5.0


def class_images(model: SmallCNN, digits: list[int], noise_seeds: int, steps: int = 200,
                 cancel: Callable[[], bool] | None = None, progress: Callable[[int, int], None] | None = None,
                 diversity_weight: float = DIVERSITY) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """For each digit, `noise_seeds` images (D x S x 28 x 28 in [0, 1]) optimized from noise to
    maximize the digit's logit, the seeds of a digit pushed apart by the diversity term, with the
    logits and softmax probabilities they reach (D x S); None when cancel() turned true."""
    from deepvis.optvis import Adam, ImageRandom, PixelImage, Tap, class_logit, render
    from deepvis.optvis.diversity import diversity
    from deepvis.optvis.regularizers import GaussianBlur, L2Decay
    from deepvis.optvis.transforms import Jitter

    classes = [d for d in digits for _ in range(noise_seeds)]
    random = ImageRandom([1000 * d + s for d in digits for s in range(noise_seeds)])
    noise = (0.5 + NOISE_STD * random.normal(1, SIDE, SIDE)).clamp(0, 1).expand(-1, 3, -1, -1)
    param = PixelImage.from_images(noise.contiguous(), mean=(0.0, 0.0, 0.0))  # grey kept equal in 3 channels
    objective = class_logit(model, classes)
    if diversity_weight > 0 and noise_seeds > 1:
        objective = objective + diversity_weight * diversity(Tap(model.relu2, "output"), classes)
    rendered = render(model, objective, param, transforms=Jitter(2), steps=steps,
                      regularizers=[L2Decay(DECAY), GaussianBlur(0.5, every=4)], step_rule=Adam(4.0),
                      normalize=lambda images: images.mean(dim=1, keepdim=True), random=random,
                      progress=progress, cancel=cancel)
    if rendered is None:
        return None
    images = rendered.images.mean(dim=1)  # B x 28 x 28
    with torch.no_grad():
        logits = model(images[:, None])
    rows = torch.arange(len(classes))
    probs = torch.softmax(logits, dim=1)[rows, classes]
    shape = (len(digits), noise_seeds)
    return (images.numpy().reshape(*shape, SIDE, SIDE), logits[rows, classes].numpy().reshape(shape),
            probs.numpy().reshape(shape))


def nearest_training(images: np.ndarray, data: DigitData, k: int = NEAREST) -> tuple[np.ndarray, np.ndarray]:
    """Indices (N x k) of the k training images closest in pixels, and their distances."""
    flat = images.reshape(len(images), -1).astype(np.float32)
    train = data.train_x
    d2 = (flat ** 2).sum(1)[:, None] - 2 * flat @ train.T + (train ** 2).sum(1)[None, :]
    order = np.argsort(d2, axis=1)[:, :k]
    return order, np.sqrt(np.maximum(np.take_along_axis(d2, order, axis=1), 0))


def filters_figure(model: SmallCNN, noise: np.ndarray):
    """Top row: conv1's filters (blue +, red -); below: each filter applied to noise."""
    weights = model.conv1.weight.detach().numpy()[:, 0]
    n = len(weights)
    figure = new_figure(1.0 * n + 0.4, 2.6)
    for i in range(n):
        ax = figure.add_subplot(2, n, i + 1)
        ax.imshow(diverging_rgb(weights[i]), interpolation="nearest")
        ax.set_title(f"f{i}", fontsize=8)
        ax.axis("off")
        ax = figure.add_subplot(2, n, n + i + 1)
        ax.imshow(noise[i, 0], cmap="gray", interpolation="nearest")
        ax.axis("off")
    figure.suptitle("first-layer filters (top; blue +, red -, each on its own scale) and each filter "
                    "applied to noise (below)", fontsize=9)
    figure.subplots_adjust(left=0.01, right=0.99, bottom=0.02, top=0.8, wspace=0.08, hspace=0.15)
    return figure


def classes_figure(digits, images, probs, nearest, data: DigitData, groups: int = 2):
    """Per digit, each noise seed's image, then its nearest training images (with labels); the
    digits in `groups` columns side by side (0-4 | 5-9), so that the figure is wide rather than tall
    and reads at the size of a window's pane."""
    count, seeds = images.shape[:2]
    groups = max(1, min(groups, count))
    per_group = -(-count // groups)
    cols = groups * seeds * (1 + NEAREST)
    height = 1.0 * per_group + 0.8
    figure = new_figure(0.95 * cols + 0.6 * groups, height)
    outer = figure.add_gridspec(1, groups, wspace=0.06)
    blocks = [outer[0, g].subgridspec(per_group, seeds, wspace=0.12, hspace=0.35) for g in range(groups)]
    for r, digit in enumerate(digits):
        block, row = blocks[r // per_group], r % per_group
        for s in range(seeds):
            cell = block[row, s].subgridspec(1, 1 + NEAREST, wspace=0.04)
            ax = figure.add_subplot(cell[0, 0])
            ax.imshow(images[r, s], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            ax.set_title(f"{digit} p={probs[r, s]:.2f}", fontsize=7, color="#c98a10")
            ax.set_xticks([])
            ax.set_yticks([])
            if s == 0:
                ax.set_ylabel(f"digit {digit}", fontsize=8)
            for k in range(NEAREST):
                index = nearest[r * seeds + s, k]
                ax = figure.add_subplot(cell[0, 1 + k])
                ax.imshow(data.train_x[index].reshape(SIDE, SIDE), cmap="gray", vmin=0, vmax=1,
                          interpolation="nearest")
                ax.set_title(f"nearest: {data.train_y[index]}", fontsize=6.5, color="#666666")
                ax.axis("off")
    figure.suptitle("class images from noise: each seed optimized to maximize the digit's output unit "
                    "(p = its softmax), beside its nearest training images", fontsize=9)
    figure.subplots_adjust(left=0.03, right=0.99, bottom=0.01, top=1 - 0.6 / height)
    return figure


def stack_rgb(top: np.ndarray, bottom: np.ndarray) -> np.ndarray:
    width = max(top.shape[1], bottom.shape[1])

    def pad(image):  # centred on white, the figures' background
        out = np.full((image.shape[0], width, 3), 255, dtype=np.uint8)
        left = (width - image.shape[1]) // 2
        out[:, left:left + image.shape[1]] = image
        return out
    return np.concatenate([pad(top), pad(bottom)])


def run_cnn(out: Path, settings: SGDSettings, seed: int = 0, digits: list[int] | None = None,
            noise_seeds: int = 4, steps: int = 200, log: Callable[[str], None] | None = None,
            on_step: Callable[[int, int], None] | None = None, cancel: Callable[[], bool] | None = None,
            on_batch: Callable[[str, int, int], None] | None = None) -> dict:
    """Train, draw and dream; writes metrics.json, model.pth, filters.png, filters_on_noise.png,
    classes_from_noise.png and cnn.png (the last two stacked). Batches this small run fastest on
    one thread (3x faster per epoch, 15x per optimization step, on a busy 2-core machine).

    on_step(done, total) per epoch and stage; on_batch(stage, done, total) per training batch and
    optimization step (stage "train" or "classes"). Once cancel() is true, what is finished is
    written (the last finished epoch's model, metrics.json with "stopped": "interrupted") and the
    metrics returned; before any epoch finished, nothing is (epochs_done 0)."""
    with one_cpu_thread():
        return _run_cnn(out, settings, seed, digits, noise_seeds, steps, log, on_step, cancel, on_batch)


def _run_cnn(out, settings, seed, digits, noise_seeds, steps, log, on_step, cancel, on_batch) -> dict:
    digits = list(range(10)) if digits is None else list(digits)
    if not digits or any(not 0 <= d <= 9 for d in digits):
        raise DeepvisError(f"--digits must be digits 0..9, not {digits}")
    if not 1 <= noise_seeds <= 32 or not 1 <= steps <= 10000:
        raise DeepvisError("--noise-seeds must be 1..32 and --steps 1..10000")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    data = load_split()
    torch.manual_seed(seed)
    model = SmallCNN()
    started = time.perf_counter()
    total = settings.epochs + 2
    history: dict[str, list[float]] = {"train_accuracy": [], "test_accuracy": []}
    finished = {k: v.clone() for k, v in model.state_dict().items()}  # the last finished epoch's weights
    batch = None if on_batch is None else (lambda done, count: on_batch("train", done, count))
    for progress in train_cnn(model, data, settings, seed, cancel=cancel, on_step=batch):
        history = {k: v[0] for k, v in progress.history.items()}
        finished = {k: v.clone() for k, v in model.state_dict().items()}
        if log:
            log(f"epoch {progress.epoch}/{settings.epochs}: train {progress.train_accuracy[0]:.2%}, "
                f"test {progress.test_accuracy[0]:.2%}")
        if on_step:
            on_step(progress.epoch, total)
    stopped = cancel is not None and cancel()
    if stopped and not history["test_accuracy"]:
        return {"stopped": "interrupted", "epochs_done": 0}
    model.load_state_dict(finished)
    model.eval().requires_grad_(False)
    with atomic_path(out / "model.pth") as path:
        torch.save(model.state_dict(), path)
    metrics = {
        "test_accuracy": history["test_accuracy"][-1], "train_accuracy": history["train_accuracy"][-1],
        "per_epoch": history, "epochs_done": len(history["test_accuracy"]),
        "stopped": "interrupted" if stopped else None,
        "settings": {"epochs": settings.epochs, "batch_size": settings.batch_size, "lr": settings.lr, "seed": seed},
        "classes_from_noise": None,
    }
    if stopped:
        write_json(out / "metrics.json", metrics | {"seconds": round(time.perf_counter() - started, 2)})
        return metrics
    noise = filters_on_noise(model.conv1, size=2 * SIDE, steps=40)
    filters = figure_rgb(filters_figure(model, noise))
    save_rgb(filters, out / "filters.png")
    from deepvis.weights.colors import tile, upscale
    from deepvis.weights.noise import noise_rgb

    save_rgb(tile(np.stack([upscale(i, 2) for i in noise_rgb(noise)]), cols=8, pad=4, background=40),
             out / "filters_on_noise.png")
    if on_step:
        on_step(settings.epochs + 1, total)
    dreamt = class_images(model, digits, noise_seeds, steps, cancel=cancel, progress=None if on_batch is None
                          else lambda done, count: on_batch("classes", done, count))
    if dreamt is None:
        metrics["stopped"] = "interrupted"
        write_json(out / "metrics.json", metrics | {"seconds": round(time.perf_counter() - started, 2)})
        return metrics
    images, values, probs = dreamt
    nearest, distances = nearest_training(images.reshape(-1, SIDE * SIDE), data)
    nearest_labels = data.train_y[nearest[:, 0]].reshape(len(digits), noise_seeds)
    classes = save_figure(classes_figure(digits, images, probs, nearest, data), out / "classes_from_noise.png")
    import cv2

    classes_rgb = cv2.cvtColor(cv2.imread(str(classes)), cv2.COLOR_BGR2RGB)
    save_rgb(stack_rgb(filters, classes_rgb), out / "cnn.png")
    if on_step:
        on_step(total, total)
    metrics["classes_from_noise"] = {
        "digits": digits, "noise_seeds": noise_seeds, "steps": steps,
        "mean_probability": float(probs.mean()),
        "nearest_is_same_digit": float((nearest_labels == np.array(digits)[:, None]).mean()),
    }
    metrics["seconds"] = round(time.perf_counter() - started, 2)
    write_json(out / "metrics.json", metrics)
    return metrics
