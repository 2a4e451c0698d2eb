"""Freeze (f) and pause (space) stop on the frame on screen.

The worker may already have taken a newer frame than the one shown, and the source may
have published one more: without a hold, the view would stop a frame or two later than
the user saw. So the frame of the shown result is handed to the worker, which processes
that one (after view changes too) until the freeze and the pause are both off.
"""

from __future__ import annotations

from typing import Callable

from deepvis.gui.live.source_switch import SourceSwitch
from deepvis.gui.live.worker import Delivery, Hold, PipelineWorker


class FrameHold:
    def __init__(self, worker: PipelineWorker, sources: SourceSwitch, frozen: Callable[[], bool]):
        self.worker, self.sources, self.frozen = worker, sources, frozen
        self.held: Hold | None = None
        self.shown: Delivery | None = None

    @property
    def wanted(self) -> bool:
        return self.frozen() or self.sources.user_paused

    def update(self, release_on_new: bool = False) -> None:
        """Hold the frame on screen when frozen or paused, else let frames flow. Until a frame of
        the current source is shown, frames flow (the first one shown is then held).
        release_on_new: the hold ends at the source's next frame (a file asked for while paused)."""
        source, shown = self.sources.source, self.shown
        if not self.wanted or shown is None or shown.source is not source or shown.frame is None:
            self.held = None
        else:
            latest, release = source.latest(), None
            if release_on_new and latest is not None:
                release = latest.index
            elif self.held is not None and self.held.frame is shown.frame:
                release = self.held.release_after  # a file asked for is still on its way
            self.held = Hold(source, shown.frame, None if self.frozen() else release)
        self.worker.hold(self.held)

    def displayed(self, delivery: Delivery) -> bool:
        """A result is shown; True when it is of the held frame (re-rendered after a view change)."""
        self.shown = delivery
        held = self.held is not None and delivery.frame is self.held.frame
        if not held and self.wanted:
            self.update()  # the first frame shown since the freeze, the pause or a new source
        return held

    def source_switched(self, _source) -> None:
        """Another source plays: nothing of it is on screen yet, so frames flow until one is."""
        self.update()

    def toggle_pause(self) -> None:
        self.sources.toggle_pause()
        self.update()

    def step_file(self, step: int) -> None:
        """Next or previous file; paused, the file asked for is shown, then held in turn."""
        self.update(release_on_new=True)  # the source's latest index, taken before it moves on
        source = self.sources.source
        (source.next_item if step > 0 else source.prev_item)()
