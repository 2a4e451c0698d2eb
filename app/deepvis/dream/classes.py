"""Class images from noise: one image per seed that the model calls the class, and their measure.

Two methods. `lucid`: Lucid's image (optvis.FourierImage: a decorrelated
Fourier spectrum through a sigmoid), seen through pad/jitter/scale/rotate/jitter
views, stepped by Adam on the class's logit, with ReLU gradients redirected for
the first steps. `maco` (Fel et al. 2023): only the phase of a spectrum whose
magnitude is that of natural images (optvis.maco), seen through several random
crops per step with a little noise; it also accumulates where the class's
gradient fell (the transparency map). Different seeds start from different
noise and end at different optima; seeds of one class optimized together are
pushed apart by Lucid's diversity term at a middle layer. The saved PNGs are
measured as any photo is: read from disk, preprocessed, one plain forward pass.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import statistics
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from deepvis import DeepvisError
from deepvis.optvis.diversity import diversity
from deepvis.optvis.maco import MacoImage, maco_views
from deepvis.optvis.objectives import Tap, class_logit
from deepvis.optvis.param import FourierImage
from deepvis.optvis.render import Adam, Rendered, render
from deepvis.optvis.seeds import ImageRandom
from deepvis.optvis.transforms import Compose, Jitter, Pad, RandomRotate, RandomScale
from deepvis.zoo import OUTPUT, SOFTMAX, Layer, LoadedModel

METHODS = ("lucid", "maco")
LEARNING_RATES = {"lucid": 0.05, "maco": 0.2}  # Adam's, on the spectrum (lucid) or on the phase (maco)
# Lucid's diversity term against the class logit. Logits of optimized class images reach 20-45 and the
# term lies in [-1, 0]: at 4 the seeds' feature distance did not move (2 classes, 128 steps), at 20 it
# rose from 0.15-0.27 to 0.32-0.55 with every seed still its class's top-1.
DIVERSITY = 20.0


@dataclass(frozen=True)
class ClassSettings:
    steps: int = 512
    lr: float | None = None  # None: the method's own (LEARNING_RATES)
    size: int = 224
    redirect_steps: int = 16  # ReLU gradients redirected while the image is still grey
    method: str = "lucid"
    diversity: float = DIVERSITY  # weight of the diversity term among seeds of a class made together; 0: off

    def check(self) -> "ClassSettings":
        if self.method not in METHODS:
            raise DeepvisError(f"unknown --method '{self.method}' (one of {', '.join(METHODS)})")
        if self.steps < 1:
            raise DeepvisError(f"--steps must be at least 1, not {self.steps}")
        if self.lr is not None and not self.lr > 0:
            raise DeepvisError(f"--lr must be above 0, not {self.lr}")
        if not 16 <= self.size <= 4096:
            raise DeepvisError(f"--size must be 16 to 4096 pixels, not {self.size}")
        if not (self.diversity >= 0 and math.isfinite(self.diversity)):
            raise DeepvisError(f"--diversity must be a number >= 0, not {self.diversity}")
        return self if self.lr is not None else dataclasses.replace(self, lr=LEARNING_RATES[self.method])


def find_class(labels: Sequence[str], name_or_index: str) -> int:
    """A class index from an index or a label, matched case-insensitively; one line when unknown."""
    text = str(name_or_index).strip()
    if text.lstrip("-").isdigit():
        index = int(text)
        if not 0 <= index < len(labels):
            raise DeepvisError(f"class {index} is out of range: the model has classes 0..{len(labels) - 1}")
        return index
    lowered = [label.lower() for label in labels]
    wanted = text.lower()
    hits = [i for i, label in enumerate(lowered) if label == wanted]
    if len(hits) == 1:
        return hits[0]
    if hits:
        raise DeepvisError(f"'{text}' names {len(hits)} classes ({', '.join(map(str, hits))}): give the index")
    raise DeepvisError(f"no class '{text}' among the model's {len(labels)} labels; closest: "
                       + (", ".join(closest_labels(labels, text)) or "none"))


def closest_labels(labels: Sequence[str], text: str, count: int = 5) -> list[str]:
    """Labels containing the text first (a 'shark' finds the sharks), then difflib's closest."""
    wanted = text.lower()
    containing = [label for label in labels if wanted and wanted in label.lower()]
    similar = difflib.get_close_matches(wanted, [label.lower() for label in labels], n=count, cutoff=0.5)
    by_lower = {label.lower(): label for label in labels}
    picked = list(dict.fromkeys(containing + [by_lower[s] for s in similar]))
    return picked[:count]


def lucid_views() -> Compose:
    """Lucid's transformation robustness: pad 12, jitter 8, scale 0.9-1.1, rotate +-10, jitter 4."""
    return Compose([Pad(12), Jitter(8), RandomScale(0.9, 1.1), RandomRotate(10.0), Jitter(4)])


