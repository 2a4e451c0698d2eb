"""Image parameterizations: the tensors the optimizer changes, and the images they make.

Each gives `params()` (the tensors to step), `image()` (B x 3 x H x W in [0, 1],
differentiable) and `constrain_()` (called after every step to keep the
parameters valid).
"""

from __future__ import annotations

from typing import Sequence

import torch

from deepvis.optvis.seeds import ImageRandom


class PixelImage:
    """Pixels in Caffe's space, 0..255 with the mean subtracted, so the paper's step sizes carry over.

    image() = pixels / 255 + mean; constrain_() clips the pixels so that the image
    stays in [0, 1].
    """

    def __init__(self, pixels: torch.Tensor, mean: Sequence[float]):
        self.mean = torch.as_tensor(mean, dtype=pixels.dtype, device=pixels.device).view(1, 3, 1, 1)
        self.low, self.high = -255.0 * self.mean, 255.0 * (1 - self.mean)
        self.pixels = torch.maximum(torch.minimum(pixels, self.high), self.low).requires_grad_(True)

    @classmethod
    def noise(cls, random: ImageRandom, size: int, std: float, mean: Sequence[float],
              device: torch.device | str = "cpu") -> PixelImage:
        """Gaussian noise of `std` grey levels around the mean, one draw per image."""
        return cls(random.normal(3, size, size).to(device) * std, mean)

    @classmethod
    def from_images(cls, images: torch.Tensor, mean: Sequence[float]) -> PixelImage:
        """Start from given images (B x 3 x H x W in [0, 1])."""
        mean_t = torch.as_tensor(mean, dtype=images.dtype, device=images.device).view(1, 3, 1, 1)
        return cls((images - mean_t) * 255.0, mean)

    def params(self) -> list[torch.Tensor]:
        return [self.pixels]

    def image(self) -> torch.Tensor:
        return self.pixels / 255.0 + self.mean

    @torch.no_grad()
    def constrain_(self) -> None:
        self.pixels.copy_(torch.maximum(torch.minimum(self.pixels, self.high), self.low))


# Lucid's colour correlation (square root of the ImageNet colour covariance), columns normalized.
_COLOR_SQRT = torch.tensor([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]])
_COLOR_SQRT = _COLOR_SQRT / _COLOR_SQRT.norm(dim=0).max()


class FourierImage:
    """A scaled Fourier spectrum, colours decorrelated, squashed to [0, 1] by a sigmoid (Olah et al. 2017).

    Frequencies are scaled by 1/f^decay_power, so a step moves low frequencies
    as much as high ones; the colours are mixed by the square root of the
    ImageNet colour covariance, so a step moves decorrelated colour directions.
    """

    def __init__(self, random: ImageRandom, size: int, std: float = 0.01,
                 device: torch.device | str = "cpu", decay_power: float = 1.0):
        fy = torch.fft.fftfreq(size)[:, None]
        fx = torch.fft.rfftfreq(size)[None, :]
        freqs = (fy * fy + fx * fx).sqrt()
        scale = 1.0 / freqs.clamp(min=1.0 / size) ** decay_power
        self.scale = scale[None, None, :, :, None].to(device)  # for the orthonormal inverse FFT
        self.size = size
        self.colors = _COLOR_SQRT.to(device)
        self.spectrum = (random.normal(3, size, size // 2 + 1, 2) * std).to(device).requires_grad_(True)

    def params(self) -> list[torch.Tensor]:
        return [self.spectrum]

    def image(self) -> torch.Tensor:
        scaled = torch.view_as_complex((self.spectrum * self.scale).contiguous())
        image = torch.fft.irfft2(scaled, s=(self.size, self.size), norm="ortho") / 4.0
        image = torch.einsum("bchw,dc->bdhw", image, self.colors)
        return torch.sigmoid(image)

    def constrain_(self) -> None:
        pass  # the sigmoid keeps every spectrum valid
