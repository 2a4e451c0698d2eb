"""`deepvis precompute ...`: arguments and dispatch."""

from __future__ import annotations

from deepvis import DeepvisError


def add_arguments(parser, model_flags) -> None:
    model_flags(parser, layer=False)


def run(args, config) -> int:
    raise DeepvisError("precompute is not available yet")
