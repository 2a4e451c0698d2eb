"""The backprop methods, one class each on a shared base (Captum's shape): the plain gradient,
the deconvnet and guided backprop. A method is what it does to the backward pass of a
rectifier (ReLU, ReLU6, any hardtanh clipped to [0, top]); everything else in the network keeps
its plain gradient. A new method is one class here.

- gradient: plain autograd, d(seeded unit)/d(input): no rectifier rule.
- deconv (Zeiler & Fergus 2014): every rectifier's backward passes relu(grad_out) instead of
  grad_out * 1[x > 0]; max-pool backward already routes to the argmax (the "switches") and conv
  backward is the transposed convolution. For ReLU6 too: the deconvnet ignores the forward
  pass at activations.
- guided (Springenberg et al. 2015): relu(grad_out) * 1[0 < x (< top)].
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


class BackpropMethod:
    """A way to send a unit's signal back to the input. `rectified` says whether rectifiers get this
    method's backward (else the model runs untouched); `needs_output` whether that backward reads
    the rectifier's forward output."""

    name = ""
    title = ""
    rectified = False
    needs_output = False

    def rectifier_backward(self, grad: "torch.Tensor", out: "torch.Tensor | None",
                           top: float | None) -> "torch.Tensor":
        """The gradient a rectifier passes back, given its output's gradient (and output, when
        needs_output), top: its clip value (None for ReLU)."""
        raise NotImplementedError


class Gradient(BackpropMethod):
    name = "gradient"
    title = "gradient"


class Deconvnet(BackpropMethod):
    name = "deconv"
    title = "deconvnet (Zeiler & Fergus 2014)"
    rectified = True

    def rectifier_backward(self, grad, out, top):
        return grad.relu()


class GuidedBackprop(BackpropMethod):
    name = "guided"
    title = "guided backprop (Springenberg et al. 2015)"
    rectified = True
    needs_output = True

    def rectifier_backward(self, grad, out, top):
        import torch

        # The native ReLU / hardtanh backward kernels: grad where 0 < out (< top), else 0.
        grad = grad.relu()
        if top is None:
            return torch.ops.aten.threshold_backward(grad, out, 0)
        return torch.ops.aten.hardtanh_backward(grad, out, 0.0, top)


METHODS: dict[str, BackpropMethod] = {m.name: m for m in (Gradient(), Deconvnet(), GuidedBackprop())}
MODES = tuple(METHODS)
