"""The MLP a table is learned with, and its two files: model.pth (the weights) and model.json
(columns, variable groups, scaling, sizes, activation, the split; everything explain needs)."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import torch
from torch import nn

from deepvis import DeepvisError
from deepvis.files import atomic_files, json_text
from deepvis.tabular.data import Encoding

# softplus, a smooth ReLU, is the default: with ReLU's kinks the midpoint rule of integrated
# gradients errs as 1/steps (64 steps: up to 20% on single rows of wine's h1), with a smooth
# activation as 1/steps^2 (64 steps: under 0.1%).
ACTIVATIONS = {"softplus": nn.Softplus, "relu": nn.ReLU, "tanh": nn.Tanh}
FORMAT = "deepvis-tabular/1"


class TabularMLP(nn.Module):
    """Linear layers with an activation after each but the last.

    Layers are named h1, h2, ... and out; a hidden neuron's value is taken after its
    activation, an output neuron's is the raw output (a logit, or the standardized prediction).
    Layer k's value is the output of its own module activations[k] (an nn.Identity for out), so
    that a forward hook on it (Captum's layer and neuron methods hook a module) reads that layer
    alone: one module reused for every layer would be called once per layer, and a hook on it
    would end up with the last call's value. Activations hold no weights: the state dict has the
    linears' only, the same keys as when one module served every layer.
    """

    def __init__(self, sizes: list[int], activation: str = "softplus"):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise DeepvisError(f"--activation {activation}: use one of {', '.join(ACTIVATIONS)}")
        if len(sizes) < 2 or min(sizes) < 1:
            raise DeepvisError(f"layer sizes {sizes}: every layer needs at least one neuron")
        self.sizes = list(sizes)
        self.activation_name = activation
        self.linears = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        hidden = len(self.linears) - 1
        self.activations = nn.ModuleList([ACTIVATIONS[activation]() for _ in range(hidden)] + [nn.Identity()])

    @property
    def layer_names(self) -> list[str]:
        return [f"h{i + 1}" for i in range(len(self.linears) - 1)] + ["out"]

    def layer_index(self, layer: str | int | None) -> int:
        """A layer's position: from its name (h1, out), its number as typed ("1" is h1), an index
        (0 is h1), or None (h1)."""
        names = self.layer_names
        if layer is None:
            return 0
        if isinstance(layer, int):
            index = layer
        elif layer.isdigit():
            index = int(layer) - 1
        else:
            index = names.index(layer) if layer in names else -1
        if 0 <= index < len(names):
            return index
        raise DeepvisError(f"--layer {layer}: no such layer (layers: {', '.join(names)})")

    def forward(self, x: torch.Tensor, upto: int | None = None) -> torch.Tensor:
        """The network's output, or the values of layer `upto` (an index into layer_names)."""
        last = len(self.linears) - 1 if upto is None else upto
        for linear, activation in zip(self.linears[: last + 1], self.activations):
            x = activation(linear(x))
        return x

    def all_layers(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Every layer's values in one pass."""
        out = []
        for linear, activation in zip(self.linears, self.activations):
            x = activation(linear(x))
            out.append(x)
        return out


def save_model(folder: Path, model: TabularMLP, meta: dict, extra: dict[str, dict] | None = None) -> None:
    """model.pth and model.json, and `extra` JSON files by name (metrics.json); meta holds the
    table's description (see train.model_meta). All are renamed into place together once every
    one is written: a failed write (a full disk) keeps the folder's old model whole."""
    info = {"format": FORMAT, "sizes": model.sizes, "activation": model.activation_name,
            "layers": model.layer_names, **meta}
    with atomic_files() as files:
        torch.save(model.state_dict(), files.path(folder / "model.pth"))
        for name, value in {"model.json": info, **(extra or {})}.items():
            files.path(folder / name).write_text(json_text(value, indent=1))


def load_model(folder: str | Path) -> tuple[TabularMLP, dict, Encoding]:
    """The network (weights loaded safely), its model.json and the encoding of its inputs."""
    folder = Path(folder)
    for name in ("model.json", "model.pth"):
        if not (folder / name).is_file():
            raise DeepvisError(f"{folder}: no {name} here (make one with `deepvis tabular train --out {folder}`)")
    try:
        meta = json.loads((folder / "model.json").read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DeepvisError(f"{folder / 'model.json'}: not valid JSON ({exc})") from None
    if meta.get("format") != FORMAT:
        raise DeepvisError(f"{folder / 'model.json'}: not a deepvis tabular model (format {meta.get('format')!r})")
    model = TabularMLP(meta["sizes"], meta["activation"])
    try:
        state = torch.load(folder / "model.pth", map_location="cpu", weights_only=True)
        model.load_state_dict(state)
    except Exception as exc:  # a truncated or foreign file: one line, not a traceback
        from deepvis.zoo import code_refused, holds_code

        if holds_code(exc):
            raise code_refused(folder / "model.pth") from None
        if isinstance(exc, pickle.UnpicklingError):  # its first line advises weights_only=False
            raise DeepvisError(f"{folder / 'model.pth'}: the file is corrupt or not a state dict") from None
        raise DeepvisError(f"{folder / 'model.pth'}: cannot be loaded ({str(exc).splitlines()[0]})") from None
    return model.eval(), meta, Encoding.from_json(meta["variables"])
