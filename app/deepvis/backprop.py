"""The selected unit's signal in input space, from one backward pass on the device.

Three modes share one mechanism, autograd from the unit's layer to the input:
- gradient: plain autograd, d(seeded unit)/d(input).
- deconv (Zeiler & Fergus 2014): every ReLU's backward passes relu(grad_out)
  instead of grad_out * 1[x > 0]; max-pool backward already routes to the
  argmax (the "switches") and conv backward is the transposed convolution.
- guided (Springenberg et al. 2015): relu(grad_out) * 1[x > 0].

The rule reaches every ReLU-family call, however the model makes it: a
thread-local TorchFunctionMode reroutes torch.relu / relu_ / Tensor.relu(_),
F.relu, F.relu6 and F.hardtanh with min_val 0 (nn.ReLU, inplace or reused,
nn.ReLU6, timm's BatchNormAct2d, torchvision GoogLeNet's F.relu) to one
autograd.Function. Module hooks would miss the functional calls.

ReLU6, and any hardtanh clipped to [0, top]: guided = relu(g) * 1[0 < x < top]
(its own gradient mask); deconv = relu(g), as for ReLU: the deconvnet ignores
the forward pass at activations. Activations with no rule (GELU, SiLU, ...)
keep their plain gradient and are reported in BackpropResult.unsupported.

Seeds: live (position None), the selected channel carries its own activation
map (an fc unit: its value), as in the original toolbox; offline, 1 at one
position (y, x) of the channel. The softmax pseudo-layer is seeded at the
unit's logit (live: with the unit's probability as the seed value): the
softmax Jacobian p(1 - p) would fade the signal of a confident class to zero.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

from deepvis import DeepvisError
from deepvis.config import BACKPROP_FILTERS
from deepvis.hooks import forward_until
from deepvis.zoo import OUTPUT, SOFTMAX

log = logging.getLogger("deepvis.backprop")

MODES = ("gradient", "deconv", "guided")
# The `b` key's cycle of (mode, filter), as in the original toolbox.
BACKPROP_CYCLE = (("off", "raw"), ("gradient", "raw"), ("gradient", "norm"), ("deconv", "raw"), ("guided", "raw"))
NORM_BLUR_SIGMA = 4.0


@dataclass
class BackpropResult:
    input_signal: torch.Tensor  # B x 3 x H x W, d(seeded unit)/d(input), on the device
    captured: torch.Tensor | None  # the backward signal at capture_path's output, if asked
    unsupported: tuple[str, ...]  # activation ops that kept their plain gradient (e.g. "GELU")


# --------------------------------------------------------------------------- the ReLU rule


class _RectifierRule(torch.autograd.Function):
    """max(x, 0), optionally clipped at `top`, with the deconv or guided backward."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, top: float | None, mode: str, inplace: bool) -> torch.Tensor:
        if top is None:
            out = torch.relu_(x) if inplace else torch.relu(x)
        else:
            out = torch._C._nn.hardtanh_(x, 0.0, top) if inplace else torch._C._nn.hardtanh(x, 0.0, top)
        if inplace:
            ctx.mark_dirty(x)
        ctx.mode, ctx.top = mode, top
        if mode == "guided":
            # The output tells where the input was inside the open range (0, top).
            ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        grad = grad.relu()
        if ctx.mode == "guided":
            # The native ReLU / hardtanh backward kernels: grad where 0 < out (< top), else 0.
            (out,) = ctx.saved_tensors
            if ctx.top is None:
                grad = torch.ops.aten.threshold_backward(grad, out, 0)
            else:
                grad = torch.ops.aten.hardtanh_backward(grad, out, 0.0, ctx.top)
        return grad, None, None, None


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
        if mode not in ("deconv", "guided"):
            raise ValueError(f"no rectifier rule for mode {mode!r}")
        self.mode = mode
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
                return _RectifierRule.apply(x, top, self.mode, inplace)
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
    if mode == "gradient":
        yield None
        return
    rule = RectifierRule(mode)
    with rule:
        yield rule


