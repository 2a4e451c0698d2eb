"""Conversions between numpy uint8 images and QImage, without per-pixel Python work."""

from __future__ import annotations

import cv2
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


class DisplayImage:
    """An RGB array scaled to a size and laid out as Qt's native 32-bit format, ready to draw 1:1.

    smooth: linear (area when shrinking) for photos; otherwise nearest, which keeps tiles crisp.
    """

    __slots__ = ("array", "qimage", "size")

    def __init__(self, rgb: np.ndarray, size: tuple[int, int], smooth: bool):
        width, height = size
        if (width, height) != (rgb.shape[1], rgb.shape[0]):
            if not smooth:
                interpolation = cv2.INTER_NEAREST
            elif width < rgb.shape[1]:
                interpolation = cv2.INTER_AREA
            else:
                interpolation = cv2.INTER_LINEAR
            rgb = cv2.resize(rgb, (width, height), interpolation=interpolation)
        self.array = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGRA)  # Format_RGB32's byte order on little-endian hosts
        self.size = size
        self.qimage = QImage(self.array.data, width, height, self.array.strides[0], QImage.Format.Format_RGB32)


def rgb_from_qimage(image: QImage) -> np.ndarray:
    """A QImage (any format) as a new H x W x 3 uint8 RGB array."""
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    height, width = image.height(), image.width()
    bits = image.constBits()
    bits.setsize(image.sizeInBytes())
    rows = np.frombuffer(bits, dtype=np.uint8).reshape(height, image.bytesPerLine())
    return rows[:, : width * 3].reshape(height, width, 3).copy()
