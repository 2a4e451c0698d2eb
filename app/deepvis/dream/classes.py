"""Class images from noise: one image per seed that the model calls the class, and their measure.

The image is Lucid's (optvis.FourierImage: a decorrelated Fourier spectrum
through a sigmoid), seen through pad/jitter/scale/rotate/jitter views, stepped
by Adam on the class's logit, with ReLU gradients redirected for the first
steps. Different seeds start from different noise and end at different optima.
The saved PNGs are measured as any photo is: read from disk, preprocessed, one
plain forward pass.
"""

from __future__ import annotations

import difflib
import json
import statistics
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from deepvis import DeepvisError
from deepvis.optvis.objectives import class_logit
from deepvis.optvis.param import FourierImage
from deepvis.optvis.render import Adam, render
from deepvis.optvis.seeds import ImageRandom
from deepvis.optvis.transforms import Compose, Jitter, Pad, RandomRotate, RandomScale
from deepvis.zoo import LoadedModel


@dataclass(frozen=True)
class ClassSettings:
    steps: int = 512
    lr: float = 0.05
    size: int = 224
    redirect_steps: int = 16  # ReLU gradients redirected while the image is still grey

    def check(self) -> "ClassSettings":
        if self.steps < 1:
            raise DeepvisError(f"--steps must be at least 1, not {self.steps}")
        if not self.lr > 0:
            raise DeepvisError(f"--lr must be above 0, not {self.lr}")
        if not 16 <= self.size <= 4096:
            raise DeepvisError(f"--size must be 16 to 4096 pixels, not {self.size}")
        return self


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


def class_images(loaded: LoadedModel, classes: Sequence[int], seeds: Sequence[int],
                 settings: ClassSettings = ClassSettings(),
                 progress: Callable[[int, int], None] | None = None,
                 cancel: Callable[[], bool] | None = None) -> np.ndarray | None:
    """Image b maximizes class classes[b] from seed seeds[b], all in one batch.

    Returns B x S x S x 3 uint8 RGB, or None when cancel() turned true.
    """
    settings.check()
    if len(classes) != len(seeds):
        raise DeepvisError(f"{len(classes)} classes for {len(seeds)} seeds")
    device, card = loaded.device, loaded.card
    mean = torch.tensor(card.mean, device=device).view(1, 3, 1, 1)
    std = torch.tensor(card.std, device=device).view(1, 3, 1, 1)
    # The generators are keyed by (class, seed): an image does not depend on the batch it is made in.
    random = ImageRandom([seed * 1_000_003 + cls for cls, seed in zip(classes, seeds)])
    rendered = render(
        loaded.model, class_logit(loaded.model, list(classes)), FourierImage(random, settings.size, device=device),
        transforms=lucid_views(), step_rule=Adam(settings.lr), steps=settings.steps,
        normalize=lambda images: (images - mean) / std, random=random,
        redirect_steps=min(settings.redirect_steps, settings.steps), progress=progress, cancel=cancel)
    if rendered is None:
        return None
    images = (rendered.images.permute(0, 2, 3, 1) * 255.0 + 0.5).clamp(0, 255).to(torch.uint8)
    return images.cpu().numpy()


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


def batch_size(device: torch.device) -> int:
    """Seeds optimized together. A batch's images are written when its steps end, so a small batch
    loses little to an interrupt; on the CPU a batch of 4 made each image only ~16% faster than one
    at a time (efficientnet_lite0, 224 px), and an image does not depend on its batch."""
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
    from there. folder/classes.json lists the seeds done so far: a run with the same model, class and
    settings makes only the missing ones. None when cancel() turned true (finished seeds stay)."""
    from deepvis.dream.files import write_json, write_png
    from deepvis.sources import read_image

    seeds = list(seeds)
    if not seeds:
        raise DeepvisError("--seeds must be at least 1")
    folder = Path(folder)
    label = loaded.labels[target] if target < len(loaded.labels) else f"class {target}"
    resumed = [s for s in finished_seeds(folder, gallery_key(loaded.name, target, settings)) if s in seeds]
    images = {seed: read_image(folder / seed_file(seed)) for seed in resumed}
    measures = dict(zip(resumed, measure_files(loaded, [folder / seed_file(s) for s in resumed], target)))
    todo = [seed for seed in seeds if seed not in images]
    total, step = settings.steps * len(seeds), batch_size(loaded.device)
    for start in range(0, len(todo), step):
        chunk = todo[start:start + step]
        done = settings.steps * (len(seeds) - len(todo) + start)
        report = None if progress is None else (
            lambda now, _n, done=done, k=len(chunk): progress(done + now * k, total))
        batch = class_images(loaded, [target] * len(chunk), chunk, settings, progress=report, cancel=cancel)
        if batch is None:
            return None
        for seed, image in zip(chunk, batch):
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
