"""Model cards (models/NAME.yaml), read without torch.

A card names the displayed layers in order with their short names, the input
size, normalization and labels. `deepvis models` and `deepvis --help` read the
cards only, so this module imports no torch; the loaders are in deepvis.zoo.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from deepvis.paths import MODELS_DIR

DEFAULT_MODEL = "efficientnet_lite0"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# The pseudo-layer holding the softmax of the model's output.
SOFTMAX = "softmax"
# The module path "" is the whole model: its output (the logits).
OUTPUT = ""


@dataclass(frozen=True)
class Layer:
    """A displayed layer: a short name and the module whose output is shown."""

    name: str
    path: str  # a module path from named_modules(), "" for the output, or "softmax"


@dataclass(frozen=True)
class ModelCard:
    name: str
    title: str
    source: str  # embedded | torchvision | timm | custom
    input_size: int = 224
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    labels: str = "imagenet"
    weights: str | None = None  # torchvision weights enum member
    default_layer: str | None = None
    layers: tuple[Layer, ...] = ()


def card_path(name: str) -> Path:
    return MODELS_DIR / f"{name}.yaml"


@lru_cache(maxsize=None)
def read_card(name: str) -> ModelCard | None:
    path = card_path(name)
    if not path.exists():
        return None
    raw = yaml.safe_load(path.read_text())
    layers = tuple(Layer(str(short), str(module)) for short, module in (raw.get("layers") or {}).items())
    return ModelCard(
        name=raw["name"],
        title=raw.get("title", raw["name"]),
        source=raw.get("source", "torchvision"),
        input_size=int(raw.get("input_size", 224)),
        mean=tuple(raw.get("mean", IMAGENET_MEAN)),
        std=tuple(raw.get("std", IMAGENET_STD)),
        labels=raw.get("labels", "imagenet"),
        weights=raw.get("weights"),
        default_layer=raw.get("default_layer"),
        layers=layers,
    )


def builtin_models() -> list[ModelCard]:
    """The models that have a card, the embedded default first."""
    cards = [read_card(p.stem) for p in sorted(MODELS_DIR.glob("*.yaml"))]
    cards = [c for c in cards if c is not None]
    return sorted(cards, key=lambda c: (c.name != DEFAULT_MODEL, c.name))
