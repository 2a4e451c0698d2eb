"""Writing results: PNG files from RGB arrays (one clear line when a file cannot be written), a dream's
PNG with its JSON."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np

from deepvis import DeepvisError


def write_png(path: Path, rgb: np.ndarray) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, data = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    try:
        if not ok:
            raise OSError("the encoder failed")
        data.tofile(str(path))  # not cv2.imwrite: it cannot open non-ASCII paths on Windows
    except OSError as error:
        raise DeepvisError(f"cannot write {path}: {getattr(error, 'strerror', None) or error}") from None


def write_dream(result, out: Path, model: str, source: str) -> Path:
    """The dream as out (PNG) and its octaves' figures as out with .json; returns the JSON's path."""
    out = Path(out)
    write_png(out, result.image)
    summary = {"model": model, "image": str(source), **result.summary(), "objective_ratio": _finite(result.ratio)}
    path = out.with_suffix(".json")
    try:
        path.write_text(json.dumps(summary, indent=2))
    except OSError as error:
        raise DeepvisError(f"cannot write {path}: {error.strerror or error}") from None
    return path


def _finite(value: float) -> float | None:
    """JSON has no infinity: a ratio over a zero start is null."""
    return value if math.isfinite(value) else None
