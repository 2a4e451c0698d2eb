"""Random views of the images, one per step (transformation robustness), composed into one resampling.

Each transform is an affine change of the sampling grid, drawn per image from
an `ImageRandom`; `Compose` multiplies them and resamples once, so a chain of
moves does not blur the image once per move. Every view keeps the image's size
and pixel scale: a unit read at the centre of its map sees the image's centre,
as it does when the finished image is measured. What a move reveals beyond the
border is grey for `pad` pixels, then the edge repeated.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F

from deepvis.optvis.seeds import ImageRandom


def _identity(batch: int) -> torch.Tensor:
    return torch.eye(3).expand(batch, 3, 3).clone()


class Transform:
    """A random affine view: `matrix` maps an output pixel to the input pixel it samples.

    Coordinates are in pixels from the image's centre. `draws` uniform numbers
    per image decide the move.
    """

    draws = 0
    pad = 0

    def matrix(self, draws: torch.Tensor) -> torch.Tensor:
        """B x draws uniform numbers -> B x 3 x 3."""
        return _identity(len(draws))

    def apply(self, images: torch.Tensor, draws: torch.Tensor) -> torch.Tensor:
        """The view given the draws (B x self.draws, uniform in [0, 1))."""
        return Compose([self]).apply(images, draws)

    def __call__(self, images: torch.Tensor, random: ImageRandom) -> torch.Tensor:
        return self.apply(images, random.uniform(self.draws))


class Pad(Transform):
    """Grey beyond the border for `pixels` pixels: what the other moves may bring into view."""

    def __init__(self, pixels: int):
        self.pad = int(pixels)


class Jitter(Transform):
    """A shift of up to `pixels` / 2 pixels each way (Lucid's jitter: a random crop `pixels` smaller).

    Draws: the shift down, then the shift right."""

    draws = 2

    def __init__(self, pixels: float):
        self.pixels = float(pixels)

    def matrix(self, draws):
        m = _identity(len(draws))
        m[:, 1, 2] = (draws[:, 0] - 0.5) * self.pixels
        m[:, 0, 2] = (draws[:, 1] - 0.5) * self.pixels
        return m


class RandomScale(Transform):
    """A zoom by a factor uniform in [low, high], about the centre."""

    draws = 1

    def __init__(self, low: float, high: float):
        self.low, self.high = float(low), float(high)

    def matrix(self, draws):
        zoom = self.low + draws[:, 0] * (self.high - self.low)
        m = _identity(len(draws))
        m[:, 0, 0] = m[:, 1, 1] = 1.0 / zoom
        return m


class RandomRotate(Transform):
    """A rotation by up to `degrees` either way, about the centre."""

    draws = 1

    def __init__(self, degrees: float):
        self.degrees = float(degrees)

    def matrix(self, draws):
        angle = (draws[:, 0] * 2 - 1) * math.radians(self.degrees)
        cos, sin = torch.cos(angle), torch.sin(angle)
        m = _identity(len(draws))
        m[:, 0, 0], m[:, 0, 1], m[:, 1, 0], m[:, 1, 1] = cos, -sin, sin, cos
        return m


class Compose(Transform):
    """The transforms applied in order, as one resampling of the padded images."""

    def __init__(self, transforms: Sequence[Transform]):
        self.transforms = list(transforms)
        self.draws = sum(t.draws for t in self.transforms)
        self.pad = sum(t.pad for t in self.transforms)

    def matrix(self, draws):
        # Applying t1 then t2 samples the input at M1 @ M2 @ p.
        m, start = _identity(len(draws)), 0
        for t in self.transforms:
            m = m @ t.matrix(draws[:, start:start + t.draws])
            start += t.draws
        return m

    def apply(self, images: torch.Tensor, draws: torch.Tensor) -> torch.Tensor:
        if self.draws == 0:
            return images  # padding alone does not move the view
        b, _, h, w = images.shape
        padded = F.pad(images, [self.pad] * 4, value=0.5)
        # Normalized output coordinates -> pixels -> normalized coordinates of the padded images.
        to_pixels = torch.diag(torch.tensor([w / 2, h / 2, 1.0]))
        to_padded = torch.diag(torch.tensor([2 / padded.shape[-1], 2 / padded.shape[-2], 1.0]))
        theta = (to_padded @ self.matrix(draws.cpu().float()) @ to_pixels)[:, :2].to(images)
        grid = F.affine_grid(theta, [b, 3, h, w], align_corners=False)
        return F.grid_sample(padded, grid, mode="bilinear", padding_mode="border", align_corners=False)


# --------------------------------------------------------------------------- MACO's views: many crops, noise


class RandomCrops:
    """`count` square crops of each image per step (MACO, Fel et al. 2023), resized to `size` pixels.

    A crop's side is a fraction of the image's, uniform in [low, high]; its
    centre is drawn around the image's centre (standard deviation `centre_std`
    of the side) and moved so that the crop stays inside the image. The views
    of an image follow one another: B images give B * count views.
    """

    def __init__(self, count: int, low: float, high: float, size: int | None = None, centre_std: float = 0.15):
        if not (count >= 1 and 0 < low <= high <= 1):
            raise ValueError("crops: count >= 1 and 0 < low <= high <= 1")
        self.views_per_image = int(count)
        self.low, self.high, self.size, self.centre_std = float(low), float(high), size, float(centre_std)

    def __call__(self, images: torch.Tensor, random: ImageRandom) -> torch.Tensor:
        b, c, h, w = images.shape
        k = self.views_per_image
        side = self.low + random.uniform(k).flatten() * (self.high - self.low)  # B * k, fractions of the side
        centre = random.normal(k, 2).view(-1, 2) * self.centre_std  # offsets from the centre, in sides
        room = (1.0 - side)[:, None] / 2
        centre = torch.maximum(torch.minimum(centre, room), -room)
        theta = torch.zeros(b * k, 2, 3)
        theta[:, 0, 0] = theta[:, 1, 1] = side
        theta[:, :, 2] = centre * 2  # normalized coordinates span 2 per side
        out = self.size or h
        grid = F.affine_grid(theta.to(images), [b * k, c, out, out], align_corners=False)
        return F.grid_sample(images.repeat_interleave(k, dim=0), grid, mode="bilinear", padding_mode="border",
                             align_corners=False)


class AddNoise:
    """Gaussian noise of standard deviation `std` plus uniform noise of width `std` on every view (MACO)."""

    views_per_image = 1

    def __init__(self, std: float):
        self.std = float(std)

    def __call__(self, views: torch.Tensor, random: ImageRandom) -> torch.Tensor:
        if self.std <= 0:
            return views
        per_image = len(views) // len(random)
        shape = (per_image, *views.shape[1:])
        noise = random.normal(*shape) + (random.uniform(*shape) - 0.5)
        return views + self.std * noise.view_as(views).to(views)


class Chain:
    """Transforms applied one after the other (each `transform(images, random)`)."""

    def __init__(self, transforms: Sequence):
        self.transforms = list(transforms)
        self.views_per_image = math.prod(getattr(t, "views_per_image", 1) for t in self.transforms)

    def __call__(self, images: torch.Tensor, random: ImageRandom) -> torch.Tensor:
        for transform in self.transforms:
            images = transform(images, random)
        return images
