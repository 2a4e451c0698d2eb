"""The worker thread: it owns the model and runs the engine; the GUI thread runs no model.

Latest frame wins at every hand-off: the worker takes the source's newest frame,
skips work when neither the frame nor the view changed, and keeps only its newest
result for the GUI, which takes it when it is ready to paint. Freezing or pausing
holds the frame on screen: the worker processes that one, not a newer one it may
already have taken.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import threading
from concurrent.futures import Future
from dataclasses import dataclass

import numpy as np
import torch
from PyQt6.QtCore import QThread, pyqtSignal

from deepvis.gui.jobs import worker_threads
from deepvis.jobs import Latest, last_line
from deepvis.live.pipeline import FrameResult, Pipeline, ViewState
from deepvis.render import as_maps
from deepvis.sources import Frame, FrameSource
from deepvis.zoo import LoadedModel

log = logging.getLogger("deepvis.gui")

# How long the worker waits for a new frame before it looks at the view again.
POLL_SECONDS = 0.02

@dataclass(frozen=True)
class Delivery:
    """One result with what the window needs to label it."""

    result: FrameResult
    frame_timestamp: float  # Frame.timestamp (time.perf_counter at capture)
    frame_label: str
    model_name: str
    frame: Frame | None = None  # the source's frame it was made from
    source: FrameSource | None = None  # and that source


@dataclass(frozen=True)
class Hold:
    """The frame the worker processes instead of the source's newer ones (freeze, pause).

    With `release_after`, the hold ends by itself once the source publishes a frame past that
    index: a next file asked for while paused is shown."""

    source: FrameSource
    frame: Frame
    release_after: int | None = None

    def ended_by(self, source: FrameSource, frame: Frame | None) -> bool:
        """A frame of another source, or one past release_after, ends the hold."""
        return source is not self.source or (
            self.release_after is not None and frame is not None and frame.index > self.release_after)


@dataclass(frozen=True)
class ModelInfo:
    """A model the worker has switched to, with each displayed layer's number of units."""

    loaded: LoadedModel
    units: dict[str, int]


def unit_counts(pipeline: Pipeline) -> dict[str, int]:
    """Each displayed layer's number of units, from one forward pass on a blank image."""
    size = pipeline.loaded.card.input_size
    probed = pipeline.probe(np.zeros((size, size, 3), dtype=np.uint8))
    return {name: int(as_maps(act).shape[0]) for name, act in probed.activations.items()}


def copy_model(loaded: LoadedModel) -> LoadedModel:
    """A LoadedModel with its own deep copy of the network and no hooks copied along."""
    model = copy.deepcopy(loaded.model)
    for module in model.modules():
        module._forward_hooks.clear()
        module._forward_pre_hooks.clear()
        module._backward_hooks.clear()
    return dataclasses.replace(loaded, model=model)


def _top_frames_on_host(pipeline: Pipeline | None, layer: str):
    tracker = None if pipeline is None else pipeline.top_frames.get(layer)
    if tracker is None:
        return None
    crops, values = tracker.ranked()
    return crops.cpu().numpy(), values.cpu().numpy(), tracker.frames_seen


