"""Writing results: PNG files from RGB arrays and JSON, atomically (one clear line when a file
cannot be written), a dream's PNG with its JSON."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from deepvis import DeepvisError
from deepvis.files import png_bytes, write_bytes_atomic, write_json_atomic


def write_png(path: Path, rgb: np.ndarray) -> None:
    data = png_bytes(rgb, Path(path).name)
    try:
        write_bytes_atomic(path, data)
    except OSError as error:
        raise DeepvisError(f"cannot write {path}: {error.strerror or error}") from None


def write_json(path: Path, value) -> None:
    try:
        write_json_atomic(path, value)
    except OSError as error:
        raise DeepvisError(f"cannot write {path}: {error.strerror or error}") from None


def write_dream(result, out: Path, model: str, source: str) -> Path:
    """The dream as out (PNG) and its octaves' figures as out with .json; returns the JSON's path."""
    out = Path(out)
    write_png(out, result.image)
    summary = {"model": model, "image": str(source), **result.summary(), "objective_ratio": _finite(result.ratio)}
    path = out.with_suffix(".json")
    write_json(path, summary)
    return path


def _finite(value: float) -> float | None:
    """JSON has no infinity: a ratio over a zero start is null."""
    return value if math.isfinite(value) else None
