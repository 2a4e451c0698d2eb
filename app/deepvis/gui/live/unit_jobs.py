"""The Live mode's unit-image jobs: a unit's optimized images computed on demand (x) or by themselves
in the background when the selected unit has none, and the top-9 seen live reset or saved.

One compute at a time, on a private copy of the running model (made once per model, between
frames), so that the live view's model is never touched by a second thread.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Callable

from PyQt6.QtCore import QObject, QThread, pyqtSignal, pyqtSlot

from deepvis import DeepvisError
from deepvis.gui.background import BackgroundCall, keep_until_done
from deepvis.gui.live.unit_panel import UnitPanel
from deepvis.gui.live.worker import PipelineWorker
from deepvis.unitvis.ondemand import BACKGROUND_SIZE, BACKGROUND_STEPS
from deepvis.zoo import LoadedModel

log = logging.getLogger("deepvis.gui")

Key = tuple[str, int]

# A background job rests after each step for this multiple of the step's own time, so it takes at
# most 1 / (1 + BACKGROUND_REST) of one core and leaves the cores and the GIL to the live view in
# between: on 2 cores a job that runs flat out costs the live view far more than its share.
BACKGROUND_REST = 0.25


def yield_to_the_live_view() -> None:
    """Make the calling thread a background one: one CPU thread for its torch ops (no second
    OpenMP team beside the worker's) and a lower scheduling priority, so that on a busy machine
    the live view's worker gets the cores first."""
    import torch

    torch.set_num_threads(1)
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)  # Linux: per thread
    except (AttributeError, OSError):
        pass


class ModelCopies:
    """A private copy of the model Live runs, for one kind of job: made once per model, between frames
    (the worker makes it), so that no second thread ever touches the live view's model. Two kinds of
    job that may run at once hold a ModelCopies each."""

    def __init__(self, worker: PipelineWorker, current_model: Callable[[], LoadedModel]):
        self.worker, self.current_model = worker, current_model
        self._copy = None  # (LoadedModel, Future of its private copy)

    def future(self):
        loaded = self.current_model()
        if self._copy is None or self._copy[0] is not loaded:
            self._copy = (loaded, self.worker.request_model_copy())
        return self._copy[1]


class ComputeTask(QThread):
    """compute_unit on a private copy of the model, with progress and a stop flag.

    Each signal carries the task itself, so that the receiver connects methods (slots), not
    closures: Qt drops a queued signal whose receiver is gone, where a closure connected to a
    task destroyed with its window could still be called (and crash the process)."""

    progress = pyqtSignal(object, int, int)  # (task, step, total)
    finished_ok = pyqtSignal(object)  # the task, its images written
    failed = pyqtSignal(object, str)  # (task, message)

    def __init__(self, copy_future, layer: str, unit: int, store, parent=None, steps: int | None = None,
                 size: int | None = None, background: bool = False, preset: str = "lucid"):
        super().__init__(parent)
        self.copy_future, self.layer, self.unit, self.store = copy_future, layer, unit, store
        self.steps, self.size, self.background, self.preset = steps, size, background, preset
        self._stop = threading.Event()
        self.done = False  # run() has returned (set before QThread's finished is emitted)

    def stop(self) -> None:
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    @property
    def key(self) -> Key:
        return self.layer, self.unit

    @property
    def label(self) -> str:
        preset = "" if self.preset == "lucid" else f" ({self.preset})"
        return f"{self.layer}:{self.unit}{preset}" + (" (in the background)" if self.background else "")

    def run(self) -> None:
        try:
            self._run()
        finally:
            self.done = True

    def _run(self) -> None:
        if self.background:
            yield_to_the_live_view()
        try:
            from deepvis.unitvis.ondemand import compute_unit

            loaded = self.copy_future.result(timeout=60)
            last_step = [time.perf_counter()]

            def progress(step: int, total: int) -> None:
                self.progress.emit(self, int(step), int(total))
                if self.background and BACKGROUND_REST > 0:
                    self._stop.wait(min((time.perf_counter() - last_step[0]) * BACKGROUND_REST, 0.5))
                    last_step[0] = time.perf_counter()

            compute_unit(loaded, self.layer, self.unit, self.store, preset=self.preset, progress=progress,
                         should_stop=self._stop.is_set, steps=self.steps, size=self.size)
        except ImportError:
            self.failed.emit(self, "computing unit images is not available in this installation")
        except DeepvisError as error:
            self.failed.emit(self, str(error))
        except Exception as error:
            log.exception("computing the unit's images failed")
            self.failed.emit(self, f"{type(error).__name__}: {error}")
        else:
            self.finished_ok.emit(self)


