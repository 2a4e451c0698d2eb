"""Build assets/sample.mp4 from the images in assets/images/.

A slow pan and zoom over each image, with a short cross-fade into the next;
the last image fades back into the first, so the video loops seamlessly.
The output depends only on the input images (no randomness).

    python assets/make_sample_video.py [--out assets/sample.mp4]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

ASSETS = Path(__file__).resolve().parent
IMAGES = ["coffee.png", "chelsea.png", "astronaut.png", "rocket.jpg"]

WIDTH, HEIGHT = 480, 360
FPS = 15
FRAMES_PER_IMAGE = 30  # 2 s each, 8 s in all
FADE_FRAMES = 6  # the last 6 frames of an image blend into the next one


def crop_view(image: np.ndarray, progress: float, zoom_in: bool) -> np.ndarray:
    """The WIDTH x HEIGHT view of `image` at `progress` (0..1) of its pan and zoom."""
    image_h, image_w = image.shape[:2]
    # The largest window of the output's aspect ratio that fits in the image...
    full_w = min(image_w, image_h * WIDTH / HEIGHT)
    # ...shrunk to 80 % at the closest point of the zoom.
    eased = 0.5 - 0.5 * np.cos(np.pi * progress)  # smooth start and stop
    scale = 1.0 - 0.2 * (eased if zoom_in else 1.0 - eased)
    window_w = full_w * scale
    window_h = window_w * HEIGHT / WIDTH
    # Pan from the left/top of the free space to its right/bottom.
    x0 = (image_w - window_w) * eased
    y0 = (image_h - window_h) * eased
    step = window_w / WIDTH  # source pixels per output pixel
    # Maps output pixel centres to source coordinates (used with WARP_INVERSE_MAP).
    to_source = np.array(
        [[step, 0.0, x0 + 0.5 * step - 0.5], [0.0, step, y0 + 0.5 * step - 0.5]], dtype=np.float64
    )
    return cv2.warpAffine(
        image, to_source, (WIDTH, HEIGHT), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REFLECT,
    )


def render_frames(images: list[np.ndarray]) -> list[np.ndarray]:
    count = len(images)
    total = count * FRAMES_PER_IMAGE
    # Each image is on screen from FADE_FRAMES before its slot to the end of its slot.
    visible = FRAMES_PER_IMAGE + FADE_FRAMES

    def view(image_number: int, frame: int) -> np.ndarray:
        image_number %= count
        first_visible = image_number * FRAMES_PER_IMAGE - FADE_FRAMES
        progress = ((frame - first_visible) % total) / (visible - 1)
        return crop_view(images[image_number], progress, zoom_in=image_number % 2 == 0)

    frames = []
    for frame in range(total):
        current, within = divmod(frame, FRAMES_PER_IMAGE)
        picture = view(current, frame)
        into_fade = within - (FRAMES_PER_IMAGE - FADE_FRAMES) + 1
        if into_fade > 0:
            weight = into_fade / (FADE_FRAMES + 1)
            picture = cv2.addWeighted(picture, 1.0 - weight, view(current + 1, frame), weight, 0.0)
        frames.append(picture)
    return frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ASSETS / "sample.mp4")
    args = parser.parse_args()

    images = []
    for name in IMAGES:
        image = cv2.imread(str(ASSETS / "images" / name), cv2.IMREAD_COLOR)
        if image is None:
            raise SystemExit(f"cannot read {ASSETS / 'images' / name}")
        images.append(image)

    writer = cv2.VideoWriter(str(args.out), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (WIDTH, HEIGHT))
    if not writer.isOpened():
        raise SystemExit(f"cannot write {args.out}: this OpenCV has no mp4v encoder")
    try:
        for picture in render_frames(images):
            writer.write(picture)
    finally:
        writer.release()

    check = cv2.VideoCapture(str(args.out))
    decoded = 0
    while check.read()[0]:
        decoded += 1
    check.release()
    size_kib = args.out.stat().st_size / 1024
    print(f"{args.out}: {decoded} frames, {WIDTH}x{HEIGHT} at {FPS} fps, {size_kib:.0f} KiB")


if __name__ == "__main__":
    main()
