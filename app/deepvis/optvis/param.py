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


def color_matrix() -> torch.Tensor:
    """3 x 3: rgb[d] = sum_c matrix[d, c] * decorrelated[c] (Lucid's colour correlation)."""
    return _COLOR_SQRT.clone()


def fourier_scale(size: int, decay_power: float = 1.0) -> torch.Tensor:
    """size x (size // 2 + 1): 1 / f^decay_power per frequency of a real FFT, f at least 1 / size."""
    fy = torch.fft.fftfreq(size)[:, None]
    fx = torch.fft.rfftfreq(size)[None, :]
    freqs = (fy * fy + fx * fx).sqrt()
    return 1.0 / freqs.clamp(min=1.0 / size) ** decay_power


# Pixels kept this far from 0 and 1 when an image is inverted through the sigmoid (logit of 1/512: -6.2).
_LOGIT_MARGIN = 1.0 / 512


class FourierImage:
    """A scaled Fourier spectrum, colours decorrelated, squashed to [0, 1] by a sigmoid (Olah et al. 2017).

    Frequencies are scaled by 1/f^decay_power, so a step moves low frequencies
    as much as high ones; the colours are mixed by the square root of the
    ImageNet colour covariance, so a step moves decorrelated colour directions.
    `from_images` starts from given images instead of noise; `anchor(radius)`
    then keeps each spectrum within `radius` (root mean square over its
    coefficients) of the one it started from, after every step.
    """

    def __init__(self, random: ImageRandom | None, size: int, std: float = 0.01,
                 device: torch.device | str = "cpu", decay_power: float = 1.0,
                 spectrum: torch.Tensor | None = None):
        self.scale = fourier_scale(size, decay_power)[None, None, :, :, None].to(device)  # orthonormal inverse FFT
        self.size = size
        self.colors = _COLOR_SQRT.to(device)
        if spectrum is None:
            spectrum = random.normal(3, size, size // 2 + 1, 2) * std
        self.spectrum = spectrum.to(device).detach().clone().requires_grad_(True)
        self.start: torch.Tensor | None = None
        self.radius = float("inf")

    @classmethod
    def from_images(cls, images: torch.Tensor, decay_power: float = 1.0) -> FourierImage:
        """The spectrum whose image() is `images` (B x 3 x S x S in [0, 1]; pixels within 1/512 of 0 or 1
        are moved to that margin: the sigmoid never reaches them)."""
        size = images.shape[-1]
        if images.shape[-2] != size:
            raise ValueError("a Fourier image is square")
        # In float64 on the CPU (some devices have no float64): the inverse then reproduces the image.
        x = images.detach().to("cpu", torch.float64).clamp(_LOGIT_MARGIN, 1 - _LOGIT_MARGIN)
        logits = torch.log(x) - torch.log1p(-x)
        decorrelated = torch.einsum("bchw,dc->bdhw", logits, torch.linalg.inv(_COLOR_SQRT.double()))
        spectrum = torch.fft.rfft2(decorrelated * 4.0, norm="ortho")
        spectrum = torch.view_as_real(spectrum) / fourier_scale(size, decay_power).double()[None, None, :, :, None]
        return cls(None, size, device=images.device, decay_power=decay_power,
                   spectrum=spectrum.to(images.dtype).to(images.device))

    def anchor(self, radius: float) -> FourierImage:
        """From now on, constrain_() keeps each image's spectrum within `radius` of the present one."""
        self.start = self.spectrum.detach().clone()
        self.radius = float(radius)
        return self

    def squared_distance(self) -> torch.Tensor:
        """B: the mean square difference of each spectrum from its anchor (differentiable, also at 0)."""
        if self.start is None:
            return torch.zeros(len(self.spectrum), device=self.spectrum.device)
        return (self.spectrum - self.start).pow(2).flatten(1).mean(dim=1)

    def distance(self) -> torch.Tensor:
        """B: the root mean square difference of each spectrum from its anchor."""
        return self.squared_distance().sqrt()

    def params(self) -> list[torch.Tensor]:
        return [self.spectrum]

    def image(self) -> torch.Tensor:
        scaled = torch.view_as_complex((self.spectrum * self.scale).contiguous())
        image = torch.fft.irfft2(scaled, s=(self.size, self.size), norm="ortho") / 4.0
        image = torch.einsum("bchw,dc->bdhw", image, self.colors)
        return torch.sigmoid(image)

    @torch.no_grad()
    def constrain_(self) -> None:
        # The sigmoid keeps every spectrum valid; an anchored one is pulled back onto its ball.
        if self.start is None:
            return
        distance = self.distance()
        shrink = (self.radius / distance.clamp_min(1e-12)).clamp(max=1.0)
        offset = (self.spectrum - self.start) * shrink.view(-1, 1, 1, 1, 1)
        self.spectrum.copy_(self.start + offset)
