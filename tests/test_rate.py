"""The status bar's frame rate and latency (deepvis.gui.rate), with made-up clocks."""

from __future__ import annotations

import pytest

from deepvis.gui.rate import FrameRate


def frames(rate: FrameRate, start: float, fps: float, seconds: float) -> float:
    t = start
    while t < start + seconds:
        rate.displayed(t)
        t += 1 / fps
    return t - 1 / fps


def test_the_rate_follows_a_slowdown_within_its_window_not_minutes_later():
    rate = FrameRate(window=2.0)
    last = frames(rate, 0.0, 30.0, 10.0)
    assert rate.fps(last) == pytest.approx(30.0, rel=0.02)
    last = frames(rate, last + 1 / 3, 3.0, 3.0)  # the model slows to 3 frames a second
    assert rate.fps(last) == pytest.approx(3.0, rel=0.05)  # 60 frames' average would still read ~20


def test_a_slow_model_reads_its_own_rate_and_a_stall_falls_towards_zero():
    rate = FrameRate(window=2.0)
    for i in range(5):
        rate.displayed(i * 4.0)  # one frame every 4 s: not 0.0
    assert rate.fps(16.0) == pytest.approx(0.25)
    assert rate.fps(17.0) == pytest.approx(0.25)
    assert rate.fps(36.0) == pytest.approx(0.05)  # 20 s without a frame
    assert FrameRate().fps(5.0) == 0.0


def test_latency_is_smoothed_capture_to_paint():
    rate = FrameRate()
    rate.painted(1.1, 1.0)
    assert rate.latency_ms == pytest.approx(100.0)
    rate.painted(2.3, 2.0)
    assert rate.latency_ms == pytest.approx(0.8 * 100 + 0.2 * 300)