def diversity_layer(loaded: LoadedModel) -> Layer:
    """The layer whose Gram matrices the diversity term compares: the middle displayed layer (Lucid
    compares InceptionV1's mixed4a, a middle layer: styles of parts, not of pixels or of classes)."""
    inner = [layer for layer in loaded.layers if layer.path not in (SOFTMAX, OUTPUT)]
    if not inner:
        raise DeepvisError(f"{loaded.name} shows no inner layer to compare the seeds' styles at")
    return inner[len(inner) // 2]


def render_classes(loaded: LoadedModel, classes: Sequence[int], seeds: Sequence[int],
                   settings: ClassSettings = ClassSettings(),
                   progress: Callable[[int, int], None] | None = None,
                   cancel: Callable[[], bool] | None = None) -> Rendered | None:
    """Image b maximizes class classes[b] from seed seeds[b], all in one batch; images of the same
    class are pushed apart by the diversity term (when settings.diversity > 0). None when cancel()
    turned true. With maco, `alpha` holds the accumulated gradient magnitudes."""
    settings = settings.check()
    if len(classes) != len(seeds):
        raise DeepvisError(f"{len(classes)} classes for {len(seeds)} seeds")
    device, card = loaded.device, loaded.card
    mean = torch.tensor(card.mean, device=device).view(1, 3, 1, 1)
    std = torch.tensor(card.std, device=device).view(1, 3, 1, 1)
    # The generators are keyed by (class, seed): without the diversity term, an image does not
    # depend on the batch it is made in.
    random = ImageRandom([seed * 1_000_003 + cls for cls, seed in zip(classes, seeds)])
    objective = class_logit(loaded.model, list(classes))
    if settings.diversity > 0 and len(set(classes)) < len(classes):
        tap = Tap(loaded.module(diversity_layer(loaded).path), "output")
        objective = objective + settings.diversity * diversity(tap, list(classes))
    if settings.method == "maco":
        param, views, redirect = MacoImage(random, settings.size, device=device), maco_views(card.input_size), 0
    else:
        param, views = FourierImage(random, settings.size, device=device), lucid_views()
        redirect = min(settings.redirect_steps, settings.steps)
    return render(loaded.model, objective, param, transforms=views, step_rule=Adam(settings.lr),
                  steps=settings.steps, normalize=lambda images: (images - mean) / std, random=random,
                  redirect_steps=redirect, alpha=settings.method == "maco", progress=progress, cancel=cancel)


def class_images(loaded: LoadedModel, classes: Sequence[int], seeds: Sequence[int],
                 settings: ClassSettings = ClassSettings(),
                 progress: Callable[[int, int], None] | None = None,
                 cancel: Callable[[], bool] | None = None) -> np.ndarray | None:
    """render_classes' images as B x S x S x 3 uint8 RGB, or None when cancel() turned true."""
    rendered = render_classes(loaded, classes, seeds, settings, progress, cancel)
    return None if rendered is None else to_uint8(rendered.images)


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """B x 3 x H x W in [0, 1] -> B x H x W x 3 uint8."""
    return (images.permute(0, 2, 3, 1) * 255.0 + 0.5).clamp(0, 255).to(torch.uint8).cpu().numpy()


@dataclass(frozen=True)
class Measure:
    probability: float  # the target's softmax probability
    rank: int  # 1 = the top class
    top_label: str
    top_probability: float


@torch.no_grad()
def measure_files(loaded: LoadedModel, paths: Sequence[Path], target: int) -> list[Measure]:
    """The target's probability and rank for each image file, as a plain forward pass sees it."""
    from deepvis.probe import preprocess
    from deepvis.sources import read_image

    card = loaded.card
    measures = []
    for path in paths:
        x = preprocess(read_image(path), card.input_size, card.mean, card.std, loaded.device)
        probs = loaded.model(x)[0].float().softmax(dim=0)
        top = int(probs.argmax())
        rank = int((probs > probs[target]).sum()) + 1
        label = loaded.labels[top] if top < len(loaded.labels) else f"class {top}"
        measures.append(Measure(float(probs[target]), rank, label, float(probs[top])))
    return measures


@dataclass
class Gallery:
    """Class images of one class for several seeds, measured from their files."""

    target: int
    label: str
    seeds: list[int]
    images: list[np.ndarray]  # S x S x 3 uint8 each
    measures: list[Measure]
    settings: ClassSettings

    @property
    def top1_share(self) -> float:
        return sum(m.rank == 1 for m in self.measures) / len(self.measures)

    @property
    def median_probability(self) -> float:
        return statistics.median(m.probability for m in self.measures)

    def captions(self) -> list[str]:
        return [f"seed {s}: p {m.probability:.2f}, #{m.rank}" for s, m in zip(self.seeds, self.measures)]

    def summary(self, model: str) -> dict:
        return {
            "model": model, "class": self.target, "label": self.label, **asdict(self.settings),
            "seeds": [{"seed": s, "file": seed_file(s), "probability": m.probability, "rank": m.rank,
                       "top_label": m.top_label, "top_probability": m.top_probability}
                      for s, m in zip(self.seeds, self.measures)],
            "top1_share": self.top1_share, "median_probability": self.median_probability,
        }


def seed_file(seed: int) -> str:
    return f"seed_{seed}.png"


def alpha_file(seed: int) -> str:
    return f"seed_{seed}_alpha.png"


def batch_size(device: torch.device, settings: ClassSettings | None = None, todo: int = 1) -> int:
    """Seeds optimized together. With the diversity term, all of them: it compares the seeds of one
    batch. Else a batch's images are written when its steps end, so a small batch loses little to an
    interrupt; on the CPU a batch of 4 made each image only ~16% faster than one at a time
    (efficientnet_lite0, 224 px), and an image does not depend on its batch."""
    if settings is not None and settings.diversity > 0:
        return max(1, todo)
    return 2 if device.type == "cpu" else 4


def gallery_key(model: str, target: int, settings: ClassSettings) -> dict:
    """What classes.json must record for its seeds to count as done by a re-run."""
    return {"model": model, "class": target, **asdict(settings)}


def finished_seeds(folder: Path, key: dict) -> list[int]:
    """The seeds folder/classes.json lists as made with these settings, whose PNG is there."""
    try:
        record = json.loads((Path(folder) / "classes.json").read_text())
    except (OSError, ValueError):
        return []
    if not isinstance(record, dict) or any(record.get(k) != v for k, v in key.items()):
        return []
    seeds = [entry.get("seed") for entry in record.get("seeds", []) if isinstance(entry, dict)]
    return [s for s in seeds if isinstance(s, int) and (Path(folder) / seed_file(s)).is_file()]


def class_gallery(loaded: LoadedModel, target: int, seeds: Sequence[int], folder: Path,
                  settings: ClassSettings = ClassSettings(),
                  progress: Callable[[int, int], None] | None = None,
                  cancel: Callable[[], bool] | None = None) -> Gallery | None:
    """Class images for every seed, written to folder/seed_<s>.png as each batch ends and measured
    from there (with maco also seed_<s>_alpha.png: the image faded where the class's gradient was
    small). folder/classes.json lists the seeds done so far: a run with the same model, class and
    settings makes only the missing ones (with the diversity term, together: they part from one
    another, not from the seeds already made). None when cancel() turned true (finished seeds stay)."""
    from deepvis.dream.files import write_json, write_png
    from deepvis.optvis.render import alpha_blend, alpha_map
    from deepvis.sources import read_image

    settings = settings.check()
    seeds = list(seeds)
    if not seeds:
        raise DeepvisError("--seeds must be at least 1")
    folder = Path(folder)
    label = loaded.labels[target] if target < len(loaded.labels) else f"class {target}"
    resumed = [s for s in finished_seeds(folder, gallery_key(loaded.name, target, settings)) if s in seeds]
    images = {seed: read_image(folder / seed_file(seed)) for seed in resumed}
    measures = dict(zip(resumed, measure_files(loaded, [folder / seed_file(s) for s in resumed], target)))
    todo = [seed for seed in seeds if seed not in images]
    total, step = settings.steps * len(seeds), batch_size(loaded.device, settings, len(todo))
    for start in range(0, len(todo), step):
        chunk = todo[start:start + step]
        done = settings.steps * (len(seeds) - len(todo) + start)
        report = None if progress is None else (
            lambda now, _n, done=done, k=len(chunk): progress(done + now * k, total))
        rendered = render_classes(loaded, [target] * len(chunk), chunk, settings, progress=report, cancel=cancel)
        if rendered is None:
            return None
        if rendered.alpha is not None:
            faded = to_uint8(alpha_blend(rendered.images, alpha_map(rendered.alpha)))
            for seed, image in zip(chunk, faded):
                write_png(folder / alpha_file(seed), image)
        for seed, image in zip(chunk, to_uint8(rendered.images)):
            write_png(folder / seed_file(seed), image)
            images[seed] = image
        measures.update(zip(chunk, measure_files(loaded, [folder / seed_file(s) for s in chunk], target)))
        made = [seed for seed in seeds if seed in images]
        partial = Gallery(target, label, made, [images[s] for s in made], [measures[s] for s in made], settings)
        write_json(folder / "classes.json", partial.summary(loaded.name) | {"complete": len(made) == len(seeds)})
    gallery = Gallery(target, label, seeds, [images[s] for s in seeds], [measures[s] for s in seeds], settings)
    if not todo:  # all resumed: the record may list more seeds than this run asked for
        write_json(folder / "classes.json", gallery.summary(loaded.name) | {"complete": True})
    return gallery
