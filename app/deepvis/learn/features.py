"""The network's input features, as TensorFlow Playground offers them: x1, x2, their squares,
their product and their sines.

The input layer is the chosen features computed from each point (x1, x2). Playground's points
span [-6, 6] and ours [-1, 1]: its sin(x1) makes about two waves across the square, so ours is
sin(6·x1), the same picture. The squares and the product need no such scale (only their size
would change, not their shape). Every feature lies in [-1, 1].
"""

from __future__ import annotations

import torch

from deepvis import DeepvisError

FEATURES = ("x1", "x2", "x1sq", "x2sq", "x1x2", "sinx1", "sinx2")
LABELS = {"x1": "x1", "x2": "x2", "x1sq": "x1²", "x2sq": "x2²", "x1x2": "x1·x2", "sinx1": "sin(x1)",
          "sinx2": "sin(x2)"}
DEFAULT = ("x1", "x2")
SINE_SCALE = 6.0  # Playground's half-width: its sin(x) over [-6, 6] is sin(6 x) over [-1, 1]


def feature_columns(x1: torch.Tensor, x2: torch.Tensor) -> dict[str, torch.Tensor]:
    """Every feature, by name, from the two coordinates."""
    return {"x1": x1, "x2": x2, "x1sq": x1 * x1, "x2sq": x2 * x2, "x1x2": x1 * x2,
            "sinx1": torch.sin(SINE_SCALE * x1), "sinx2": torch.sin(SINE_SCALE * x2)}


def check_features(features: tuple[str, ...]) -> tuple[str, ...]:
    """The names in FEATURES order; an unknown name, a repeat or none at all is one line."""
    unknown = [name for name in features if name not in FEATURES]
    if unknown:
        raise DeepvisError(f"unknown feature {unknown[0]!r} (choose from {', '.join(FEATURES)})")
    if len(set(features)) != len(features):
        raise DeepvisError(f"a feature is named twice in {','.join(features)}")
    if not features:
        raise DeepvisError(f"at least one input feature is needed (choose from {', '.join(FEATURES)})")
    return tuple(name for name in FEATURES if name in features)


def parse_features(text: str) -> tuple[str, ...]:
    """`x1,x2,x1x2` (commas or spaces) to the names, in FEATURES order."""
    return check_features(tuple(part for part in text.replace(",", " ").split()))


def encode(points: torch.Tensor, features: tuple[str, ...]) -> torch.Tensor:
    """(N, 2) points to the network's (N, len(features)) inputs; the default (x1, x2) is the
    points themselves, untouched."""
    if tuple(features) == DEFAULT:
        return points
    columns = feature_columns(points[:, 0], points[:, 1])
    return torch.stack([columns[name] for name in features], 1)
