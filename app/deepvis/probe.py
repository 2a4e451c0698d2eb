"""One forward pass on the device: the activations of the displayed layers and the top-k.

Preprocessing (crop or stretch, resize, normalize) runs on the device too, so a
frame crosses from the host once, as uint8.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Collection, Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from deepvis.hooks import first_tensor, hooked
from deepvis.zoo import OUTPUT, SOFTMAX, Layer, LoadedModel


@dataclass(frozen=True)
class Prediction:
    label: str
    index: int
    prob: float


@dataclass
class ProbeResult:
    input: torch.Tensor  # 1x3xHxW, normalized, what the model saw
    activations: dict[str, torch.Tensor]  # short layer name -> 1xCxHxW or 1xN, on the device
    logits: torch.Tensor  # 1xK
    top: list[Prediction]


def preprocess(
    rgb: np.ndarray | torch.Tensor,
    size: int,
    mean: Sequence[float],
    std: Sequence[float],
    device: torch.device,
    crop: str = "crop",
) -> torch.Tensor:
    """HxWx3 uint8 RGB -> 1x3xSxS float, normalized, on the device.

    crop: the centred square of the frame is resized; stretch: the whole frame
    is squeezed to a square.
    """
    frame = torch.as_tensor(rgb).to(device, non_blocking=True)
    x = frame.permute(2, 0, 1).unsqueeze(0)
    if crop == "crop":
        h, w = x.shape[-2:]
        side = min(h, w)
        top, left = (h - side) // 2, (w - side) // 2
        x = x[..., top : top + side, left : left + side]
    # The CPU resizes uint8 directly (a fast path); other devices resize floats.
    if device.type != "cpu":
        x = x.float()
    if x.shape[-2:] != (size, size):
        # Antialiasing keeps large camera frames from aliasing when shrunk.
        x = F.interpolate(x.contiguous(memory_format=torch.channels_last) if x.dtype == torch.uint8 else x,
                          size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    # (x / 255 - mean) / std as one multiply-add.
    mean_t, std_t = _channel_constants(tuple(mean), tuple(std), device)
    return torch.addcmul(-mean_t / std_t, x.float(), 1.0 / (255.0 * std_t))


@lru_cache(maxsize=16)
def _channel_constants(mean: tuple[float, ...], std: tuple[float, ...],
                       device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """mean and std as 1x3x1x1 tensors on the device, made once rather than copied there every frame."""
    return (torch.tensor(mean, device=device).view(1, 3, 1, 1),
            torch.tensor(std, device=device).view(1, 3, 1, 1))


def denormalize(x: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """The inverse of preprocess's normalization: 1x3xHxW in [0, 1]."""
    mean_t, std_t = _channel_constants(tuple(mean), tuple(std), x.device)
    return (x * std_t + mean_t).clamp_(0, 1)


