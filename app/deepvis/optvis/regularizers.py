"""What shapes a pixel image between steps (Yosinski et al. 2015): decay, blur and two clippings.

Each is called as `regularizer(x, grad, step) -> x` on an image parameter
(B x 3 x H x W; for the presets Caffe's mean-subtracted 0..255 space) after the
gradient step, with the gradient that step used.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


class L2Decay:
    """x <- (1 - decay) x: pulls every pixel towards the mean."""

    def __init__(self, decay: float):
        self.decay = decay

    def __call__(self, x: torch.Tensor, grad: torch.Tensor, step: int) -> torch.Tensor:
        return x * (1.0 - self.decay)


class GaussianBlur:
    """A Gaussian blur of `sigma` pixels on every `every`-th step (steps 0, every, 2 * every, ...)."""

    def __init__(self, sigma: float, every: int = 1):
        self.sigma, self.every = sigma, every

    def __call__(self, x: torch.Tensor, grad: torch.Tensor, step: int) -> torch.Tensor:
        if step % self.every:
            return x
        radius = max(1, int(math.ceil(3 * self.sigma)))
        offsets = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
        kernel = torch.exp(-0.5 * (offsets / self.sigma) ** 2)
        kernel = kernel / kernel.sum()
        channels = x.shape[1]
        # Separable: along rows, then along columns; the border reflected.
        rows = kernel.view(1, 1, 1, -1).expand(channels, 1, 1, -1)
        x = F.conv2d(F.pad(x, [radius, radius, 0, 0], mode="reflect"), rows, groups=channels)
        return F.conv2d(F.pad(x, [0, 0, radius, radius], mode="reflect"), rows.transpose(2, 3), groups=channels)


def _at_or_above_percentile(values: torch.Tensor, pct: float) -> torch.Tensor:
    """B x H x W -> B x 1 x H x W, True where the value is at or above the image's own percentile."""
    flat = values.flatten(1)
    k = max(1, min(flat.shape[1], int(round(pct / 100.0 * flat.shape[1]))))
    threshold = flat.kthvalue(k, dim=1).values
    return (values >= threshold[:, None, None])[:, None]


class ClipSmallNorm:
    """Zeroes the pixels whose RGB norm is below the image's `pct` percentile."""

    def __init__(self, pct: float):
        self.pct = pct

    def __call__(self, x: torch.Tensor, grad: torch.Tensor, step: int) -> torch.Tensor:
        return x * _at_or_above_percentile(x.norm(dim=1), self.pct)


class ClipSmallContribution:
    """Zeroes the pixels whose contribution |sum_c x * grad| is below the image's `pct` percentile.

    x * grad is the first-order change of the objective when the pixel is set
    to zero (the mean), so these pixels matter least.
    """

    def __init__(self, pct: float):
        self.pct = pct

    def __call__(self, x: torch.Tensor, grad: torch.Tensor, step: int) -> torch.Tensor:
        return x * _at_or_above_percentile((x * grad).sum(dim=1).abs(), self.pct)
