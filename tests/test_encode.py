"""The MP4s deepvis writes play in a browser: H.264, yuv420p, any frame size."""

from __future__ import annotations

import numpy as np
import pytest

from deepvis.encode import VideoWriter

av = pytest.importorskip("av")  # a core dependency; without it the writer falls back to mp4v


@pytest.mark.parametrize("size", [(64, 48), (65, 49)])  # an odd side is padded to an even one
def test_frames_are_written_as_browser_playable_h264(tmp_path, size):
    path = tmp_path / "clip.mp4"
    writer = VideoWriter(path, 10, size)
    frames = [np.full((size[1], size[0], 3), 40 * i, np.uint8) for i in range(6)]
    for frame in frames:
        writer.write(frame)
    writer.close()
    writer.close()  # twice is harmless
    assert writer.codec == "H.264"
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264" and stream.codec_context.pix_fmt == "yuv420p"
        decoded = [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]
    even = ((size[1] + 1) // 2 * 2, (size[0] + 1) // 2 * 2, 3)
    assert len(decoded) == len(frames) and decoded[0].shape == even
    # Each frame's grey level comes back within the codec's loss (mid-greys, 40 levels apart).
    assert [round(float(f.mean()) / 40) for f in decoded] == list(range(6))
