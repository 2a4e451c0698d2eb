"""Conversions between numpy uint8 images and QImage, without per-pixel Python work."""

from __future__ import annotations

import numpy as np
from PyQt6.QtGui import QImage


class SharedImage:
    """A QImage that views a numpy RGB array's memory (no copy); it keeps the array alive."""

    __slots__ = ("array", "qimage")

    def __init__(self, rgb: np.ndarray):
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"expected H x W x 3 uint8, got {rgb.shape} {rgb.dtype}")
        if not rgb.flags.c_contiguous:
            rgb = np.ascontiguousarray(rgb)
        self.array = rgb
        height, width = rgb.shape[:2]
        self.qimage = QImage(rgb.data, width, height, rgb.strides[0], QImage.Format.Format_RGB888)

    def width(self) -> int:
        return self.qimage.width()

    def height(self) -> int:
        return self.qimage.height()


def rgb_from_qimage(image: QImage) -> np.ndarray:
    """A QImage (any format) as a new H x W x 3 uint8 RGB array."""
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    height, width = image.height(), image.width()
    bits = image.constBits()
    bits.setsize(image.sizeInBytes())
    rows = np.frombuffer(bits, dtype=np.uint8).reshape(height, image.bytesPerLine())
    return rows[:, : width * 3].reshape(height, width, 3).copy()
