"""Filters applied to noise (seed 001): start from noise and repeatedly strengthen each filter's
own response, so that its structure shows at full size.

Image u starts as Gaussian noise and takes normalized gradient-ascent steps on the mean of
relu(filter u * image + bias u), renormalized to zero mean and unit variance after each step.
All filters run at once as one grouped convolution.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def filters_on_noise(conv: nn.Conv2d, size: int = 64, steps: int = 40, lr: float = 0.25, seed: int = 0,
                     units: int | None = None) -> np.ndarray:
    """U x C_in x size x size float32: each unit's input image after `steps` steps from noise."""
    weight = conv.weight.detach().float().cpu()
    bias = conv.bias.detach().float().cpu() if conv.bias is not None else torch.zeros(len(weight))
    if units is not None:
        weight, bias = weight[:units], bias[:units]
    n, c_in = weight.shape[:2]
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(1, n * c_in, size, size, generator=gen)
    padding = tuple(k // 2 for k in weight.shape[2:])
    for _ in range(steps):
        x.requires_grad_(True)
        with torch.enable_grad():
            response = F.conv2d(x, weight, bias, padding=padding, groups=n)  # 1 x n: unit u on image u
            grad, = torch.autograd.grad(F.relu(response).mean(dim=(2, 3)).sum(), x)
        with torch.no_grad():
            grad = grad.view(n, -1)
            step = grad / grad.pow(2).mean(dim=1, keepdim=True).sqrt().clamp_min(1e-12)
            flat = x.detach().view(n, -1) + lr * step
            flat = (flat - flat.mean(dim=1, keepdim=True)) / flat.std(dim=1, keepdim=True).clamp_min(1e-12)
            x = flat.view(1, n * c_in, size, size)
    return x.view(n, c_in, size, size).numpy()


def noise_rgb(images: np.ndarray) -> np.ndarray:
    """U x C x h x w (C = 1 or 3) -> U x h x w x 3 uint8, each image stretched over +-2.5 std."""
    shown = np.clip(0.5 + images / 5.0, 0, 1)
    if shown.shape[1] != 3:
        shown = np.repeat(shown[:, :1], 3, axis=1)
    return np.rint(shown * 255).astype(np.uint8).transpose(0, 2, 3, 1)