# --------------------------------------------------------------------------- seeds and the backward pass


def _per_row(value: int | torch.Tensor, batch: int, device: torch.device) -> torch.Tensor:
    return torch.as_tensor(value, dtype=torch.long, device=device).reshape(-1).expand(batch)


def make_seed(out: torch.Tensor, unit: int | torch.Tensor,
              position: tuple[int, int] | torch.Tensor | None = None) -> torch.Tensor:
    """The backward signal placed at a layer's output: zero except the selected unit of each row.

    position None: the unit carries its own activation (live); else 1 at (y, x) (fc layers: at the unit).
    """
    batch, channels = out.shape[:2]
    units = _per_row(unit, batch, out.device).clamp(0, channels - 1)
    rows = torch.arange(batch, device=out.device)
    seed = torch.zeros_like(out)
    if position is None:
        seed[rows, units] = out.detach()[rows, units]
    elif out.dim() == 4:
        pos = torch.as_tensor(position, dtype=torch.long, device=out.device).reshape(-1, 2).expand(batch, 2)
        ys = pos[:, 0].clamp(0, out.shape[2] - 1)
        xs = pos[:, 1].clamp(0, out.shape[3] - 1)
        seed[rows, units, ys, xs] = 1
    else:
        seed[rows, units] = 1
    return seed


