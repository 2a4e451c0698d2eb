"""Seeds and the backward pass: one unit's signal in input space, from one backward pass on the
device.

Seeds: live (position None), the selected channel carries its own activation map (an fc unit:
its value), as in the original toolbox; offline, 1 at one position (y, x) of the channel. The
softmax pseudo-layer is seeded at the unit's logit (live: with the unit's probability as the
seed value): the softmax Jacobian p(1 - p) would fade the signal of a confident class to zero.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from deepvis import DeepvisError
from deepvis.backprop.rules import backward_rule
from deepvis.hooks import forward_until
from deepvis.zoo import OUTPUT, SOFTMAX

log = logging.getLogger("deepvis.backprop")


@dataclass
class BackpropResult:
    input_signal: torch.Tensor  # B x 3 x H x W, d(seeded unit)/d(input), on the device
    captured: torch.Tensor | None  # the backward signal at capture_path's output, if asked
    unsupported: tuple[str, ...]  # activation ops that kept their plain gradient (e.g. "GELU")


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


def write_probe_backprop(loaded, x: torch.Tensor, layer, unit: int, mode: str, out_dir) -> None:
    """`deepvis probe --backprop MODE`: DIR/backprop.npy (3 x H x W float32, the raw signal at the
    model input) and DIR/backprop.png (its raw display)."""
    from deepvis.backprop.display import backprop_image, unsupported_notice
    from deepvis.files import atomic_path, write_png_atomic

    result = run_backprop(loaded.model, x, layer.path, unit, mode)
    if result.unsupported:
        log.warning(unsupported_notice(result.unsupported))
    signal = result.input_signal[0]
    out = Path(out_dir)
    with atomic_path(out / "backprop.npy") as path:
        np.save(path, signal.float().cpu().numpy().astype(np.float32))
    write_png_atomic(out / "backprop.png", backprop_image(signal, "raw", signal.shape[-1]).cpu().numpy())