class PipelineWorker(QThread):
    result_ready = pyqtSignal()  # a new Delivery waits in take()
    model_ready = pyqtSignal(object)  # ModelInfo, after set_model
    failed = pyqtSignal(str)
    model_failed = pyqtSignal(str)  # the running model raised on a frame: it gets no more frames

    def __init__(self, loaded: LoadedModel, source: FrameSource, view: ViewState, parent=None,
                 track_top_frames: bool = True):
        super().__init__(parent)
        self.track_top_frames = track_top_frames
        self._lock = threading.Lock()
        self._source = source
        self._view = view
        self._pending_model: tuple[LoadedModel, ViewState] | None = (loaded, view)
        self._loaded = loaded
        self._hold: Hold | None = None
        self._stopping = False
        self._deliveries: Latest[Delivery] = Latest()
        self._copy_requests: list[Future] = []
        self._top_frames_requests: list[tuple[str, Future]] = []  # (layer, future of its host arrays)
        self._reset_top_frames = False
        self._active = threading.Event()  # cleared while the mode is hidden: no frame is processed
        self._active.set()
        self.frames_processed = 0

    # -- called from the GUI thread -----------------------------------------------------

    def set_view(self, view: ViewState) -> None:
        with self._lock:
            self._view = view

    def set_source(self, source: FrameSource) -> None:
        with self._lock:
            self._source = source

    def set_model(self, loaded: LoadedModel, view: ViewState) -> None:
        """Switch models between frames; the old one keeps running until then."""
        with self._lock:
            self._pending_model = (loaded, view)
            self._view = view

    def hold(self, hold: Hold | None) -> None:
        """Process the held frame instead of the source's newer ones (None: frames flow again).
        A result of another frame, waiting or on its way, is dropped: the frame on screen stays."""
        with self._lock:
            self._hold = hold
            waiting = self._deliveries.take()
            if waiting is not None and (hold is None or waiting.frame is hold.frame):
                self._deliveries.put(waiting)  # its result_ready is still on its way to the GUI

    def set_active(self, active: bool) -> None:
        """Hidden modes do no work: the loop waits until the mode is shown again (at once on show)."""
        if active:
            self._active.set()
        else:
            self._active.clear()

    def take(self) -> Delivery | None:
        """The newest result, once; older ones were dropped."""
        return self._deliveries.take()

    def request_model_copy(self) -> Future:
        """A deep copy of the current model, made between frames (hooks are module-global)."""
        future: Future = Future()
        with self._lock:
            if self.isRunning() and not self._stopping:
                self._copy_requests.append(future)
                return future
            loaded = self._loaded
        future.set_result(copy_model(loaded))
        return future

    def reset_top_frames(self) -> None:
        """Forget every unit's live top-9 (between frames)."""
        with self._lock:
            self._reset_top_frames = True

    def request_top_frames(self, layer: str) -> Future:
        """Every unit's live top-9 of a layer on the host (crops, values, frames seen), or None when that
        layer has none; made between frames."""
        future: Future = Future()
        with self._lock:
            if self.isRunning() and not self._stopping:
                self._top_frames_requests.append((layer, future))
                return future
        future.set_result(None)
        return future

    def stop(self, timeout_ms: int = 10000) -> None:
        with self._lock:
            self._stopping = True
        self._active.set()
        self.wait(timeout_ms)

    # -- the worker thread ------------------------------------------------------------------

    def run(self) -> None:
        torch.set_num_threads(worker_threads())  # per thread with OpenMP: this one runs the model
        pipeline: Pipeline | None = None
        last_source, last_index, last_rgb, last_view = None, -1, None, None
        while True:
            with self._lock:
                if self._stopping:
                    break
                pending, self._pending_model = self._pending_model, None
                source, view, hold = self._source, self._view, self._hold
                copies, self._copy_requests = self._copy_requests, []
                top_requests, self._top_frames_requests = self._top_frames_requests, []
                reset_top, self._reset_top_frames = self._reset_top_frames, False
            if pending is not None:
                pipeline = self._switch_model(pending[0]) or pipeline  # a model that fails keeps the old
                last_view = None
            for future in copies:
                future.set_result(copy_model(self._loaded))
            if pipeline is not None and reset_top:
                pipeline.reset_top_frames()
            for layer, future in top_requests:
                future.set_result(_top_frames_on_host(pipeline, layer))
            if pipeline is None:
                self.msleep(50)
                continue
            if not self._active.is_set():
                self._active.wait(0.1)  # short, so model copies and stop requests are still served
                continue
            if source is not last_source:
                last_source, last_index, last_rgb = source, -1, None
            hold = self._current_hold(hold, source)
            frame = hold.frame if hold is not None else source.wait_new(last_index, timeout=POLL_SECONDS)
            if frame is None:
                continue
            if frame.rgb is last_rgb and view == last_view:
                if hold is not None or frame.index == last_index:  # wait_new did not wait: do not spin
                    self.msleep(int(POLL_SECONDS * 1000))
                last_index = frame.index
                continue  # a still image republished: nothing new to compute
            try:
                result = pipeline.process(frame.rgb, view, frame.index)
            except Exception as error:
                # Once, not per frame: the model gets no more frames until another one is chosen.
                log.warning("%s failed on a frame", pipeline.loaded.name, exc_info=True)
                self.model_failed.emit(f"{pipeline.loaded.name} failed on a frame and was stopped "
                                       f"({last_line(error)}): choose another model")
                pipeline = None
                continue
            last_index, last_rgb, last_view = frame.index, frame.rgb, view
            self.frames_processed += 1
            self._deliver(Delivery(result, frame.timestamp, frame.label, pipeline.loaded.name, frame, source))
        with self._lock:
            copies, self._copy_requests = self._copy_requests, []
            top_requests, self._top_frames_requests = self._top_frames_requests, []
        for future in copies:
            future.set_result(copy_model(self._loaded))
        for _layer, future in top_requests:
            future.set_result(None)

    def _switch_model(self, loaded: LoadedModel) -> Pipeline | None:
        try:
            pipeline = Pipeline(loaded, track_top_frames=self.track_top_frames)
            units = unit_counts(pipeline)
        except Exception as error:
            log.warning("%s cannot run", loaded.name, exc_info=True)
            self.model_failed.emit(f"{loaded.name} cannot run ({last_line(error)}): choose another model")
            return None
        self._loaded = loaded
        self.model_ready.emit(ModelInfo(loaded, units))
        return pipeline

    def _current_hold(self, hold: Hold | None, source: FrameSource) -> Hold | None:
        """The hold that applies to this source now: none for another source's frame, and none once
        the source has published past its release_after."""
        if hold is None or not hold.ended_by(source, source.latest()):
            return hold
        with self._lock:
            if self._hold is hold:
                self._hold = None
        return None

    def _deliver(self, delivery: Delivery) -> None:
        with self._lock:  # with hold(): a result of a frame the hold keeps back never reaches the GUI
            hold = self._hold
            if hold is not None and delivery.frame is not hold.frame:
                if not hold.ended_by(delivery.source, delivery.frame):
                    return  # taken before the hold came: the frame held is processed next
                self._hold = None
            wake = self._deliveries.put(delivery)
        if wake:
            self.result_ready.emit()
