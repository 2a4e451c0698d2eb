"""Frame sources: good and bad inputs, folder navigation, looping, latest frame wins, clean stop."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from deepvis import DeepvisError
from support.windows import corrupt_mid_stream
from deepvis.paths import SAMPLE_IMAGES, SAMPLE_VIDEO
from deepvis.sources import (
    CameraSource,
    FolderSource,
    Frame,
    FrameSource,
    ImageSource,
    SourceError,
    VideoSource,
    open_source,
    open_source_with_fallback,
    read_image,
)

TIMEOUT = 3.0  # generous bound for any single wait; tests normally finish far sooner


def write_png(path, rgb: np.ndarray) -> None:
    ok, data = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    assert ok
    path.write_bytes(data.tobytes())


def solid(value: int, size=(12, 16)) -> np.ndarray:
    return np.full((*size, 3), value, np.uint8)


def write_video(path, frame_count: int = 10, fps: float = 30.0) -> None:
    """A small video whose frame i is uniformly grey at level 20 * i (survives lossy coding)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (64, 48))
    assert writer.isOpened()
    for i in range(frame_count):
        writer.write(np.full((48, 64, 3), 20 * i, np.uint8))
    writer.release()


def wait_for(condition, timeout: float = TIMEOUT) -> bool:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if condition():
            return True
        time.sleep(0.005)
    return condition()


def wait_label(source: FrameSource, label: str) -> Frame:
    assert wait_for(lambda: source.latest() is not None and source.latest().label == label), (
        f"expected {label!r}, latest is {source.latest() and source.latest().label!r}"
    )
    return source.latest()


@pytest.fixture
def folder(tmp_path):
    """a.png, b.png, c.png with grey levels 10, 20, 30, plus a text file that is ignored."""
    for name, value in [("a.png", 10), ("b.png", 20), ("c.png", 30)]:
        write_png(tmp_path / name, solid(value))
    (tmp_path / "notes.txt").write_text("not an image")
    return tmp_path


@pytest.fixture(autouse=True)
def no_thread_left():
    before = set(threading.enumerate())
    yield
    left_alive = lambda: set(threading.enumerate()) - before  # noqa: E731
    assert wait_for(lambda: not left_alive(), timeout=2.0), f"threads still alive: {left_alive()}"


# -- read_image ---------------------------------------------------------------------------------


def test_read_image_gives_rgb_uint8(tmp_path):
    rgb = np.zeros((5, 7, 3), np.uint8)
    rgb[..., 0] = 200  # pure red in RGB
    write_png(tmp_path / "red.png", rgb)
    image = read_image(tmp_path / "red.png")
    assert image.shape == (5, 7, 3) and image.dtype == np.uint8 and image.flags.c_contiguous
    assert image[0, 0].tolist() == [200, 0, 0]


def test_read_image_converts_gray_and_rgba(tmp_path):
    gray = np.full((4, 4), 77, np.uint8)
    cv2.imencode(".png", gray)[1].tofile(str(tmp_path / "gray.png"))
    bgra = np.zeros((4, 4, 4), np.uint8)
    bgra[..., 2] = 255  # red
    bgra[..., 3] = 128
    cv2.imencode(".png", bgra)[1].tofile(str(tmp_path / "rgba.png"))
    assert read_image(tmp_path / "gray.png")[0, 0].tolist() == [77, 77, 77]
    assert read_image(tmp_path / "rgba.png").shape == (4, 4, 3)
    assert read_image(tmp_path / "rgba.png")[0, 0].tolist() == [255, 0, 0]


def test_read_image_unicode_path(tmp_path):
    write_png(tmp_path / "café ☕.png", solid(99))
    assert read_image(tmp_path / "café ☕.png")[0, 0].tolist() == [99, 99, 99]


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d: None, "no such image file"),
        (lambda d: (d / "x.png").write_bytes(np.random.default_rng(0).bytes(500)), "not an image"),
        (lambda d: (d / "x.png").write_bytes(b""), "empty file"),
    ],
    ids=["missing", "corrupt", "empty"],
)
def test_read_image_errors_name_the_file(tmp_path, make, message):
    make(tmp_path)
    with pytest.raises(SourceError) as error:
        read_image(tmp_path / "x.png")
    text = str(error.value)
    assert message in text and "x.png" in text and "\n" not in text
    assert isinstance(error.value, DeepvisError)