def backward_from(out: torch.Tensor, x: torch.Tensor, seed: torch.Tensor,
                  capture: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """d(seed . out)/d(x), and at `capture` when given; only the input side takes gradients."""
    inputs = [x] if capture is None else [x, capture]
    grads = torch.autograd.grad(out, inputs, grad_outputs=seed, allow_unused=True)
    signal = grads[0] if grads[0] is not None else torch.zeros_like(x)
    captured = None
    if capture is not None:
        # A layer after the origin gets no signal.
        captured = grads[1] if grads[1] is not None else torch.zeros_like(capture)
    return signal, captured


def _softmax_seed(logits: torch.Tensor, unit, position) -> torch.Tensor:
    """The softmax layer's seed, placed at the logit: the probability (live) or 1."""
    if position is not None:
        return make_seed(logits, unit, (0, 0))
    return make_seed(logits.detach().softmax(dim=-1), unit)


def origin_seed(path: str, out: torch.Tensor, unit, position) -> torch.Tensor:
    return _softmax_seed(out, unit, position) if path == SOFTMAX else make_seed(out, unit, position)


def _outputs_at(model: nn.Module, x: torch.Tensor, paths: list[str]) -> dict[str, torch.Tensor]:
    """The outputs (on the graph) of the module paths ("" = logits, "softmax"), the forward
    stopped after the last one that is needed."""
    try:
        modules = {path: model.get_submodule(path) for path in paths if path not in (OUTPUT, SOFTMAX)}
    except AttributeError as exc:
        raise DeepvisError(f"the model has no layer at that path ({exc})") from None
    needs_logits = len(modules) < len(set(paths))
    outputs, logits = forward_until(model, x, modules, stop=not needs_logits)
    if logits is not None:
        outputs[OUTPUT] = outputs[SOFTMAX] = logits
    missing = [p for p in paths if p not in outputs]
    if missing:
        raise DeepvisError(f"the model's forward pass never reached layer '{missing[0]}'")
    return outputs


def run_backprop(model: nn.Module, x: torch.Tensor, layer_path: str, unit: int | torch.Tensor, mode: str,
                 position: tuple[int, int] | torch.Tensor | None = None,
                 capture_path: str | None = None) -> BackpropResult:
    """The backward signal of one unit per batch row, from layer_path ("" = logits, "softmax") to the input.

    unit: one int or a LongTensor of B units; position None seeds the live
    activation, (y, x) or a B x 2 LongTensor seeds 1 there. The weights take no
    gradient and the model is left as it was: no hook, no mode, no state.
    """
    x = x.detach().requires_grad_(True)
    paths = [layer_path] + ([capture_path] if capture_path is not None else [])
    with torch.enable_grad():
        with backward_rule(mode) as rule:
            outputs = _outputs_at(model, x, paths)
        out = outputs[layer_path]
        seed = origin_seed(layer_path, out, unit, position)
        capture = outputs[capture_path] if capture_path is not None else None
        signal, captured = backward_from(out, x, seed, capture)
    unsupported = tuple(sorted(rule.unsupported)) if rule is not None else ()
    return BackpropResult(input_signal=signal.detach(), captured=None if captured is None else captured.detach(),
                          unsupported=unsupported)


def probe_backprop(probe, x: torch.Tensor, layer_path: str, unit: int, mode: str,
                   capture_path: str | None = None, only=None):
    """One forward shared by the display and the backward: (ProbeResult, BackpropResult).

    The forward runs with the input requiring grad and the mode's rule active
    (the rule changes only the backward, so the activations are the usual
    ones); the backward then runs from layer_path to the input alone.
    `only` limits the displayed layers captured, as in Probe.forward.
    """
    x = x.detach().requires_grad_(True)
    keep = [layer_path] + ([capture_path] if capture_path is not None else [])
    keep = [OUTPUT if path == SOFTMAX else path for path in keep]
    with torch.enable_grad():
        with backward_rule(mode) as rule:
            result, attached = probe.forward_attached(x, keep, only)
        missing = [path for path in keep if path not in attached]
        if missing:
            raise DeepvisError(f"the model's forward pass never reached layer '{missing[0]}'")
        out = attached[keep[0]]
        seed = origin_seed(layer_path, out, unit, None)
        capture = attached[keep[1]] if capture_path is not None else None
        signal, captured = backward_from(out, x, seed, capture)
    unsupported = tuple(sorted(rule.unsupported)) if rule is not None else ()
    return result, BackpropResult(signal.detach(), None if captured is None else captured.detach(), unsupported)


# --------------------------------------------------------------------------- display


def _centred(values: torch.Tensor) -> torch.Tensor:
    """Signed values -> [0, 1] with 0 at grey and the largest |value| at 0 or 1."""
    return values / (2 * values.abs().amax().clamp_min(1e-12)) + 0.5


def _stretched(values: torch.Tensor) -> torch.Tensor:
    low = values.amin()
    return (values - low) / (values.amax() - low).clamp_min(1e-12)


def gaussian_blur(image: torch.Tensor, sigma: float) -> torch.Tensor:
    """H x W values blurred with a Gaussian of `sigma` pixels (reflected edges)."""
    from torchvision.transforms.v2.functional import gaussian_blur as blur

    radius = int(np.ceil(3 * sigma))
    return blur(image[None, None], [2 * radius + 1] * 2, [sigma, sigma])[0, 0]


def display_filter(signal: torch.Tensor, name: str) -> torch.Tensor:
    """A 3 x H x W backward signal -> H x W x 3 floats in [0, 1], as the original toolbox shows it.

    raw: the signal centred on grey; gray: the channel mean, centred on grey;
    norm: the L2 norm over RGB, stretched to [0, 1]; norm-blur: that norm
    blurred (Gaussian, sigma 4) before stretching. (overlay needs the frame:
    see overlay_on_frame.)
    """
    signal = signal.float()
    if name == "raw":
        return _centred(signal).permute(1, 2, 0)
    if name == "gray":
        image = _centred(signal.mean(dim=0))
    elif name == "norm":
        image = _stretched(signal.norm(dim=0))
    elif name == "norm-blur":
        image = _stretched(gaussian_blur(signal.norm(dim=0), NORM_BLUR_SIGMA))
    else:
        raise ValueError(f"unknown backprop filter {name!r} (one of {', '.join(BACKPROP_FILTERS)})")
    return image[..., None].expand(*image.shape, 3)


def overlay_on_frame(signal: torch.Tensor, frame: torch.Tensor) -> torch.Tensor:
    """The blurred norm of the signal as a warm glow over the dimmed frame (H x W x 3 uint8): where
    in the picture the unit's evidence lies. H x W x 3 floats in [0, 1]."""
    heat = _stretched(gaussian_blur(signal.float().norm(dim=0), NORM_BLUR_SIGMA))[..., None]
    base = frame.float() / 255.0
    if base.shape[:2] != heat.shape[:2]:
        base = F.interpolate(base.permute(2, 0, 1)[None], size=heat.shape[:2], mode="bilinear",
                             align_corners=False)[0].permute(1, 2, 0)
    glow = torch.stack((torch.ones_like(heat[..., 0]), 0.35 + 0.6 * heat[..., 0], 0.05 + 0.1 * heat[..., 0]), -1)
    dimmed = 0.3 * base + 0.1
    return dimmed * (1 - heat) + (0.5 * base + 0.5 * glow) * heat


def backprop_image(signal: torch.Tensor, filter_name: str, size: int,
                   frame: torch.Tensor | None = None) -> torch.Tensor:
    """The backprop pane: the filtered 3 x H x W signal as a size x size x 3 uint8 image, on the device.
    `frame` (H x W x 3 uint8, the model's input as shown) is needed by the overlay filter."""
    from deepvis.render import to_levels

    if filter_name == "overlay":
        if frame is None:
            raise ValueError("the overlay filter needs the frame")
        image = overlay_on_frame(signal, frame)
    else:
        image = display_filter(signal, filter_name)
    if image.shape[:2] != (size, size):
        image = F.interpolate(image.permute(2, 0, 1)[None], size=(size, size), mode="bilinear",
                              align_corners=False)[0].permute(1, 2, 0)
    return to_levels(image)


def next_backprop_mode(mode: str, filter_name: str) -> tuple[str, str]:
    """The `b` key: off -> gradient raw -> gradient norm -> deconv raw -> guided raw -> off."""
    state = (mode, filter_name)
    if state in BACKPROP_CYCLE:
        return BACKPROP_CYCLE[(BACKPROP_CYCLE.index(state) + 1) % len(BACKPROP_CYCLE)]
    # Another filter (chosen with `m`): move on to the next mode.
    modes = [m for m, _ in BACKPROP_CYCLE]
    last = len(modes) - 1 - modes[::-1].index(mode) if mode in modes else 0
    return BACKPROP_CYCLE[(last + 1) % len(BACKPROP_CYCLE)]


def next_filter(filter_name: str) -> str:
    """The `m` key: raw -> gray -> norm -> norm-blur -> overlay -> raw."""
    index = BACKPROP_FILTERS.index(filter_name) if filter_name in BACKPROP_FILTERS else -1
    return BACKPROP_FILTERS[(index + 1) % len(BACKPROP_FILTERS)]


def unsupported_notice(names: tuple[str, ...] | list[str]) -> str:
    return f"no backprop rule for {', '.join(names)}: plain gradient"


# --------------------------------------------------------------------------- CLI


def write_probe_backprop(loaded, x: torch.Tensor, layer, unit: int, mode: str, out_dir) -> None:
    """`deepvis probe --backprop MODE`: DIR/backprop.npy (3 x H x W float32, the raw signal at the
    model input) and DIR/backprop.png (its raw display)."""
    import cv2

    result = run_backprop(loaded.model, x, layer.path, unit, mode)
    if result.unsupported:
        log.warning(unsupported_notice(result.unsupported))
    signal = result.input_signal[0]
    out = Path(out_dir)
    np.save(out / "backprop.npy", signal.float().cpu().numpy().astype(np.float32))
    image = backprop_image(signal, "raw", signal.shape[-1]).cpu().numpy()
    cv2.imwrite(str(out / "backprop.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
