"""Build assets/maco_spectrum.npy: the magnitude spectrum of natural images that MACO keeps fixed.

MACO (Fel et al. 2023) optimizes only the phase of an image's Fourier spectrum;
its magnitude is the average magnitude of natural images. This one is averaged
over the images the project ships: the four photos in assets/images/ and every
frame of assets/sample.mp4 (pans and zooms over the same photos).

Each image: the centred square, resized to 224 px (INTER_AREA), in [0, 1];
its colours decorrelated by the inverse of the colour matrix the Fourier image
parameterizations mix with (deepvis.optvis.param), each channel's mean
removed; a 2-D Hann window against the border's cross artefact; the magnitude
of its 2-D real FFT (orthonormal). The magnitudes are averaged over the
images and their mirror images (left-right), rolled so that the zero vertical frequency sits in row 112 (rows are
vertical frequencies -112/224 .. 111/224 cycles per pixel, columns horizontal
frequencies 0 .. 112/224), so that other image sizes can be sampled from it by
interpolation; the zero-frequency bin (the removed mean) holds the mean of its
four neighbours, so that it interpolates smoothly (the parameterization sets
the image's own zero frequency to 0). Stored as float16, 3 x 224 x 113.

    python assets/make_maco_spectrum.py [--out assets/maco_spectrum.npy]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

ASSETS = Path(__file__).resolve().parent
SIDE = 224


def natural_images() -> list[np.ndarray]:
    """The shipped photos and the sample video's frames, RGB uint8."""
    images = []
    for path in sorted((ASSETS / "images").iterdir()):
        bgr = cv2.imread(str(path))
        if bgr is not None:
            images.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    video = cv2.VideoCapture(str(ASSETS / "sample.mp4"))
    while True:
        ok, bgr = video.read()
        if not ok:
            break
        images.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    video.release()
    return images


def centred_square(rgb: np.ndarray, side: int = SIDE) -> np.ndarray:
    h, w = rgb.shape[:2]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    square = rgb[top:top + s, left:left + s]
    return cv2.resize(square, (side, side), interpolation=cv2.INTER_AREA).astype(np.float64) / 255.0


def magnitude_template(images: list[np.ndarray]) -> np.ndarray:
    from deepvis.optvis.param import color_matrix

    inverse = np.linalg.inv(color_matrix().double().numpy())
    window = np.outer(np.hanning(SIDE), np.hanning(SIDE))
    total = np.zeros((3, SIDE, SIDE // 2 + 1))
    for rgb in images:
        square = centred_square(rgb)
        for x in (square, square[:, ::-1]):  # each image and its mirror image: both are natural
            decorrelated = np.einsum("hwc,dc->dhw", x, inverse)
            decorrelated -= decorrelated.mean(axis=(1, 2), keepdims=True)
            total += np.abs(np.fft.rfft2(decorrelated * window, norm="ortho"))
    mean = np.fft.fftshift(total / (2 * len(images)), axes=1)
    centre = SIDE // 2
    mean[:, centre, 0] = (mean[:, centre - 1, 0] + mean[:, centre + 1, 0] + 2 * mean[:, centre, 1]) / 4
    return mean


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ASSETS / "maco_spectrum.npy")
    args = parser.parse_args()
    images = natural_images()
    template = magnitude_template(images)
    np.save(args.out, template.astype(np.float16), allow_pickle=False)
    print(f"{args.out}: {template.shape} from {len(images)} images")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
