"""DeepDream on any image (dream.ipynb): octaves from small to full size, the detail carried up.

Each octave starts from the image shrunk to that octave's size plus the detail
dreamed so far (upscaled), takes `steps` normalized gradient steps on a rolled
view, and hands its new detail (dreamed minus shrunk original) to the next.
Pixels live in optvis's PixelImage (Caffe's 0..255 space, mean subtracted), so
the notebook's lr of 1.5 grey levels carries over and the pixels stay valid.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from deepvis import DeepvisError
from deepvis.dream.ascent import NormalizedStep, Roll, dream_objective
from deepvis.optvis.param import PixelImage
from deepvis.optvis.render import render
from deepvis.optvis.seeds import ImageRandom
from deepvis.zoo import Layer, LoadedModel


# The layer each model dreams at by default, chosen by looking at dreams of the sample photos
# (EfficientNet-Lite0: the 5th stage's output grows eyes and snouts; the card's block3 only
# textures); other models dream at their card's default layer.
DREAM_LAYERS = {"efficientnet_lite0": "blocks.4"}


def dream_layer(loaded: LoadedModel, name: str | None = None) -> Layer:
    """The named layer (a short name or a module path), else the model's dream layer."""
    if name:
        return loaded.find_layer(name)
    preferred = DREAM_LAYERS.get(loaded.name)
    return loaded.find_layer(preferred) if preferred else loaded.default_layer()


@dataclass(frozen=True)
class DreamSettings:
    octaves: int = 4
    octave_scale: float = 1.4
    steps: int = 10  # per octave
    lr: float = 1.5  # mean step in grey levels (0..255)
    jitter: int = 32  # pixels of random roll each way
    seed: int = 0

    def check(self) -> "DreamSettings":
        if self.octaves < 1:
            raise DeepvisError(f"--octaves must be at least 1, not {self.octaves}")
        if not self.octave_scale > 1.0:
            raise DeepvisError(f"--octave-scale must be above 1, not {self.octave_scale}")
        if self.steps < 1:
            raise DeepvisError(f"--steps must be at least 1, not {self.steps}")
        if not self.lr > 0:
            raise DeepvisError(f"--lr must be above 0, not {self.lr}")
        if self.jitter < 0:
            raise DeepvisError(f"--jitter must be 0 or more, not {self.jitter}")
        return self

    @property
    def total_steps(self) -> int:
        return self.octaves * self.steps


@dataclass
class OctaveRecord:
    size: tuple[int, int]  # width, height
    objective_start: float
    objective_end: float


@dataclass
class DreamResult:
    image: np.ndarray  # H x W x 3 uint8 RGB
    layer: str
    unit: int | None
    settings: DreamSettings
    octaves: list[OctaveRecord] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        """The objective at the end of the last octave over the start of the first."""
        start = self.octaves[0].objective_start
        return self.octaves[-1].objective_end / start if start else float("inf")

    def summary(self) -> dict:
        return {"layer": self.layer, "unit": self.unit, "settings": asdict(self.settings),
                "octaves": [{"size": list(o.size), "objective_start": o.objective_start,
                             "objective_end": o.objective_end} for o in self.octaves]}


def octave_sizes(height: int, width: int, settings: DreamSettings) -> list[tuple[int, int]]:
    """(height, width) of each octave, smallest first, the last the image's own."""
    sizes = []
    for k in reversed(range(settings.octaves)):
        shrink = settings.octave_scale ** k
        sizes.append((max(1, round(height / shrink)), max(1, round(width / shrink))))
    return sizes


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """1 x 3 x H x W in [0, 1] -> H x W x 3 uint8 on the host."""
    return (image[0].permute(1, 2, 0) * 255.0 + 0.5).clamp(0, 255).to(torch.uint8).cpu().numpy()


def dream(loaded: LoadedModel, rgb: np.ndarray, layer: Layer, unit: int | None = None,
          settings: DreamSettings = DreamSettings(),
          progress: Callable[[int, int], None] | None = None,
          cancel: Callable[[], bool] | None = None,
          on_octave: Callable[[int, OctaveRecord, np.ndarray], None] | None = None) -> DreamResult | None:
    """Dream on an H x W x 3 uint8 RGB image; None when cancel() turned true.

    progress(done, total) counts steps over all octaves; on_octave(index,
    record, image) gives each octave's dreamed image as it finishes.
    """
    settings.check()
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise DeepvisError(f"expected an RGB image, got an array of shape {rgb.shape}")
    device, card = loaded.device, loaded.card
    objective = dream_objective(loaded, layer, unit)
    mean = torch.tensor(card.mean, device=device).view(1, 3, 1, 1)
    std = torch.tensor(card.std, device=device).view(1, 3, 1, 1)

    def normalize(images: torch.Tensor) -> torch.Tensor:
        return (images - mean) / std

    original = torch.as_tensor(rgb).to(device).permute(2, 0, 1)[None].float() / 255.0
    result = DreamResult(image=rgb, layer=layer.name, unit=unit, settings=settings)
    detail = None
    sizes = octave_sizes(*rgb.shape[:2], settings)
    for index, size in enumerate(sizes):
        shrunk = original if size == tuple(rgb.shape[:2]) else F.interpolate(
            original, size=size, mode="bilinear", align_corners=False, antialias=True)
        base = (shrunk - mean) * 255.0  # PixelImage's space
        if detail is None:
            detail = torch.zeros_like(base)
        elif detail.shape != base.shape:
            detail = F.interpolate(detail, size=size, mode="bilinear", align_corners=False)
        param = PixelImage(base + detail, card.mean)
        with torch.no_grad():
            start = float(objective(loaded.model, normalize(param.image()))[0])
        done = index * settings.steps
        rendered = render(
            loaded.model, objective, param, transforms=Roll(settings.jitter),
            step_rule=NormalizedStep(settings.lr), steps=settings.steps, normalize=normalize,
            random=ImageRandom([settings.seed * 1000 + index]),
            progress=None if progress is None else (lambda now, _n: progress(done + now, settings.total_steps)),
            cancel=cancel)
        if rendered is None:
            return None
        detail = param.pixels.detach() - base
        record = OctaveRecord((size[1], size[0]), start, float(rendered.values[0]))
        result.octaves.append(record)
        result.image = to_uint8(rendered.images)
        if on_octave is not None:
            on_octave(index, record, result.image)
    return result
