"""Frame sources: webcam, video file, single image, folder of images.

Every source runs one reader thread that decodes frames and publishes them
into a single slot: a new frame overwrites the previous one, so a slow
consumer always gets the newest frame and never a backlog (latest frame
wins). Frames are RGB uint8 arrays, H x W x 3, C-contiguous. A published
array is shared by every consumer: treat it as read-only.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

# Decoding lives in deepvis.decode; its names are importable from here too, as the sources' own.
from deepvis.decode import (IMAGE_EXTENSIONS, SourceError, has_image_signature, list_images,  # noqa: F401
                            native_stderr_silenced, opencv_log_silenced, read_image, to_rgb)
from deepvis.paths import SAMPLE_VIDEO

log = logging.getLogger("deepvis.sources")

VIDEO_EXTENSIONS = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v"})

# Used when a video file does not state a usable frame rate.
DEFAULT_VIDEO_FPS = 25.0


@dataclass(frozen=True)
class Frame:
    rgb: np.ndarray  # H x W x 3 uint8 RGB, shared: do not modify
    index: int  # increasing counter of frames produced by this source
    timestamp: float  # time.perf_counter() when captured or decoded
    label: str  # e.g. "camera 0", "sample.mp4 #123", "chelsea.png (2/5)"


class FrameSource:
    """Base class: the reader thread, the latest-frame slot and the controls.

    Subclasses provide `_read()` (the next frame, or None at the end of the
    stream) and `_delay()` (seconds to wait before the next read); they may
    also open and release resources on the reader thread with `_open()` and
    `_close()`.
    """

    join_timeout = 5.0  # stop() waits this long for a reader stuck in a driver call

    def __init__(self, name: str):
        self.name = name
        self.warnings: list[str] = []
        self._paused = False
        self._latest: Frame | None = None
        self._next_index = 0
        self._reader_done = False
        self._changed = threading.Condition()  # guards the slot; notified on publish and on exit
        self._wake = threading.Event()  # cuts a reader's wait short (stop, unpause, next item)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # -- controls, called from any thread -------------------------------------------------

    def start(self) -> "FrameSource":
        if self._thread is not None and self._thread.is_alive():
            if not self._stopping.is_set():
                return self
            # A reader stuck in a driver call after stop(): a second one would share its device.
            raise SourceError(f"{self.name} is still closing; try again in a moment")
        self._stopping.clear()
        with self._changed:
            self._reader_done = False
        self._thread = threading.Thread(target=self._run, name=f"deepvis source: {self.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float | None = None) -> None:
        """Stop the reader and wait for it (at most `timeout`, by default join_timeout)."""
        timeout = self.join_timeout if timeout is None else timeout
        self._stopping.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                log.warning("%s: the reader did not stop within %.1f s", self.name, timeout)

    @property
    def running(self) -> bool:
        """True while the reader runs (it ends at stop(), or at the end of a non-looping video)."""
        return self._thread is not None and self._thread.is_alive() and not self._stopping.is_set()

    @property
    def paused(self) -> bool:
        return self._paused

    @paused.setter
    def paused(self, value: bool) -> None:
        self._paused = bool(value)
        self._wake.set()

    def latest(self) -> Frame | None:
        return self._latest

    def wait_new(self, after_index: int, timeout: float) -> Frame | None:
        """Block until a frame newer than `after_index` exists, the reader has ended, or the timeout.

        Returns the latest frame (which is older than asked for after a timeout), or None.
        """
        with self._changed:
            self._changed.wait_for(
                lambda: (self._latest is not None and self._latest.index > after_index) or self._reader_done,
                timeout,
            )
            return self._latest

    def next_item(self) -> None:
        """Show the next item (folders); other sources ignore it."""

    def prev_item(self) -> None:
        """Show the previous item (folders); other sources ignore it."""

    def __enter__(self) -> "FrameSource":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"

    # -- the reader thread ----------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._open()
            while not self._stopping.is_set():
                if self._paused and self._latest is not None and not self._has_request():
                    self._sleep(0.1)  # unpausing wakes us early
                    continue
                item = self._read()
                if item is None:
                    break
                rgb, label = item
                self._publish(rgb, label)
                self._sleep(self._delay())
        except SourceError as error:
            self._warn(str(error))
        except Exception as error:  # a reader must never die silently
            log.exception("%s: the reader failed", self.name)
            self._warn(f"{self.name}: reading failed: {error}")
        finally:
            try:
                self._close()
            finally:
                with self._changed:
                    self._reader_done = True
                    self._changed.notify_all()

    def _publish(self, rgb: np.ndarray, label: str) -> None:
        frame = Frame(rgb=rgb, index=self._next_index, timestamp=time.perf_counter(), label=label)
        with self._changed:
            self._latest = frame  # overwrite: consumers only ever see the newest frame
            self._next_index += 1
            self._changed.notify_all()

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._wake.wait(seconds)
        self._wake.clear()

    def _warn(self, message: str) -> None:
        log.warning(message)
        self.warnings.append(message)

    def _warn_once(self, message: str) -> None:
        if message not in self.warnings:
            self._warn(message)

    # -- hooks for subclasses ---------------------------------------------------------------

    def _open(self) -> None:
        """Acquire what the reader needs (runs on the reader thread)."""

    def _close(self) -> None:
        """Release what `_open` acquired (runs on the reader thread, also after errors)."""

    def _read(self) -> tuple[np.ndarray, str] | None:
        """The next (rgb, label) to publish, or None when the stream has ended."""
        raise NotImplementedError

    def _delay(self) -> float:
        """Seconds to wait after publishing a frame."""
        return 0.0

    def _has_request(self) -> bool:
        """True when a user request must be served even while paused."""
        return False


class CameraSource(FrameSource):
    """A webcam through cv2.VideoCapture; frames arrive at the camera's own pace."""

    open_timeout = 2.0  # start() gives up when no frame arrives within this time

    def __init__(self, index: int = 0):
        super().__init__(f"camera {index}")
        self.index = index
        self._capture: cv2.VideoCapture | None = None

    def start(self) -> "CameraSource":
        if self.running:
            return self
        first_index = self._next_index
        super().start()
        # Opening happens on the reader thread, because some drivers block for seconds.
        first = self.wait_new(first_index - 1, self.open_timeout)
        if first is None or first.index < first_index:
            self.stop(timeout=0.5)  # a reader stuck in the driver ends by itself later
            raise SourceError(f"no camera answers at index {self.index}")
        return self

    def _open(self) -> None:
        with opencv_log_silenced():  # OpenCV's probing warnings (cap_v4l...): deepvis says it in one line
            self._capture = cv2.VideoCapture(self.index)
            opened = self._capture.isOpened()
        if not opened:
            raise SourceError(f"no camera answers at index {self.index}")
        # A one-frame driver buffer keeps latency at one frame, like the rest of the pipeline.
        self._capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)

    def _close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None

    def _read(self) -> tuple[np.ndarray, str] | None:
        # Cameras may drop a few reads (warm-up, USB hiccup); give up after open_timeout of failures.
        deadline = time.perf_counter() + self.open_timeout
        while not self._stopping.is_set():
            ok, image = self._capture.read()
            if ok and image is not None:
                return to_rgb(image), self.name
            if time.perf_counter() > deadline:
                raise SourceError(f"camera {self.index} stopped answering")
            self._sleep(0.01)
        return None


