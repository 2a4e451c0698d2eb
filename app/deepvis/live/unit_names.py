"""What a unit stands for: the units of a classifier's output are its classes, named by the same
labels the predictions pane shows (the model card's `labels`, ImageNet's 1000 names for most)."""

from __future__ import annotations

from deepvis.cards import OUTPUT, SOFTMAX
from deepvis.zoo import LoadedModel


def class_name(loaded: LoadedModel, layer: str, unit: int, n_units: int | None = None) -> str | None:
    """The class of `unit` when `layer` holds one unit per class: the softmax, the model's output, or
    the logits layer whose images the softmax shows (fc). None for other layers; `n_units`, when
    known, must be the number of classes (a card whose last layer before the softmax is not the
    logits gets no names)."""
    paths = {shown.name: shown.path for shown in loaded.layers}
    path = paths.get(layer)
    if path is None or not 0 <= unit < len(loaded.labels):
        return None
    if n_units is not None and n_units != len(loaded.labels):
        return None
    logits = {loaded.images_layer(name) for name, p in paths.items() if p == SOFTMAX}
    if path in (SOFTMAX, OUTPUT) or layer in logits:
        return loaded.labels[unit]
    return None


def unit_title(loaded: LoadedModel, layer: str, unit: int, n_units: int | None = None) -> str:
    """layer:unit, with its class name for an output unit (fc:281 · tabby)."""
    name = class_name(loaded, layer, unit, n_units)
    return f"{layer}:{unit}" + (f" · {name}" if name else "")