# -- ImageSource --------------------------------------------------------------------------------


def test_image_source_publishes_and_republishes(tmp_path):
    write_png(tmp_path / "one.png", solid(42))
    source = ImageSource(tmp_path / "one.png")
    source.republish_interval = 0.01
    assert source.latest() is None
    with source:
        first = source.wait_new(-1, TIMEOUT)
        assert first is not None and first.label == "one.png"
        assert first.rgb.shape == (12, 16, 3) and first.rgb[0, 0].tolist() == [42, 42, 42]
        again = source.wait_new(first.index, TIMEOUT)
        assert again.index > first.index and again.rgb is first.rgb  # decoded once


def test_image_source_bad_inputs(tmp_path):
    with pytest.raises(SourceError, match="no such image file"):
        ImageSource(tmp_path / "missing.png")
    (tmp_path / "corrupt.png").write_bytes(np.random.default_rng(1).bytes(2000))
    with pytest.raises(SourceError, match="corrupt.png"):
        ImageSource(tmp_path / "corrupt.png")


def test_sample_images_open():
    for name in ["coffee.png", "chelsea.png", "astronaut.png", "rocket.jpg"]:
        image = read_image(SAMPLE_IMAGES / name)
        assert image.ndim == 3 and image.shape[2] == 3 and min(image.shape[:2]) >= 300


# -- FolderSource -------------------------------------------------------------------------------


def test_folder_next_prev_wrap(folder):
    with FolderSource(folder) as source:
        frame = wait_label(source, "a.png (1/3)")
        assert frame.rgb[0, 0, 0] == 10
        source.next_item()
        assert wait_label(source, "b.png (2/3)").rgb[0, 0, 0] == 20
        source.next_item()
        wait_label(source, "c.png (3/3)")
        source.next_item()  # wraps to the first
        wait_label(source, "a.png (1/3)")
        source.prev_item()  # wraps to the last
        assert wait_label(source, "c.png (3/3)").rgb[0, 0, 0] == 30
    assert source.warnings == []  # notes.txt is not an image file name: ignored silently


def test_folder_skips_a_non_image_file_with_a_warning(folder, caplog):
    (folder / "b.png").write_text("this is text, not a PNG")
    with caplog.at_level(logging.WARNING, logger="deepvis.sources"):
        with FolderSource(folder) as source:
            wait_label(source, "a.png (1/2)")  # the counter counts only viewable files
            source.next_item()
            assert wait_label(source, "c.png (2/2)").rgb[0, 0, 0] == 30
            source.prev_item()  # the bad file stays skipped, without a second warning
            wait_label(source, "a.png (1/2)")
    assert len(source.warnings) == 1 and "b.png" in source.warnings[0]
    assert any("b.png" in record.getMessage() for record in caplog.records)


def test_folder_starts_at_the_first_readable_image(folder):
    (folder / "a.png").write_bytes(np.random.default_rng(2).bytes(300))
    source = FolderSource(folder)
    with source:
        assert wait_label(source, "b.png (1/2)").rgb[0, 0, 0] == 20
    assert len(source.warnings) == 1 and "a.png" in source.warnings[0]


def test_a_truncated_image_is_counted_out_once_it_fails(folder):
    data = (folder / "b.png").read_bytes()
    (folder / "b.png").write_bytes(data[:40])  # a PNG signature, then nothing
    with FolderSource(folder) as source:
        wait_label(source, "a.png (1/3)")  # not known to be bad yet
        source.next_item()
        wait_label(source, "c.png (2/2)")
    assert len(source.warnings) == 1 and "b.png" in source.warnings[0]


def test_an_unreadable_folder_is_one_line(tmp_path, monkeypatch):
    def refuse(self):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "iterdir", refuse)
    with pytest.raises(SourceError, match="cannot read folder .*permission denied"):
        FolderSource(tmp_path)


def test_folder_extensions_are_case_insensitive(tmp_path):
    write_png(tmp_path / "UPPER.PNG", solid(5))
    cv2.imencode(".jpg", solid(200, (16, 16)))[1].tofile(str(tmp_path / "lower.Jpeg"))
    source = FolderSource(tmp_path)
    assert [path.name for path in source.files] == ["lower.Jpeg", "UPPER.PNG"]


