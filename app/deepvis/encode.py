"""MP4 writing that browsers play: H.264 in yuv420p with the index at the front, through the
FFmpeg that PyAV's wheel brings (pip's OpenCV has no H.264 encoder: its mp4v files play in
desktop players but not in a browser). OpenCV's mp4v stays as the fallback where PyAV is missing.

Used by `deepvis learn`'s training.mp4 and by the window's File > Record.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

log = logging.getLogger("deepvis")


class VideoWriter:
    """RGB frames of one size to an MP4 at `fps`. `codec` says which encoder writes it."""

    def __init__(self, path: Path | str, fps: float, size: tuple[int, int]):
        self.width, self.height = (size[0] + 1) // 2 * 2, (size[1] + 1) // 2 * 2  # yuv420p needs even sides
        self._av = self._cv = None
        try:
            import av
        except ImportError:
            av = None
        if av is not None and "libx264" in av.codecs_available:
            self._av = av.open(str(path), mode="w", format="mp4", options={"movflags": "+faststart"})
            stream = self._av.add_stream("libx264", rate=round(fps))
            stream.width, stream.height, stream.pix_fmt = self.width, self.height, "yuv420p"
            stream.options = {"crf": "20", "preset": "veryfast"}
            self._stream = stream
            self.codec = "H.264"
        else:
            import cv2

            self._cv = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (self.width, self.height))
            if not self._cv.isOpened():
                raise OSError(f"cannot write the video {path}: OpenCV has no MP4 encoder here")
            self.codec = "MPEG-4 part 2 (install PyAV for H.264)"

    def write(self, rgb: np.ndarray) -> None:
        rgb = np.ascontiguousarray(rgb[:self.height, :self.width])
        if rgb.shape[:2] != (self.height, self.width):  # an odd side: repeat the last row or column
            rgb = np.pad(rgb, ((0, self.height - rgb.shape[0]), (0, self.width - rgb.shape[1]), (0, 0)), mode="edge")
        if self._av is not None:
            import av

            for packet in self._stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                self._av.mux(packet)
        else:
            import cv2

            self._cv.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))

    def close(self) -> None:
        """Flush the encoder and finish the file; safe to call twice."""
        if self._av is not None:
            try:
                for packet in self._stream.encode():
                    self._av.mux(packet)
            finally:
                self._av.close()
                self._av = None
        if self._cv is not None:
            self._cv.release()
            self._cv = None
