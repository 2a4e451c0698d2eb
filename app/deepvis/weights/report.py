"""Every picture of a model's weights written to a folder (what `deepvis weights` makes)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from torch import nn

from deepvis import DeepvisError
from deepvis.files import result_folder, write_json_atomic
from deepvis.weights.colors import tile, upscale
from deepvis.weights.figures import save_figure, save_rgb
from deepvis.weights.histograms import histogram_figure
from deepvis.weights.layers import find_weight_layer, weight_layers, weights_of
from deepvis.weights.noise import filters_on_noise, noise_rgb
from deepvis.weights.pictures import layer_picture

MAX_HISTOGRAMS = 48


def safe_name(path: str) -> str:
    return path.replace("/", "_") or "model"


def noise_picture(model: nn.Module, size: int = 64, units: int = 64, conv: nn.Conv2d | None = None) -> np.ndarray:
    """A conv's filters (the model's first conv by default) applied to noise, as one tiled RGB image."""
    first = conv or next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    if first is None:
        raise DeepvisError("the model has no conv layer to apply to noise")
    images = noise_rgb(filters_on_noise(first, size=size, units=units))
    zoom = max(1, 128 // size)
    return tile(np.stack([upscale(i, zoom) for i in images]), cols=min(8, len(images)), pad=3, background=28)


def write_report(model: nn.Module, out: Path, only: list[str] | None = None, noise_size: int = 64,
                 title: str = "") -> dict:
    layers = weight_layers(model)
    if not layers:
        raise DeepvisError("the model has no conv or linear layers")
    chosen = [find_weight_layer(layers, name) for name in only] if only else layers
    out.mkdir(parents=True, exist_ok=True)
    result_folder(out / "layers")
    files, described = [], []
    weights = {layer.path: weights_of(model, layer) for layer in chosen}
    first = layers[0]
    if first.kind == "conv" and first.shape[1] == 3 and (not only or first in chosen):
        save_rgb(layer_picture(first, weights_of(model, first), "rgb").rgb, out / "first_layer_rgb.png")
        files.append("first_layer_rgb.png")
    for layer in chosen:
        picture = layer_picture(layer, weights[layer.path])
        name = f"layers/{layer.index:02d}_{safe_name(layer.path)}.png"
        save_rgb(picture.rgb, out / name)
        w = weights[layer.path]
        described.append({"path": layer.path, "kind": layer.kind, "shape": list(layer.shape), "picture": name,
                          "style": picture.style, "note": picture.note, "min": float(w.min()),
                          "max": float(w.max()), "mean": float(w.mean()), "std": float(w.std())})
    files.append("layers/")
    if first.kind == "conv" and (not only or first in chosen):
        save_rgb(noise_picture(model, noise_size), out / "filters_on_noise.png")
        files.append("filters_on_noise.png")
    save_figure(histogram_figure([(l, weights[l.path]) for l in chosen[:MAX_HISTOGRAMS]]), out / "histograms.png")
    files.append("histograms.png")
    summary = {"model": title, "layers": described, "files": files + ["weights.json"]}
    write_json_atomic(out / "weights.json", summary)
    return summary
