"""Contact sheets: images side by side in a grid, each with a caption under it."""

from __future__ import annotations

import math
from typing import Sequence

import cv2
import numpy as np

CAPTION = 22  # pixels of caption under each image
GAP = 6
BACKGROUND = (24, 24, 28)
TEXT = (230, 230, 230)


def contact_sheet(images: Sequence[np.ndarray], captions: Sequence[str], columns: int | None = None,
                  side: int = 224) -> np.ndarray:
    """H x W x 3 uint8: the images (resized to `side` x `side`) in rows, captions below each."""
    if not images:
        raise ValueError("a contact sheet needs at least one image")
    count = len(images)
    columns = columns or min(count, max(1, math.ceil(math.sqrt(count))))
    rows = math.ceil(count / columns)
    width = columns * side + (columns + 1) * GAP
    height = rows * (side + CAPTION) + (rows + 1) * GAP
    sheet = np.full((height, width, 3), BACKGROUND, np.uint8)
    scale = side / 224 * 0.45
    for i, (image, caption) in enumerate(zip(images, captions)):
        row, col = divmod(i, columns)
        x, y = GAP + col * (side + GAP), GAP + row * (side + CAPTION + GAP)
        tile = image if image.shape[:2] == (side, side) else cv2.resize(image, (side, side),
                                                                         interpolation=cv2.INTER_AREA)
        sheet[y:y + side, x:x + side] = tile
        cv2.putText(sheet, caption, (x + 2, y + side + CAPTION - 7), cv2.FONT_HERSHEY_SIMPLEX, max(0.3, scale),
                    TEXT, 1, cv2.LINE_AA)
    return sheet