def test_empty_folder_and_unreadable_folder(tmp_path):
    with pytest.raises(SourceError, match="no images in folder"):
        FolderSource(tmp_path)
    (tmp_path / "readme.txt").write_text("hello")
    with pytest.raises(SourceError, match="no images in folder"):
        FolderSource(tmp_path)
    (tmp_path / "bad.png").write_bytes(b"\x89PNG but not really")
    with pytest.raises(SourceError, match="no readable image in folder"):
        FolderSource(tmp_path)


def test_folder_next_works_while_paused(folder):
    with FolderSource(folder) as source:
        wait_label(source, "a.png (1/3)")
        source.paused = True
        source.next_item()
        wait_label(source, "b.png (2/3)")


# -- VideoSource --------------------------------------------------------------------------------


def test_video_indices_increase_and_it_loops(tmp_path):
    write_video(tmp_path / "ten.mp4", frame_count=10)
    source = VideoSource(tmp_path / "ten.mp4", fps=0)
    with source:
        seen = []
        last = -1
        while len(seen) < 25:
            frame = source.wait_new(last, TIMEOUT)
            assert frame is not None and frame.index > last
            seen.append(frame)
            last = frame.index
    indices = [frame.index for frame in seen]
    assert indices == sorted(set(indices))
    # The file's own frame numbers go back to 0 after #9: the video looped.
    in_file = [int(frame.label.rsplit("#", 1)[1]) for frame in seen]
    assert max(in_file) <= 9 and source.latest().index >= 20
    assert any(later < earlier for earlier, later in zip(in_file, in_file[1:]))
    assert all(frame.rgb.shape == (48, 64, 3) and frame.rgb.dtype == np.uint8 for frame in seen)


def test_video_without_loop_ends(tmp_path):
    write_video(tmp_path / "ten.mp4", frame_count=10)
    source = VideoSource(tmp_path / "ten.mp4", loop=False, fps=0)
    source.start()
    assert wait_for(lambda: not source.running)
    assert source.latest().index == 9 and source.latest().label == "ten.mp4 #9"
    assert source.wait_new(9, 0.05).index == 9  # ended: returns at once with the last frame
    source.stop()


def test_video_plays_at_its_frame_rate(tmp_path):
    write_video(tmp_path / "slow.mp4", frame_count=10, fps=20.0)
    source = VideoSource(tmp_path / "slow.mp4")
    assert source.fps == pytest.approx(20.0)
    with source:
        first = source.wait_new(-1, TIMEOUT)
        time.sleep(0.25)
        produced = source.latest().index - first.index
    assert 2 <= produced <= 8  # about 5 frames in 0.25 s at 20 fps


def test_video_bad_inputs(tmp_path):
    with pytest.raises(SourceError, match="no such video file"):
        VideoSource(tmp_path / "missing.mp4")
    (tmp_path / "broken.mp4").write_bytes(np.random.default_rng(3).bytes(4000))
    with pytest.raises(SourceError, match="broken.mp4"):
        VideoSource(tmp_path / "broken.mp4")


def test_sample_video_decodes():
    capture = cv2.VideoCapture(str(SAMPLE_VIDEO))
    ok, image = capture.read()
    assert ok and image.shape == (360, 480, 3)
    assert capture.get(cv2.CAP_PROP_FRAME_COUNT) >= 100
    capture.release()


# -- latest frame wins, stop ----------------------------------------------------------------------


def test_latest_frame_wins(tmp_path):
    write_video(tmp_path / "ten.mp4", frame_count=10)
    with VideoSource(tmp_path / "ten.mp4", fps=0) as source:
        consumed = source.wait_new(-1, TIMEOUT)
        time.sleep(0.2)  # a slow consumer: many frames are produced meanwhile
        newest = source.latest()
        assert newest.index > consumed.index + 1  # no queue: the frames in between are gone
        assert source.wait_new(consumed.index, TIMEOUT).index >= newest.index


def test_pause_keeps_the_current_frame(tmp_path):
    write_video(tmp_path / "ten.mp4", frame_count=10)
    with VideoSource(tmp_path / "ten.mp4", fps=0) as source:
        source.wait_new(-1, TIMEOUT)
        source.paused = True
        time.sleep(0.05)  # let a read in progress finish
        held = source.latest().index
        assert source.wait_new(held, 0.15).index == held
        source.paused = False
        assert source.wait_new(held, TIMEOUT).index > held


