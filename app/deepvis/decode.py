"""Decoding image files, and keeping native decoders quiet while a probe may fail.

Shared by the frame sources, Dream, the unit images and the folder listings; a failure is a
SourceError whose message is one user-facing line naming the file.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np

from deepvis import DeepvisError

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"})


class SourceError(DeepvisError):
    """A source cannot be opened or read; the message is one user-facing line."""


@contextmanager
def native_stderr_silenced():
    """Hide what native libraries (OpenCV, FFmpeg) print on file descriptor 2 during a probe that is
    allowed to fail: deepvis says what happened in its own words instead."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


@contextmanager
def opencv_log_silenced():
    """OpenCV's own log lines ([ WARN:0@...]) off for the duration of a probe that may fail."""
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(level)


def to_rgb(image: np.ndarray) -> np.ndarray:
    """OpenCV's BGR, BGRA or grayscale uint8 image -> C-contiguous RGB."""
    if image.ndim == 2 or image.shape[2] == 1:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Decode an image file to RGB uint8; SourceError names the file on any failure."""
    path = Path(path)
    if path.is_dir():
        raise SourceError(f"a folder, not an image file: {path}")
    try:
        # np.fromfile + imdecode, because cv2.imread cannot open non-ASCII paths on Windows.
        data = np.fromfile(path, dtype=np.uint8)
    except FileNotFoundError:
        raise SourceError(f"no such image file: {path}") from None
    except OSError as error:
        raise SourceError(f"cannot read {path}: {error.strerror or error}") from None
    if data.size == 0:
        raise SourceError(f"empty file, not an image: {path}")
    # IMREAD_COLOR gives 8-bit BGR for every input: grayscale, alpha and 16-bit alike.
    image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if image is None:
        raise SourceError(f"not an image, or a corrupt one: {path}")
    return to_rgb(image)


def has_image_signature(path: Path) -> bool:
    try:
        return bool(cv2.haveImageReader(str(path)))
    except cv2.error:
        return False


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Image files of a folder by extension, sorted by name; hidden files are left out."""
    try:
        files = [
            path
            for path in Path(folder).iterdir()
            if path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".") and path.is_file()
        ]
    except PermissionError:
        raise SourceError(f"cannot read folder {folder}: permission denied") from None
    except OSError as error:
        raise SourceError(f"cannot read folder {folder}: {error.strerror or error}") from None
    return sorted(files, key=lambda path: (path.name.casefold(), path.name))