class VideoSource(FrameSource):
    """A video file decoded by cv2.VideoCapture, at the file's frame rate, looping by default.

    fps=None plays at the rate stored in the file, fps=0 as fast as frames decode.
    """

    def __init__(self, path: str | os.PathLike, loop: bool = True, fps: float | None = None):
        self.path = Path(path)
        super().__init__(self.path.name)
        self.loop = loop
        if not self.path.is_file():
            raise SourceError(f"no such video file: {self.path}")
        capture = self._open_capture()
        try:
            ok, _ = capture.read()
            if not ok:
                raise SourceError(f"no frame decodes in video: {self.path}")
            file_fps = capture.get(cv2.CAP_PROP_FPS)
            count = capture.get(cv2.CAP_PROP_FRAME_COUNT)
            self.frame_count = int(count) if math.isfinite(count) and count > 0 else None
        finally:
            capture.release()
        if fps is None:
            fps = file_fps if math.isfinite(file_fps) and 0 < file_fps <= 1000 else DEFAULT_VIDEO_FPS
        if fps < 0:
            raise SourceError(f"the frame rate must be positive or 0, not {fps}")
        self.fps = float(fps)
        self._capture: cv2.VideoCapture | None = None
        self._frame_in_file = 0
        self._next_due = 0.0

    def _open_capture(self) -> cv2.VideoCapture:
        capture = cv2.VideoCapture(str(self.path))
        if not capture.isOpened():
            capture.release()
            raise SourceError(f"cannot open video (unknown format or corrupt file): {self.path}")
        return capture

    def _open(self) -> None:
        self._capture = self._open_capture()
        self._frame_in_file = 0
        self._next_due = time.perf_counter()

    def _close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None

    def _read(self) -> tuple[np.ndarray, str] | None:
        ok, image = self._capture.read()
        if not ok and self._frame_in_file > 0 and self.frame_count and self._frame_in_file < self.frame_count - 1:
            self._warn_once(f"{self.name}: frame {self._frame_in_file + 1} of {self.frame_count} does not decode "
                            f"(a corrupt file?): playing the {self._frame_in_file} frames before it")
        if not ok and self.loop and self._frame_in_file > 0:
            # Reopening rewinds reliably, where seeking to frame 0 is unreliable with some codecs.
            self._close()
            self._open()
            ok, image = self._capture.read()
        if not ok:
            return None
        label = f"{self.name} #{self._frame_in_file}"
        self._frame_in_file += 1
        return to_rgb(image), label

    def _delay(self) -> float:
        if self.fps == 0:
            return 0.0
        period = 1.0 / self.fps
        now = time.perf_counter()
        self._next_due += period
        if self._next_due < now - period:
            self._next_due = now  # fell behind (slow decode, or a pause): resume from now, no burst
        return self._next_due - now


