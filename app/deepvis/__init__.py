"""deepvis: a live deep-visualization toolbox for PyTorch."""

import os

__version__ = "0.1.0"

# FFmpeg's own log lines off (read when OpenCV first opens a video): a video that is corrupt
# part-way printed several lines a second; deepvis says what happened once, in its own words.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")


class DeepvisError(Exception):
    """An error the user can fix; the CLI prints it as one line, without a traceback."""
