"""Random draws with one generator per image: an image's draws do not depend on its batch."""

from __future__ import annotations

from typing import Sequence

import torch


class ImageRandom:
    """One CPU generator per image of a batch; every draw is stacked along the batch."""

    def __init__(self, seeds: Sequence[int]):
        self.generators = [torch.Generator().manual_seed(int(s)) for s in seeds]

    def __len__(self) -> int:
        return len(self.generators)

    def normal(self, *shape: int) -> torch.Tensor:
        """B x shape of standard normal draws."""
        return torch.stack([torch.randn(shape, generator=g) for g in self.generators])

    def uniform(self, *shape: int) -> torch.Tensor:
        """B x shape of draws uniform in [0, 1)."""
        return torch.stack([torch.rand(shape, generator=g) for g in self.generators])