class _StillSource(FrameSource):
    """Shows one decoded image at a time and republishes it, so consumers see a live source.

    Every republication carries the same array: consumers can skip work by identity.
    """

    republish_interval = 0.2  # seconds

    def __init__(self, name: str):
        super().__init__(name)
        self._current: tuple[np.ndarray, str] | None = None

    def _read(self) -> tuple[np.ndarray, str]:
        return self._current

    def _delay(self) -> float:
        return self.republish_interval


class ImageSource(_StillSource):
    """One image file, decoded once."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        super().__init__(self.path.name)
        self._current = (read_image(self.path), self.path.name)


class FolderSource(_StillSource):
    """The images of a folder, sorted by name; next_item/prev_item move through them, wrapping.

    A file that does not decode is skipped with a warning, once.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        super().__init__(self.path.name or str(self.path))
        if not self.path.is_dir():
            raise SourceError(f"no such folder: {self.path}")
        listed = list_images(self.path)
        # Files whose first bytes no decoder recognizes are left out (and counted out) at once.
        self.files = [path for path in listed if has_image_signature(path)]
        for path in listed:
            if path not in self.files:
                self._warn(f"skipped: {path.name} is not an image OpenCV can read")
        if not listed:
            raise SourceError(f"no images in folder: {self.path}")
        if not self.files:
            raise SourceError(f"no readable image in folder: {self.path}")
        self._position = -1
        self._unreadable: set[Path] = set()
        self._pending_steps = 0
        self._steps_lock = threading.Lock()
        if not self._show_next_readable(start=0, step=1):
            raise SourceError(f"no readable image in folder: {self.path}")

    def next_item(self) -> None:
        self._request_step(+1)

    def prev_item(self) -> None:
        self._request_step(-1)

    def _request_step(self, step: int) -> None:
        # Decoding happens on the reader thread, so the caller (the GUI) never waits for it.
        with self._steps_lock:
            self._pending_steps += step
        self._wake.set()

    def _has_request(self) -> bool:
        return self._pending_steps != 0

    def _read(self) -> tuple[np.ndarray, str]:
        with self._steps_lock:
            steps, self._pending_steps = self._pending_steps, 0
        step = 1 if steps > 0 else -1
        for _ in range(abs(steps)):
            if not self._show_next_readable(start=self._position + step, step=step):
                break  # every other file went bad: keep showing the current image
        return self._current

    def _show_next_readable(self, start: int, step: int) -> bool:
        """Make the first readable image from `start` on (wrapping) the current one."""
        count = len(self.files)
        for offset in range(count):
            position = (start + offset * step) % count
            path = self.files[position]
            if path in self._unreadable:
                continue
            try:
                rgb = read_image(path)
            except SourceError as error:
                self._unreadable.add(path)
                self._warn(f"skipped: {error}")
                continue
            self._position = position
            viewable = [p for p in self.files if p not in self._unreadable]
            self._current = (rgb, f"{path.name} ({viewable.index(path) + 1}/{len(viewable)})")
            return True
        return False


def open_source(spec: str | int | os.PathLike, camera_index: int = 0) -> FrameSource:
    """A source (not started) for "camera", "camera:N", a camera number, or a path."""
    if isinstance(spec, int) and not isinstance(spec, bool):
        return CameraSource(spec)
    text = os.fspath(spec).strip() if isinstance(spec, os.PathLike) else str(spec).strip()
    if text.lower() == "camera":
        return CameraSource(camera_index)
    if text.lower().startswith("camera:"):
        number = text.split(":", 1)[1].strip()
        if not number.isdigit():
            raise SourceError(f"a camera is named camera:N with N a number, not {text!r}")
        return CameraSource(int(number))
    path = Path(text).expanduser()
    if path.is_dir():
        return FolderSource(path)
    if path.is_file():
        if path.suffix.lower() in VIDEO_EXTENSIONS:
            return VideoSource(path)
        return ImageSource(path)
    if text.isdigit():  # "1" from a command line, when no file of that name exists
        return CameraSource(int(text))
    raise SourceError(f"no such file or folder: {text}")


def open_source_with_fallback(
    spec: str | int | os.PathLike, camera_index: int = 0
) -> tuple[FrameSource, str | None]:
    """Open and start a source; a camera that does not answer is replaced by the sample video.

    Returns the started source and a message for the status bar (None when nothing was replaced).
    """
    source = open_source(spec, camera_index)
    if not isinstance(source, CameraSource):
        return source.start(), None
    try:
        return source.start(), None
    except SourceError:
        pass
    message = f"no camera at index {source.index}: playing the sample video"
    try:
        fallback = VideoSource(SAMPLE_VIDEO)
    except SourceError as error:
        raise SourceError(f"no camera at index {source.index}, and the sample video fails: {error}") from None
    log.info(message)
    return fallback.start(), message