def input_image(x: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """The model's input (1x3xHxW, normalized) as the H x W x 3 uint8 RGB image it came from."""
    mean_t, std_t = _channel_constants(tuple(mean), tuple(std), x.device)
    shift = 255.0 * mean_t + 0.5  # + 0.5: round, not floor
    return torch.addcmul(shift, x, 255.0 * std_t).clamp_(0, 255)[0].permute(1, 2, 0).to(torch.uint8)


@contextmanager
def capture_outputs(loaded: LoadedModel, paths: Sequence[str], store: dict[str, torch.Tensor], mutated: set[str],
                    attached: dict[str, torch.Tensor] | None = None) -> Iterator[None]:
    """Forward hooks that record each module's output into `store`; removed on exit.

    An output that a later in-place op (e.g. ReLU(inplace=True) after a conv)
    overwrites would be lost, so such outputs are cloned: `mutated` remembers
    them from run to run, and a tensor's version counter finds new ones.
    attached: when given, each output is also kept there as it is, on the
    autograd graph (for a backward pass that shares this forward); the model
    then goes on with a copy of a mutated output, so the kept one stays intact.
    """
    versions: dict[str, int] = {}

    def make_hook(path: str):
        def hook(_module, _inputs, output):
            single = isinstance(output, torch.Tensor)
            output = first_tensor(output)
            if output is None:
                return None
            if attached is not None:
                attached[path] = output
                if single and path in mutated:
                    store[path] = output.detach()
                    return output.clone()
            if path in mutated:
                store[path] = output.detach().clone()
            else:
                store[path] = output.detach()
                versions[path] = output._version
        return hook

    with hooked(forward=[(loaded.module(path), make_hook(path)) for path in paths]):
        yield
    changed = [p for p, v in versions.items() if store[p]._version != v]
    if changed:
        mutated.update(changed)
        raise _Mutated()


class _Mutated(Exception):
    """Raised when a captured output was overwritten in place; the pass is run again."""


class Probe:
    """Runs the model on frames and captures the displayed layers."""

    def __init__(self, loaded: LoadedModel, layers: Sequence[Layer] | None = None, crop: str = "crop", top_k: int = 5):
        self.loaded = loaded
        self.layers = tuple(layers) if layers is not None else loaded.layers
        self.crop = crop
        self.top_k = top_k
        self._mutated: set[str] = set()

    def preprocess(self, rgb: np.ndarray) -> torch.Tensor:
        card = self.loaded.card
        return preprocess(rgb, card.input_size, card.mean, card.std, self.loaded.device, self.crop)

    # no_grad rather than inference_mode: the in-place check needs version counters.
    @torch.no_grad()
    def forward(self, x: torch.Tensor, only: Collection[str] | None = None) -> ProbeResult:
        """The activations of every displayed layer, or of the layers named in `only`.

        Capturing fewer layers is faster live: every kept output is memory the
        forward pass cannot reuse.
        """
        return self.forward_attached(x, only=only)[0]

    def forward_attached(self, x: torch.Tensor, keep: Sequence[str] = (),
                         only: Collection[str] | None = None) -> tuple[ProbeResult, dict[str, torch.Tensor]]:
        """forward() with autograd as the caller set it, and the outputs of the module paths `keep`
        ("" = the logits) still on the graph, so that a backward pass can share this forward."""
        layers = [layer for layer in self.layers if only is None or layer.name in only]
        paths = sorted({layer.path for layer in layers if layer.path not in (SOFTMAX, OUTPUT)}
                       | {path for path in keep if path not in (SOFTMAX, OUTPUT)})
        for _attempt in range(2):
            outputs: dict[str, torch.Tensor] = {}
            attached: dict[str, torch.Tensor] | None = {} if keep else None
            try:
                with capture_outputs(self.loaded, paths, outputs, self._mutated, attached):
                    logits = self.loaded.model(x)
                break
            except _Mutated:
                continue  # now the overwritten outputs are cloned
        attached = {} if attached is None else {**attached, OUTPUT: logits}
        logits, x = logits.detach(), x.detach()
        activations = {}
        for layer in layers:
            if layer.path == SOFTMAX:
                activations[layer.name] = logits.softmax(dim=-1)
            elif layer.path == OUTPUT:
                activations[layer.name] = logits
            else:
                activations[layer.name] = outputs[layer.path]
        return ProbeResult(input=x, activations=activations, logits=logits, top=self.top(logits)), attached

    def top(self, logits: torch.Tensor) -> list[Prediction]:
        probs = logits[0].float().softmax(dim=-1)
        values, indices = probs.topk(min(self.top_k, probs.numel()))
        labels = self.loaded.labels
        return [
            Prediction(labels[i] if i < len(labels) else f"class {i}", i, p)
            for p, i in zip(values.tolist(), indices.tolist())
        ]

    def __call__(self, rgb: np.ndarray) -> ProbeResult:
        return self.forward(self.preprocess(rgb))
