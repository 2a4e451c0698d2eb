"""One way to hook a model: hooks removed in `finally`, and forwards that stop early.

Every reader of intermediate tensors (the probe, backprop, unit sites, the
optimizer, layer discovery) registers its hooks through `hooked`, so a hook can
never outlive the pass it was made for, even when the pass raises. A hook that
has taken all it needs raises `StopForward`; `run_stoppable` swallows it, so the
rest of the model never runs.
"""

from __future__ import annotations

import weakref
from contextlib import contextmanager
from typing import Callable, Iterable, Iterator, Mapping

import torch
from torch import nn

ForwardHook = Callable[[nn.Module, tuple, object], object]
PreHook = Callable[[nn.Module, tuple], object]


class StopForward(Exception):
    """Raised by a hook once every needed tensor is captured: the rest of the model is not run."""


@contextmanager
def hooked(forward: Iterable[tuple[nn.Module, ForwardHook]] = (),
           pre: Iterable[tuple[nn.Module, PreHook]] = ()) -> Iterator[None]:
    """Forward hooks and forward pre-hooks on modules, removed however the block ends."""
    handles = []
    try:
        for module, hook in pre:
            handles.append(module.register_forward_pre_hook(hook))
        for module, hook in forward:
            handles.append(module.register_forward_hook(hook))
        yield
    finally:
        for handle in handles:
            handle.remove()


def run_stoppable(model: nn.Module, *inputs: torch.Tensor):
    """model(*inputs), or None when a hook stopped it with StopForward."""
    try:
        return model(*inputs)
    except StopForward:
        return None


def first_tensor(output) -> torch.Tensor | None:
    """A module's output as one tensor: the first element of a tuple or list output."""
    if isinstance(output, (tuple, list)):
        output = output[0] if output else None
    return output if isinstance(output, torch.Tensor) else None


# How often each hooked module of a model ran in one forward: a module reused in the forward
# (ResNet's relu) gives its last call's output, so the forward may stop only after that call.
# Keyed by module, not by the caller's name for it, so callers naming modules differently agree.
_CALL_COUNTS: "weakref.WeakKeyDictionary[nn.Module, weakref.WeakKeyDictionary[nn.Module, int]]" = (
    weakref.WeakKeyDictionary())


def forward_until(model: nn.Module, x: torch.Tensor, modules: Mapping[str, nn.Module],
                  stop: bool = True) -> tuple[dict[str, torch.Tensor], object]:
    """Run model(x) only as far as the named modules need: their (last) outputs, on the graph.

    Returns (outputs by name, the model's output or None when stopped early). The
    first pass over a model runs it to the end and counts each module's calls; later
    passes stop right after each module's last call. A captured output is protected
    from later in-place ops: the model goes on with a copy.
    """
    known = _CALL_COUNTS.get(model, {})
    stop_after = ({name: known[module] for name, module in modules.items()}
                  if stop and modules and all(module in known for module in modules.values()) else None)
    outputs: dict[str, torch.Tensor] = {}
    calls = dict.fromkeys(modules, 0)

    def make_hook(name: str) -> ForwardHook:
        def hook(_module, _inputs, output):
            single = isinstance(output, torch.Tensor)
            tensor = first_tensor(output)
            if tensor is None:
                return None
            outputs[name] = tensor
            calls[name] += 1
            if stop_after is not None and all(calls[n] >= stop_after[n] for n in modules):
                raise StopForward
            return tensor.clone() if single else None
        return hook

    with hooked(forward=[(module, make_hook(name)) for name, module in modules.items()]):
        result = run_stoppable(model, x)
    if stop_after is None and result is not None:  # a whole forward: every call was counted
        _CALL_COUNTS.setdefault(model, weakref.WeakKeyDictionary()).update(
            {module: calls[name] for name, module in modules.items()})
    return outputs, result