class UnitImageJobs(QObject):
    """Computes and saves what the unit panel shows; the Live mode tells it the selection and
    whether Live is visible, and `current_model` gives the model Live runs."""

    def __init__(self, panel: UnitPanel, worker: PipelineWorker, current_model: Callable[[], LoadedModel],
                 show_message: Callable[[str], None], auto: bool = True, parent: QObject | None = None):
        super().__init__(parent)
        self.panel, self.worker, self.current_model = panel, worker, current_model
        self.show_message, self.auto = show_message, auto
        self.active = False
        self.task: ComputeTask | None = None
        self._pending: tuple[Key, bool, str] | None = None  # (unit, in the background, preset)
        self.copies = ModelCopies(worker, current_model)
        self.hold_background: Callable[[], bool] = lambda: False  # another job has the spare core now
        self._stopped = False
        self._calls: set[BackgroundCall] = set()
        panel.compute_requested.connect(self.compute_now)
        panel.images_shown.connect(self.on_images_shown)

    # ------------------------------------------------------------------ told by the Live mode

    @property
    def selected(self) -> Key | None:
        """The unit the panel shows (the Live mode moves the panel with the selection)."""
        return self.panel.key

    def select(self, key: Key) -> None:
        """The selection moves to `key` (the panel follows): an unfinished background compute of
        another unit stops."""
        task = self.task
        if task is not None and task.isRunning() and task.background and task.key != key:
            task.stop()
            self.panel.hide_progress()
        self._sync_button()

    def set_active(self, active: bool) -> None:
        """Hidden, a background image waits until Live is shown again; shown, it asks again."""
        self.active = active
        task = self.task
        if not active and task is not None and task.isRunning() and task.background:
            task.stop()
            self._pending = None
        if active and self.panel.shown_key is not None:
            self.on_images_shown(self.panel.shown_key)

    def give_way(self) -> None:
        """Another job starts beside the live view (an accentuation): a background compute stops; the
        unit's image is asked for again when a unit is next shown."""
        task = self.task
        if task is not None and task.isRunning() and task.background:
            task.stop()
            self._pending = None
            self.panel.hide_progress()

    def shutdown(self) -> None:
        """Stop the compute; it stops between steps (a QThread destroyed while running aborts)."""
        self._stopped = True
        if self.task is not None:
            self.task.stop()
            self.task.wait(60000)

    # ------------------------------------------------------------------ optimized images

    def can_compute_now(self) -> bool:
        """Whether x would start computing the selected unit now: not without a store that can be
        written, nor while a full compute runs (a background one gives way to x)."""
        store, task = self.panel.store, self.task
        if store is None or self.selected is None or store.unwritable():
            return False
        return task is None or task.done or not task.isRunning() or task.background

    def _sync_button(self) -> None:
        """The panel's Compute now (x) is enabled exactly when x works."""
        self.panel.set_compute_enabled(self.can_compute_now())

    def compute_now(self, preset: str = "lucid") -> None:
        """x / the panel's button: the selected unit's images with the preset's full steps (Unit menu:
        also maco, which stores the image and the image faded where the unit does not look)."""
        if self.selected is not None:
            self._request(self.selected, background=False, preset=preset)

    def on_images_shown(self, key) -> None:
        """A unit without an optimized image gets one computed in the background (auto_unit_images)."""
        panel = self.panel
        self._sync_button()
        if not self.auto or not self.active or key != self.selected or panel.store is None or self.hold_background():
            return
        if panel.shown_key == key and panel.current_images is not None and panel.current_images.optimized:
            return
        self._request(key, background=True)

    def _request(self, key: Key, background: bool, preset: str = "lucid") -> None:
        """A new request stops an unfinished other one and starts when that has stopped."""
        if self.panel.store is None:
            self.show_message(self.panel.store_error or "no unit store")
            return
        unwritable = self.panel.store.unwritable()
        if unwritable:  # the compute would fail only at its write, a minute later
            self.panel.show_problem(unwritable)
            if not background:  # a background try says it in the panel only: selections stay quiet
                self.show_message(unwritable)
            return
        task = self.task
        if task is not None and task.isRunning():
            if task.key == key and (background or (not task.background and task.preset == preset)):
                return  # already on its way
            if not background and not task.background:
                self.show_message("a unit is already being computed")
                return
            task.stop()
        self._pending = (key, background, preset)
        if task is None or not task.isRunning():
            self._start_pending()

    def _start_pending(self) -> None:
        if self._pending is None or self._stopped:
            return
        (layer, unit), background, preset = self._pending
        self._pending = None
        if background and (layer, unit) != self.selected:
            return  # the selection moved on meanwhile
        steps, size = (BACKGROUND_STEPS, BACKGROUND_SIZE) if background else (None, None)
        task = ComputeTask(self.copies.future(), layer, unit, self.panel.store, self, steps=steps, size=size,
                           background=background, preset=preset)
        task.progress.connect(self._show_progress)
        task.finished_ok.connect(self._computed)
        task.failed.connect(self._failed)
        task.finished.connect(self._finished)
        previous, self.task = self.task, task
        if previous is not None:  # it has just finished: one QThread per unit would pile up otherwise
            previous.wait()
            previous.deleteLater()
        self.panel.show_progress(0, 1, f"{task.label}  preparing…", task.key)
        if not background:
            self.show_message(f"computing the images of {task.label} in the background")
        task.start()
        self._sync_button()

    @pyqtSlot(object, int, int)
    def _show_progress(self, task: ComputeTask, step: int, total: int) -> None:
        if task is self.task and not task.stopping:
            self.panel.show_progress(step, total, f"{task.label}  {step}/{total}", task.key)

    @pyqtSlot()
    def _finished(self) -> None:
        self.panel.hide_progress()
        self._start_pending()
        self._sync_button()

    @pyqtSlot(object, str)
    def _failed(self, _task: ComputeTask, message: str) -> None:
        self.show_message(message)

    @pyqtSlot(object)
    def _computed(self, task: ComputeTask) -> None:
        if task.stopping:
            return  # stopped: nothing was written (a re-read now could race the next unit's write)
        self.panel.refresh()
        if not task.background:  # a background image just appears in the panel; the status bar stays quiet
            self.show_message(f"images of {task.label} computed")

    # ------------------------------------------------------------------ the top-9 seen live

    def reset_top_frames(self) -> None:
        self.worker.reset_top_frames()
        self.panel.set_live_frames(self.panel.key, None)
        self.show_message("the top-9 seen live start again from the next frame")

    def save_top_frames(self, layer_name: str) -> None:
        """Every unit's live top-9 of the layer into the store, as a scan of its own (live_NN.png)."""
        store = self.panel.store
        if store is None:
            self.show_message(self.panel.store_error or "no unit store")
            return
        layer = self.current_model().find_layer(layer_name)
        future = self.worker.request_top_frames(layer.name)

        def save() -> str:
            taken = future.result(timeout=30)
            if taken is None:
                return f"no top-9 seen live for {layer.name} yet"
            crops, values, frames_seen = taken
            written = store.write_live_topk(layer.name, layer.path, crops, values, frames_seen)
            return (f"saved the top-9 seen live of {written} units of {layer.name} ({frames_seen} frames) "
                    f"to {store.folder}: each unit keeps its 9 best moments of every session saved")

        call = BackgroundCall(save, "live top-9 writer", self)
        call.done.connect(self._top_frames_saved)
        call.failed.connect(self._say)
        keep_until_done(call, self._calls)

    @pyqtSlot(object)
    def _top_frames_saved(self, text: str) -> None:
        self.show_message(text)
        self.panel.refresh()

    @pyqtSlot(str)
    def _say(self, text: str) -> None:
        self.show_message(text)

