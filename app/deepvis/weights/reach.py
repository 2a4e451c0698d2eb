"""Where a weight layer's channels go: the modules whose output still holds its filters' channels
one to one (channel k is filter k's response), found by tracing one forward pass.

The Live mode displays module outputs (a ReLU after a conv, a BatchNorm that holds its
activation, a pool); a filter of a conv is unit k of the first displayed module its output
reaches through channel-wise modules only: SqueezeNet's features.0 conv -> features.1 ReLU
(Live's conv1); EfficientNet-Lite0's conv_stem -> bn1 (a BatchNormAct2d holding its ReLU6:
Live's stem). Anything that mixes channels (a conv, a Linear, a Fire module) ends the path.

The trace records each module call's first input and its output by tensor identity (every
tensor is kept alive during the pass, so no identity is reused). A later call is on the path
when it consumes a tensor on the path and is channel-wise with the same channels, or when it
returns a tensor on the path (an in-place ReLU, a container whose output is that tensor).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from deepvis.hooks import first_tensor, hooked

# Modules whose channel k of the output depends on channel k of the input alone.
CHANNELWISE = (
    nn.modules.batchnorm._BatchNorm, nn.ReLU, nn.ReLU6, nn.SiLU, nn.GELU, nn.LeakyReLU, nn.ELU, nn.PReLU,
    nn.Sigmoid, nn.Tanh, nn.Hardswish, nn.Hardsigmoid, nn.Mish, nn.Identity, nn.modules.dropout._DropoutNd,
    nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d,
)
# timm's own activation classes, by name (timm is not imported for this).
CHANNELWISE_NAMES = {"Swish", "HardSwish", "HardSigmoid", "Mish", "GELU", "Sigmoid", "Tanh"}


def channelwise(module: nn.Module) -> bool:
    """A module known to keep channels apart, or a container made of such modules only."""
    if isinstance(module, CHANNELWISE) or type(module).__name__ in CHANNELWISE_NAMES:
        return True
    children = list(module.children())
    return bool(children) and all(channelwise(child) for child in children)


@dataclass
class _Call:
    path: str
    module: nn.Module
    input: torch.Tensor | None
    output: torch.Tensor | None


TRACE_SIZE = 64  # the paths do not depend on the image's size; a small pass is quick


def trace_calls(model: nn.Module, input_size: int) -> list[_Call]:
    """Every module call of one forward on a blank image, in the order the calls end (a container
    after its children), with its tensors kept alive. A small image first; the model's own size
    when the model refuses it (a Linear after a fixed-size flatten)."""
    calls: list[_Call] = []
    inputs: dict[int, list[torch.Tensor | None]] = {}  # id(module) -> the inputs of its open calls

    def pre_hook(module, args):
        inputs.setdefault(id(module), []).append(first_tensor(args) if args else None)

    def make_hook(path: str):
        def hook(module, _args, output):
            calls.append(_Call(path, module, inputs[id(module)].pop(), first_tensor(output)))
        return hook

    modules = list(model.named_modules())
    device = next(model.parameters(), torch.zeros(0)).device
    for size in dict.fromkeys((min(TRACE_SIZE, input_size), input_size)):
        calls.clear()
        inputs.clear()
        try:
            with hooked(forward=[(m, make_hook(p)) for p, m in modules], pre=[(m, pre_hook) for _, m in modules]):
                with torch.no_grad():
                    model(torch.zeros(1, 3, size, size, device=device))
            return calls
        except Exception:  # noqa: BLE001  (too small for this model: try its own size)
            if size == input_size:
                raise
    return calls


def _same_channels(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.dim() >= 2 and b.dim() >= 2 and a.shape[:2] == b.shape[:2]


def channel_paths(model: nn.Module, input_size: int) -> dict[str, tuple[str, ...]]:
    """For every Conv2d and Linear (by module path): the module paths its output channels reach
    one to one, in the order of the forward, starting with the layer itself ("" is the model's
    output). A layer run twice keeps its first call's paths."""
    calls = trace_calls(model, input_size)
    passes = [call.input is not None and call.output is not None and channelwise(call.module)
              and _same_channels(call.input, call.output) for call in calls]
    found: dict[str, tuple[str, ...]] = {}
    for start, call in enumerate(calls):
        if not isinstance(call.module, (nn.Conv2d, nn.Linear)) or call.path in found or call.output is None:
            continue
        on_path = {id(call.output)}
        reached = {call.path: start}  # path -> the call that put it on the path
        changed = True
        while changed:  # calls are in the order they end: a container comes after what it wraps
            changed = False
            for index in range(start + 1, len(calls)):
                later = calls[index]
                if later.path in reached or later.output is None:
                    continue
                if id(later.output) in on_path or (passes[index] and id(later.input) in on_path):
                    reached[later.path] = index
                    on_path.add(id(later.output))
                    changed = True
        found[call.path] = tuple(sorted(reached, key=reached.get))
    return found
