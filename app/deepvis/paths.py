"""Where the project's data folders live (models/, assets/, config.yaml)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

# app/deepvis/paths.py -> the project root is two folders above the package.
PROJECT_ROOT = Path(os.environ.get("DEEPVIS_ROOT", Path(__file__).resolve().parents[2]))
MODELS_DIR = PROJECT_ROOT / "models"
ASSETS_DIR = PROJECT_ROOT / "assets"
DEFAULT_CONFIG = PROJECT_ROOT / "config.yaml"
SAMPLE_VIDEO = ASSETS_DIR / "sample.mp4"
SAMPLE_IMAGES = ASSETS_DIR / "images"
SHIPPED_UNITS = ASSETS_DIR / "units"  # unit images shipped with deepvis: read, never written


def user_data_dir() -> Path:
    """The platform's folder for deepvis's own data (the user's unit store, caches)."""
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "deepvis"
