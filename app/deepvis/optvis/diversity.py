"""Lucid's diversity term: images optimized together are pushed apart in style.

An image's style at a layer is its Gram matrix (channel by channel products
summed over positions, Gatys et al.); two images' similarity is the cosine of
their Gram matrices. The term is, per image, minus its mean similarity to the
other images of its group, so that adding `weight * diversity(...)` to an
objective makes the seeds of one class (or unit) differ from one another while
each still maximizes its own objective (Olah et al. 2017, "Diversity").
"""

from __future__ import annotations

from typing import Sequence

import torch

from deepvis import DeepvisError
from deepvis.optvis.objectives import Objective, Tap, views_per_image


def gram_matrices(tensor: torch.Tensor) -> torch.Tensor:
    """N x C x C: each row's channel products, averaged over positions (a flat layer: one position)."""
    flat = _features(tensor)
    return flat @ flat.transpose(1, 2) / flat.shape[2]


def _features(tensor: torch.Tensor) -> torch.Tensor:
    """N x C x P: each row's channels by positions."""
    return tensor.flatten(2) if tensor.dim() > 2 else tensor[:, :, None]


def gram_similarity(tensor: torch.Tensor, views: int = 1) -> torch.Tensor:
    """B x B: the cosine similarity of every pair of images' Gram matrices; with `views` rows per
    image (one after another), an image's Gram matrix is the mean over its views."""
    flat = _features(tensor.float())
    rows, channels, positions = flat.shape
    if rows * positions < channels:
        # <G_a, G_b> = |F_a^T F_b|^2: products of positions, cheaper where a layer has many more
        # channels than the batch has positions (EfficientNet-Lite0's block5: 672 channels, 14 x 14).
        inner = torch.einsum("acp,bcq->abpq", flat, flat).pow(2).sum(dim=(2, 3))
    else:
        grams = (flat @ flat.transpose(1, 2)).flatten(1)
        inner = grams @ grams.T
    images = rows // views
    inner = inner.view(images, views, images, views).sum(dim=(1, 3))  # Gram matrices summed over views
    norms = inner.diagonal().clamp_min(1e-24).sqrt()
    return inner / (norms[:, None] * norms[None, :])


def diversity(tap: Tap, groups: Sequence[int]) -> Objective:
    """Per image, minus the mean cosine similarity of its Gram matrix at `tap` to those of the other
    images of its group (groups[b]: image b's group, e.g. its class; an image alone in its group
    scores 0). With several views per image, an image's Gram matrix is the mean over its views, and
    each of its views carries its value."""
    group = torch.as_tensor(list(groups), dtype=torch.long)
    if group.dim() != 1 or not len(group):
        raise DeepvisError("diversity needs one group per image")
    same = group[:, None] == group[None, :]
    same.fill_diagonal_(False)
    partners = same.sum(dim=1).clamp_min(1)

    def score(taken):
        tensor = taken[tap]
        views = views_per_image()
        if len(tensor) != len(group) * views:
            raise DeepvisError(f"{len(group)} groups for a batch of {len(tensor)} views")
        similarity = gram_similarity(tensor, views)
        mask = same.to(similarity.device)
        per_image = -(similarity * mask).sum(dim=1) / partners.to(similarity.device)
        # One value per view, as the other terms of a sum give: an image's value on each of its views.
        return per_image.repeat_interleave(views)
    return Objective([tap], score, "diversity")
