"""Where the project's data folders live (models/, assets/, config.yaml)."""

from __future__ import annotations

import os
from pathlib import Path

# app/deepvis/paths.py -> the project root is two folders above the package.
PROJECT_ROOT = Path(os.environ.get("DEEPVIS_ROOT", Path(__file__).resolve().parents[2]))
MODELS_DIR = PROJECT_ROOT / "models"
ASSETS_DIR = PROJECT_ROOT / "assets"
DEFAULT_CONFIG = PROJECT_ROOT / "config.yaml"
SAMPLE_VIDEO = ASSETS_DIR / "sample.mp4"
SAMPLE_IMAGES = ASSETS_DIR / "images"
