"""Where a layer's units are read in the model, and the forward cut short after them.

A displayed layer is a module's output (what the user sees). Its
pre-activation is the input of the module's own activation (timm's
BatchNormAct2d applies `.act` inside): optimizing it keeps gradients alive where
ReLU/ReLU6 would cut them. Once every wanted value is taken, StopForward is
raised from the hook, so the rest of the network never runs.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import torch
from torch import nn

from deepvis import DeepvisError
from deepvis.hooks import StopForward, first_tensor, hooked, run_stoppable
from deepvis.zoo import OUTPUT, SOFTMAX, Layer, LoadedModel

ACTIVATIONS = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Hardswish, nn.Hardtanh, nn.Mish)


def unit_layers(loaded: LoadedModel, names: Sequence[str] | None) -> list[Layer]:
    """The layers to precompute: the given short names, or every displayed layer but the softmax."""
    if names:
        layers = [loaded.find_layer(n) for n in names]
    else:
        layers = list(loaded.layers)
    bad = [layer.name for layer in layers if layer.path == SOFTMAX]
    if bad and names:
        raise DeepvisError("the softmax is not a layer of units of its own (use the fc/output layer)")
    return [layer for layer in layers if layer.path != SOFTMAX]


def inner_activation(module: nn.Module) -> nn.Module | None:
    """The activation a norm+act module applies inside (timm's BatchNormAct2d `.act`), if any."""
    act = getattr(module, "act", None)
    if isinstance(act, nn.Module) and not isinstance(act, nn.Identity):
        return act
    return None


@dataclass(frozen=True)
class Site:
    """One tensor read at a layer: its output ('shown') or its pre-activation ('pre')."""

    layer: Layer
    kind: str  # shown | pre


@contextmanager
def read_sites(loaded: LoadedModel, sites: Sequence[Site], take: Callable[[Site, torch.Tensor], None],
               stop: bool = True) -> Iterator[None]:
    """Hooks that hand each site's tensor to `take`; raise StopForward when all were taken.

    Run the model with `hooks.run_stoppable`, which swallows the StopForward. A
    pre-activation is read by a pre-hook on the inner activation, before an
    in-place op overwrites it; stopping there means that op never runs at all.
    """
    remaining: set[int] = set(range(len(sites)))

    def fired(i: int, site: Site, value) -> None:
        tensor = first_tensor(value)
        if tensor is None:
            return
        take(site, tensor)
        remaining.discard(i)
        if stop and not remaining:
            raise StopForward

    forward, pre = [], []
    for i, site in enumerate(sites):
        module = loaded.module(site.layer.path)
        if site.kind == "pre":
            act = inner_activation(module)
            if act is None:
                raise DeepvisError(f"layer {site.layer.name} has no inner activation to read before")
            pre.append((act, lambda _m, inputs, i=i, s=site: fired(i, s, inputs)))
        else:
            forward.append((module, lambda _m, _in, out, i=i, s=site: fired(i, s, out)))
    with hooked(forward=forward, pre=pre):
        yield


def has_pre(loaded: LoadedModel, layer: Layer) -> bool:
    return layer.path not in (OUTPUT, SOFTMAX) and inner_activation(loaded.module(layer.path)) is not None


# --------------------------------------------------------------------------- receptive fields


@dataclass(frozen=True)
class ReceptiveField:
    """The input box of a spatial unit: rows start at y*stride+offset, `size` long (None: everything)."""

    stride: tuple[float, float]
    offset: tuple[float, float]
    size: tuple[int, int] | None

    def box(self, y: int, x: int, height: int, width: int) -> tuple[int, int, int, int]:
        """(top, left, bottom, right) of the unit at (y, x), clipped to the image."""
        if self.size is None:
            return 0, 0, height, width
        top = int(round(y * self.stride[0] + self.offset[0]))
        left = int(round(x * self.stride[1] + self.offset[1]))
        bottom, right = top + self.size[0], left + self.size[1]
        return max(top, 0), max(left, 0), min(bottom, height), min(right, width)


def _support(grad: torch.Tensor) -> tuple[int, int, int, int]:
    mask = grad.abs().sum(dim=0) > 0  # HxW
    rows = torch.nonzero(mask.any(dim=1)).flatten()
    cols = torch.nonzero(mask.any(dim=0)).flatten()
    if rows.numel() == 0:
        return 0, 0, 0, 0
    return int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1


def receptive_field(loaded: LoadedModel, layer: Layer, input_size: int, scale: int = 2) -> ReceptiveField | None:
    """Measured from the model: the support of the input gradient of one position of the layer.

    The gradient of the sum over channels at two neighbouring positions, on
    random inputs of the model's size, gives the box size and the stride; no
    table of architectures. A field that does not fit is measured again on
    inputs `scale` times larger (so deep fields are not clipped): the shown
    layer's field is measured before the window's first frame, and the larger
    inputs cost several times as much. None for a layer without a spatial map (fc, output).
    """
    if layer.path in (OUTPUT, SOFTMAX):
        return None
    generator = torch.Generator().manual_seed(0)
    field = None
    for size in dict.fromkeys((input_size, input_size * scale)):
        try:
            field = _measure_field(loaded, Site(layer, "shown"), size, generator)
        except RuntimeError:
            continue  # a model that needs its own input size
        if field is None or field.size is not None:
            return field
    return field  # clipped at every size: the stride alone


def _measure_field(loaded: LoadedModel, site: Site, size: int, generator: torch.Generator) -> ReceptiveField | None:
    """The field on random inputs of `size`; its size is None when it touches the border (clipped)."""
    taken: dict[str, torch.Tensor] = {}
    noise = torch.randn(2, 3, size, size, generator=generator)
    x = noise.repeat_interleave(2, dim=0).to(loaded.device).requires_grad_(True)  # [r1, r1, r2, r2]
    with torch.enable_grad(), read_sites(loaded, [site], lambda s, t: taken.setdefault("out", t)):
        run_stoppable(loaded.model, x)
    out = taken.get("out")
    if out is None or out.dim() != 4:
        return None
    h, w = out.shape[-2:]
    p0, p1 = (h // 2, w // 2), (min(h // 2 + 1, h - 1), min(w // 2 + 1, w - 1))
    seeds = torch.zeros_like(out)
    for b, (py, px) in enumerate((p0, p1, p0, p1)):
        seeds[b, :, py, px] = 1.0
    (grad,) = torch.autograd.grad(out, x, seeds)
    boxes = []
    for b0, b1 in ((0, 2), (1, 3)):
        a, c = _support(grad[b0]), _support(grad[b1])
        boxes.append((min(a[0], c[0]), min(a[1], c[1]), max(a[2], c[2]), max(a[3], c[3])))
    (t0, l0, b0_, r0), (t1, l1, _, _) = boxes
    clipped = t0 <= 0 or l0 <= 0 or b0_ >= size or r0 >= size
    stride_y = (t1 - t0) if (p1[0] > p0[0] and t1 > t0 and not clipped) else size / h
    stride_x = (l1 - l0) if (p1[1] > p0[1] and l1 > l0 and not clipped) else size / w
    if clipped:
        return ReceptiveField((stride_y, stride_x), (0.0, 0.0), None)
    return ReceptiveField((float(stride_y), float(stride_x)),
                          (t0 - p0[0] * stride_y, l0 - p0[1] * stride_x), (b0_ - t0, r0 - l0))
