"""MACO (Fel et al. 2023): an image whose Fourier magnitude is fixed to that of natural images.

Only the phase is optimized: image = sigmoid(colours(irfft2(M * e^(i phase)))),
with M the average magnitude spectrum of natural images (assets/maco_spectrum.npy,
made by assets/make_maco_spectrum.py), sampled at the image's size and scaled
so that the decorrelated image has a root mean square of 1 whatever the phase.
An image cannot grow the high-frequency energy of an adversarial pattern: the
optimizer can only move structure around. The views are MACO's: several random
crops per step, resized to the model's input, with a little noise.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from deepvis import DeepvisError
from deepvis.optvis.param import color_matrix
from deepvis.optvis.seeds import ImageRandom
from deepvis.optvis.transforms import AddNoise, Chain, RandomCrops
from deepvis.paths import ASSETS_DIR

SPECTRUM_FILE = ASSETS_DIR / "maco_spectrum.npy"
# The root mean square of the shipped photos in the same space (logit of the pixels, colours
# decorrelated, mean removed): 1.98. At 1 the images come out grey (pixel std 0.14 against 0.22).
NATURAL_RMS = 2.0


@lru_cache(maxsize=4)
def load_template(path: str | Path = SPECTRUM_FILE) -> torch.Tensor:
    """3 x N x (N // 2 + 1): the stored magnitudes, vertical frequencies centred (row N // 2 is 0)."""
    try:
        template = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DeepvisError(f"cannot read the MACO spectrum {path}: {exc}") from None
    if template.ndim != 3 or template.shape[0] != 3 or template.shape[2] != template.shape[1] // 2 + 1:
        raise DeepvisError(f"{path} is not a 3 x N x (N/2+1) magnitude spectrum: shape {template.shape}")
    return torch.from_numpy(template.astype(np.float32))


def _conjugate_rows(size: int) -> torch.Tensor:
    """For each row of a real FFT, the row of its negative vertical frequency."""
    return (-torch.arange(size)) % size


def _self_conjugate_columns(size: int) -> list[int]:
    """The columns of a real FFT that hold their own conjugates: frequency 0 and, for an even size, 1/2."""
    return [0, size // 2] if size % 2 == 0 else [0]


def magnitude_for(size: int, template: torch.Tensor | None = None) -> torch.Tensor:
    """3 x size x (size // 2 + 1): the template sampled at a real FFT's frequencies of a size x size
    image (log-linear interpolation in cycles per pixel), the zero frequency 0 (a mid-grey mean),
    symmetric where a real image's spectrum must be, scaled to a unit root mean square image."""
    template = load_template() if template is None else template
    n = template.shape[1]
    fy = torch.fft.fftfreq(size)
    fx = torch.fft.rfftfreq(size)
    # Template row i holds vertical frequency (i - n // 2) / n; column j horizontal frequency j / n.
    rows = (fy * n + n // 2) / (n - 1) * 2 - 1
    cols = (fx * n) / (template.shape[2] - 1) * 2 - 1
    grid = torch.stack(torch.broadcast_tensors(cols[None, :], rows[:, None]), dim=-1)[None]
    log_template = template.clamp_min(1e-12).log()[None]
    magnitude = F.grid_sample(log_template, grid.to(log_template), mode="bilinear", padding_mode="border",
                              align_corners=True)[0].exp()
    magnitude[:, 0, 0] = 0.0
    mirror = _conjugate_rows(size)
    for col in _self_conjugate_columns(size):
        magnitude[:, :, col] = (magnitude[:, :, col] + magnitude[:, mirror, col]) / 2
    # Parseval (orthonormal FFT): the image's energy is the spectrum's, each column but the
    # self-conjugate ones counted twice (their mirror images are not stored).
    weights = torch.full((size // 2 + 1,), 2.0)
    weights[_self_conjugate_columns(size)] = 1.0
    energy = (magnitude.pow(2) * weights).sum()
    return magnitude * math.sqrt(3 * size * size / float(energy))


class MacoImage:
    """A batch of images with one fixed magnitude spectrum and optimized phases.

    params(): the phases, B x 3 x S x (S // 2 + 1), drawn uniform in [-pi, pi). `rms`: the
    decorrelated image's root mean square (the magnitude, unit root mean square, is scaled by it).
    In the columns that must hold a real image's conjugate pairs, the phase used
    is the antisymmetric part, so that the spectrum is exactly a real image's
    and rfft2 of the decorrelated image gives back `magnitude` unchanged.
    """

    def __init__(self, random: ImageRandom, size: int, magnitude: torch.Tensor | None = None,
                 device: torch.device | str = "cpu", rms: float = NATURAL_RMS):
        self.size = size
        self.magnitude = (magnitude_for(size) if magnitude is None else magnitude).to(device) * rms
        if self.magnitude.shape != (3, size, size // 2 + 1):
            raise DeepvisError(f"a magnitude of shape {tuple(self.magnitude.shape)} for {size} px images")
        phase = (random.uniform(3, size, size // 2 + 1) * 2 - 1) * math.pi
        self.phase = phase.to(device=device, dtype=self.magnitude.dtype).requires_grad_(True)
        self.colors = color_matrix().to(self.magnitude)
        self._mirror = _conjugate_rows(size).to(device)

    def params(self) -> list[torch.Tensor]:
        return [self.phase]

    def spectrum(self) -> torch.Tensor:
        """B x 3 x S x (S // 2 + 1) complex: the decorrelated image's spectrum (orthonormal)."""
        phase = self.phase
        columns = _self_conjugate_columns(self.size)
        fixed = {c: (phase[..., c] - phase[..., self._mirror, c]) / 2 for c in columns}
        phase = torch.stack([fixed[c] if c in fixed else phase[..., c] for c in range(phase.shape[-1])], dim=-1)
        return torch.polar(self.magnitude.expand_as(phase), phase)

    def decorrelated(self) -> torch.Tensor:
        """B x 3 x S x S: the image before colours and sigmoid (root mean square `rms`)."""
        return torch.fft.irfft2(self.spectrum(), s=(self.size, self.size), norm="ortho")

    def image(self) -> torch.Tensor:
        image = torch.einsum("bchw,dc->bdhw", self.decorrelated(), self.colors)
        return torch.sigmoid(image)

    def constrain_(self) -> None:
        pass  # any phase is valid: the magnitude is not a parameter


def maco_views(model_size: int, crops: int = 2, low: float = 0.3, high: float = 0.6, noise: float = 0.03,
               centre_std: float = 0.15) -> Chain:
    """MACO's views: `crops` random crops of each image per step (sides low..high of the image's),
    each resized to the model's input size, with Gaussian and uniform noise of `noise` (in [0, 1] units).

    The paper crops 20-25% of a 1280 px canvas; at 224 px, crops of 30-60% put the most class images
    in a second model's top-5 (3 classes x 2 seeds x 128 steps, against crops of 50-90% or 70-100%
    and 4 crops of 60-100%); two crops per step keep a step at twice lucid's one view."""
    return Chain([RandomCrops(crops, low, high, model_size, centre_std), AddNoise(noise)])