def test_stop_joins_the_thread_and_is_idempotent(tmp_path):
    write_video(tmp_path / "ten.mp4", frame_count=10)
    before = set(threading.enumerate())
    source = VideoSource(tmp_path / "ten.mp4", fps=0)
    assert source.start() is source
    assert source.start() is source  # idempotent: still one reader
    assert len(set(threading.enumerate()) - before) == 1
    source.wait_new(-1, TIMEOUT)
    source.stop()
    assert set(threading.enumerate()) == before and not source.running
    source.stop()
    # It can start again, and its frame counter keeps increasing.
    last = source.latest().index
    with source:
        assert source.wait_new(last, TIMEOUT).index > last
    assert set(threading.enumerate()) == before


# -- cameras and open_source ----------------------------------------------------------------------


def test_missing_camera_raises(monkeypatch):
    monkeypatch.setattr(CameraSource, "open_timeout", 1.0)
    with pytest.raises(SourceError, match="no camera answers at index 57"):
        CameraSource(57).start()


def test_missing_camera_falls_back_to_the_sample_video():
    source, message = open_source_with_fallback(57)
    try:
        assert isinstance(source, VideoSource) and source.path == SAMPLE_VIDEO
        assert message == "no camera at index 57: playing the sample video"
        frame = source.wait_new(-1, TIMEOUT)
        assert frame is not None and frame.rgb.shape == (360, 480, 3)
    finally:
        source.stop()


def test_fallback_not_used_for_files(folder):
    source, message = open_source_with_fallback(str(folder / "a.png"))
    try:
        assert isinstance(source, ImageSource) and message is None and source.running
    finally:
        source.stop()


def test_open_source_dispatch(folder, tmp_path):
    write_video(tmp_path / "clip.MP4", frame_count=3)
    assert isinstance(open_source(str(folder)), FolderSource)
    assert isinstance(open_source(folder / "a.png"), ImageSource)
    assert isinstance(open_source(str(tmp_path / "clip.MP4")), VideoSource)
    camera = open_source("camera", camera_index=3)
    assert isinstance(camera, CameraSource) and camera.index == 3 and camera.name == "camera 3"
    assert open_source("camera:2").index == 2
    assert open_source(5).index == 5
    with pytest.raises(SourceError, match="no such file or folder: .*nothing-here"):
        open_source(str(tmp_path / "nothing-here.jpg"))
    with pytest.raises(SourceError, match="camera:N"):
        open_source("camera:front")


class SlowSource(FrameSource):
    """A reader that blocks in each read, like a camera driver that hangs."""

    def __init__(self, read_seconds: float):
        super().__init__("slow")
        self.read_seconds = read_seconds

    def _read(self):
        time.sleep(self.read_seconds)
        return solid(1), "slow"


def test_a_stuck_reader_is_not_doubled():
    source = SlowSource(read_seconds=0.3).start()
    source.stop(timeout=0.01)  # gives up waiting while the reader is inside _read
    assert not source.running
    with pytest.raises(SourceError, match="still closing"):
        source.start()
    source.stop(timeout=TIMEOUT)  # now it ends
    with source:
        assert source.wait_new(-1, TIMEOUT) is not None


class FailingSource(FrameSource):
    def _read(self):
        raise ValueError("device unplugged")


def test_a_failing_reader_ends_with_a_warning():
    source = FailingSource("broken").start()
    assert source.wait_new(-1, TIMEOUT) is None  # returns as soon as the reader has ended
    assert wait_for(lambda: not source.running)
    assert source.warnings == ["broken: reading failed: device unplugged"]
    source.stop()


def test_a_video_corrupt_mid_stream_is_one_warning_and_ffmpeg_stays_quiet(tmp_path):
    """Decoding stops early: said once (the frame and the count), without FFmpeg's own lines on
    stderr (several a second before), in a process of its own so that FFmpeg starts fresh."""
    import subprocess
    import sys

    video = corrupt_mid_stream(tmp_path / "bad.mp4")
    code = ("import sys, time; from deepvis.sources import VideoSource\n"
            f"source = VideoSource({str(video)!r}, fps=0).start()\n"
            "time.sleep(3); source.stop(timeout=5)\n"
            "print(repr(source.warnings))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    warnings = eval(done.stdout.strip().splitlines()[-1])
    assert len(warnings) == 1 and "does not decode" in warnings[0] and "of 120" in warnings[0], warnings
    assert "@ 0x" not in done.stderr, done.stderr[-2000:]  # FFmpeg's "[mpeg4 @ 0x...] ..." lines
