"""The rule that reaches every rectifier, however the model calls it.

A thread-local TorchFunctionMode reroutes torch.relu / relu_ / Tensor.relu(_), F.relu, F.relu6
and F.hardtanh with min_val 0 (nn.ReLU, inplace or reused, nn.ReLU6, timm's BatchNormAct2d,
torchvision GoogLeNet's F.relu) to one autograd.Function whose backward is the method's.
Module hooks would miss the functional calls. Activations with no rule (GELU, SiLU, ...) keep
their plain gradient and are named in `unsupported`.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

from deepvis import DeepvisError
from deepvis.backprop.methods import METHODS, MODES, BackpropMethod


class _RectifierRule(torch.autograd.Function):
    """max(x, 0), optionally clipped at `top`, with a method's backward."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, top: float | None, method: BackpropMethod, inplace: bool) -> torch.Tensor:
        if top is None:
            out = torch.relu_(x) if inplace else torch.relu(x)
        else:
            out = torch._C._nn.hardtanh_(x, 0.0, top) if inplace else torch._C._nn.hardtanh(x, 0.0, top)
        if inplace:
            ctx.mark_dirty(x)
        ctx.method, ctx.top = method, top
        if method.needs_output:
            # The output tells where the input was inside the open range (0, top).
            ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        out = ctx.saved_tensors[0] if ctx.method.needs_output else None
        return ctx.method.rectifier_backward(grad, out, ctx.top), None, None, None


def _flag(args, kwargs, name: str, index: int) -> bool:
    return bool(kwargs.get(name, args[index] if len(args) > index else False))


def _rectifier_table() -> dict:
    """ReLU-family functions -> a parser (args, kwargs) -> (input, top or None, inplace), or None: no rule."""
    def relu(inplace: bool):
        return lambda args, kwargs: (args[0], None, inplace or _flag(args, kwargs, "inplace", 1))

    def relu6(inplace: bool):
        return lambda args, kwargs: (args[0], 6.0, inplace or _flag(args, kwargs, "inplace", 1))

    def hardtanh(inplace: bool):
        def parse(args, kwargs):
            low = kwargs.get("min_val", args[1] if len(args) > 1 else -1.0)
            high = kwargs.get("max_val", args[2] if len(args) > 2 else 1.0)
            if low != 0:
                return None  # not a rectifier
            return args[0], float(high), inplace or _flag(args, kwargs, "inplace", 3)
        return parse

    return {
        F.relu: relu(False), torch.relu: relu(False), torch.Tensor.relu: relu(False),
        torch.relu_: relu(True), torch.Tensor.relu_: relu(True),
        F.relu6: relu6(False), torch._C._nn.relu6: relu6(False), torch._C._nn.relu6_: relu6(True),
        F.hardtanh: hardtanh(False), torch._C._nn.hardtanh: hardtanh(False), torch._C._nn.hardtanh_: hardtanh(True),
    }


RECTIFIERS = _rectifier_table()


def _unsupported_table() -> dict:
    """Activation functions with no deconv/guided rule, by the name the status bar shows."""
    names = {
        "GELU": ("gelu", "gelu_"), "SiLU": ("silu", "silu_"), "Hardswish": ("hardswish", "hardswish_"),
        "Mish": ("mish", "mish_"), "ELU": ("elu", "elu_"), "SELU": ("selu", "selu_"), "CELU": ("celu", "celu_"),
        "LeakyReLU": ("leaky_relu", "leaky_relu_"), "PReLU": ("prelu",), "RReLU": ("rrelu", "rrelu_"),
        "Softplus": ("softplus",), "Hardsigmoid": ("hardsigmoid", "hardsigmoid_"),
    }
    table = {}
    for label, funcs in names.items():
        for name in funcs:
            for namespace in (F, torch, torch._C._nn, torch.Tensor):
                func = getattr(namespace, name, None)
                if func is not None:
                    table[func] = label
    return table


UNSUPPORTED = _unsupported_table()


class RectifierRule(TorchFunctionMode):
    """Reroutes every ReLU-family call to the deconv or guided backward while active.

    Thread-local, as all torch function modes: another thread's calls are untouched.
    `rerouted` counts the calls taken over; `unsupported` names the activations seen without a rule.
    """

    def __init__(self, mode: str):
        super().__init__()
        method = METHODS.get(mode)
        if method is None or not method.rectified:
            raise ValueError(f"no rectifier rule for mode {mode!r}")
        self.mode, self.method = mode, method
        self.rerouted = 0
        self.unsupported: set[str] = set()

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        parse = RECTIFIERS.get(func)
        if parse is not None:
            call = parse(args, kwargs)
            if call is not None:
                x, top, inplace = call
                self.rerouted += 1
                return _RectifierRule.apply(x, top, self.method, inplace)
            self.unsupported.add("Hardtanh")
        else:
            label = UNSUPPORTED.get(func)
            if label is not None:
                self.unsupported.add(label)
        return func(*args, **kwargs)


@contextmanager
def backward_rule(mode: str) -> Iterator[RectifierRule | None]:
    """The mode's ReLU rule active within the block (None for the plain gradient)."""
    if mode not in MODES:
        raise DeepvisError(f"unknown backprop mode '{mode}' (one of {', '.join(MODES)})")
    if not METHODS[mode].rectified:
        yield None
        return
    rule = RectifierRule(mode)
    with rule:
        yield rule
