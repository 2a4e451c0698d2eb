"""DeepDream on any image (dream.ipynb): octaves from small to full size, the detail carried up.

Each octave starts from the image shrunk to that octave's size plus the detail
dreamed so far (upscaled), takes `steps` normalized gradient steps on a rolled
view, and hands its new detail (dreamed minus shrunk original) to the next.
Pixels live in the space of optvis's PixelImage (Caffe's 0..255, mean
subtracted), so the notebook's lr of 1.5 grey levels carries over and the
pixels stay valid. The gradient is taken tile by tile (deepvis.dream.tiles),
and an octave holds two full-size float tensors (its pixels and their
gradient), so memory grows with the image only by the image itself.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from deepvis import DeepvisError
from deepvis.dream.ascent import Roll, dream_objective
from deepvis.dream.tiles import TILE, row_bands, seam_shift, tiled_gradient, tiled_value
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


def pixel_steps(height: int, width: int, settings: DreamSettings) -> int:
    """A dream's work: pixels times steps, summed over the octaves (what its progress counts, so that
    the bar moves evenly while a step's cost grows with the octave's size)."""
    return sum(h * w for h, w in octave_sizes(height, width, settings)) * settings.steps


def shrunk_pixels(rgb: np.ndarray, size: tuple[int, int], mean: torch.Tensor) -> torch.Tensor:
    """The photo at `size` (height, width) as PixelImage's pixels (0..255, mean subtracted): one
    new float tensor, the full-size float copy it is made from dropped once shrunk."""
    image = torch.as_tensor(rgb).to(mean.device).permute(2, 0, 1)[None].float().div_(255.0)
    if size != tuple(rgb.shape[:2]):
        image = F.interpolate(image, size=size, mode="bilinear", align_corners=False, antialias=True)
    return image.sub_(mean).mul_(255.0)


def to_uint8(pixels: torch.Tensor, mean: torch.Tensor) -> np.ndarray:
    """PixelImage's 1 x 3 x H x W pixels -> H x W x 3 uint8 RGB on the host, a band of rows at a time
    (no full-size float copy)."""
    height, width = pixels.shape[-2:]
    rgb = torch.empty(height, width, 3, dtype=torch.uint8)
    for top, bottom in row_bands(height, width):
        band = (pixels[:, :, top:bottom] / 255.0).add_(mean).mul_(255.0).add_(0.5).clamp_(0, 255)
        rgb[top:bottom] = band[0].permute(1, 2, 0).to(torch.uint8).cpu()
    return rgb.numpy()


def dream(loaded: LoadedModel, rgb: np.ndarray, layer: Layer, unit: int | None = None,
          settings: DreamSettings = DreamSettings(),
          progress: Callable[[int, int], None] | None = None,
          cancel: Callable[[], bool] | None = None,
          on_octave: Callable[[int, OctaveRecord, np.ndarray], None] | None = None,
          tile: int = TILE) -> DreamResult | None:
    """Dream on an H x W x 3 uint8 RGB image; None when cancel() turned true.

    progress(done, total) counts pixel-steps (see pixel_steps) as each tile
    ends; on_octave(index, record, image) gives each octave's dreamed image as
    it finishes. The gradient is taken tile by tile (deepvis.dream.tiles), so
    the memory beyond the image and its gradient is that of one tile's pass.
    """
    settings.check()
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise DeepvisError(f"expected an RGB image, got an array of shape {rgb.shape}")
    device, card = loaded.device, loaded.card
    objective = dream_objective(loaded, layer, unit)
    mean = torch.tensor(card.mean, device=device).view(1, 3, 1, 1)
    std = torch.tensor(card.std, device=device).view(1, 3, 1, 1)
    low, high = -255.0 * mean, 255.0 * (1 - mean)  # the pixels of an image in [0, 1]

    def model_input(pixels: torch.Tensor) -> torch.Tensor:
        image = pixels / 255.0 + mean  # as optvis's PixelImage and render compute it
        return (image - mean) / std

    def value(pixels: torch.Tensor) -> float:
        return float(tiled_value(loaded.model, objective, pixels, model_input, tile)[0])

    result = DreamResult(image=rgb, layer=layer.name, unit=unit, settings=settings)
    total = pixel_steps(*rgb.shape[:2], settings)
    done = 0

    def tile_done(pixels: int) -> None:
        nonlocal done
        done += pixels
        if progress is not None:
            progress(done, total)

    jitter = Roll(settings.jitter)
    detail = None  # what the octaves so far added to the photo, at the last octave's size
    sizes = octave_sizes(*rgb.shape[:2], settings)
    for index, size in enumerate(sizes):
        if detail is not None and detail.shape[-2:] != size:
            detail = F.interpolate(detail, size=size, mode="bilinear", align_corners=False)  # the smaller one goes
        pixels = shrunk_pixels(rgb, size, mean)
        if detail is not None:
            pixels.add_(detail)
            detail = None
        pixels.clamp_(low, high)
        start = value(pixels)
        random = ImageRandom([settings.seed * 1000 + index])
        grads = torch.empty_like(pixels)
        for _ in range(settings.steps):
            shift = jitter.shifts(random)[0] if settings.jitter > 0 else (0, 0)
            extra = seam_shift(random, *size, tile)
            mean_abs = tiled_gradient(loaded.model, objective, pixels, model_input, grads,
                                      (shift[0] + extra[0], shift[1] + extra[1]), tile, cancel, tile_done)
            if mean_abs is None:
                return None
            # dream.ipynb's step, in place: x <- x + lr * g / mean|g|, clipped to the valid range.
            pixels.add_(grads.mul_((settings.lr / mean_abs.clamp_min(1e-12)).view(-1, 1, 1, 1)))
            pixels.clamp_(low, high)
        del grads
        record = OctaveRecord((size[1], size[0]), start, value(pixels))
        result.octaves.append(record)
        result.image = to_uint8(pixels, mean)
        if index < len(sizes) - 1:
            detail = pixels.sub_(shrunk_pixels(rgb, size, mean))  # the pixels' buffer is not needed any more
        del pixels
        if on_octave is not None:
            on_octave(index, record, result.image)
    return result
