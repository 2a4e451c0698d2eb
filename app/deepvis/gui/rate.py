"""What the status bar reads: displayed frames per second and the capture-to-screen latency.
Qt-free, so it is tested with made-up clocks."""

from __future__ import annotations

from collections import deque


class FrameRate:
    """Frames per second over the last `window` seconds, never a stale average: after a slowdown
    the figure follows within the window, a slow model (one frame every few seconds) reads its own
    rate rather than 0, and a stall reads as falling towards 0 (one frame per second since the
    last one). Latency: capture to paint, smoothed over a few frames."""

    def __init__(self, window: float = 2.0):
        self.window = window
        self._times: deque[float] = deque()
        self.latency_ms = 0.0

    def displayed(self, now: float) -> None:
        """A frame was handed to the panes at `now` (perf_counter seconds)."""
        self._times.append(now)
        while len(self._times) > 2 and self._times[0] <= now - self.window:
            self._times.popleft()

    def painted(self, now: float, captured: float) -> None:
        """A frame captured at `captured` is on the screen at `now`."""
        latency = (now - captured) * 1000.0
        self.latency_ms = latency if self.latency_ms == 0 else 0.8 * self.latency_ms + 0.2 * latency

    def fps(self, now: float) -> float:
        times = self._times
        if len(times) < 2:
            return 0.0
        recent = [t for t in times if t > now - self.window]
        if len(recent) >= 2:
            rate = (len(recent) - 1) / (recent[-1] - recent[0])
        else:  # slower than one frame per window: the last interval
            rate = 1.0 / max(times[-1] - times[-2], 1e-9)
        since = now - times[-1]
        return min(rate, 1.0 / since) if since > 1.0 / rate else rate
