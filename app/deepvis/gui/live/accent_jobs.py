"""The Live mode's accentuation job: the frame on screen changed, as little as it takes, so that the
selected unit responds more (dream.accentuate), refined while the user watches.

It runs on a private copy of the model in a background thread on one torch thread: at the live
view's priority until its first result is shown, then yielding to the live view (lower priority,
a rest after each step). Each result goes to the Qt-free AccentState, which the unit panel shows.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

import numpy as np
from PyQt6.QtCore import QObject, QThread, pyqtSignal, pyqtSlot

from deepvis import DeepvisError
from deepvis.gui.live.unit_jobs import ModelCopies, yield_to_the_live_view
from deepvis.live.accent_state import AccentJob, AccentState
from deepvis.unitvis.ondemand import BACKGROUND_SIZE

log = logging.getLogger("deepvis.gui")

# After each step the job rests this multiple of the step's time: at most 1 / (1 + REST) of one core,
# so that on 2 cores the live view keeps most of its frame rate (scripts/window_fps.py --accentuation).
ACCENT_REST = 0.5


class AccentTask(QThread):
    """accentuate() on a private copy of the model; each result and a failure come back as signals
    that carry the task (see unit_jobs.ComputeTask: slots, not closures)."""

    result = pyqtSignal(object, object)  # (task, Accentuation)
    failed = pyqtSignal(object, str)  # (task, message)

    def __init__(self, copy_future, job: AccentJob, rgb: np.ndarray, settings, parent=None):
        super().__init__(parent)
        self.copy_future, self.job, self.rgb, self.settings = copy_future, job, rgb, settings
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        import torch

        torch.set_num_threads(1)  # no second OpenMP team beside the live view's worker
        last, polite = [time.perf_counter()], [False]

        def rest(_step: int, _steps: int) -> None:
            # The first result is what the user waits for: until it is shown the job runs at the live
            # view's priority without rests; then it refines politely.
            if polite[0]:
                self._stop.wait(min((time.perf_counter() - last[0]) * ACCENT_REST, 0.5))
            last[0] = time.perf_counter()

        def shown(result) -> None:
            self.result.emit(self, result)
            if not polite[0]:
                polite[0] = True
                yield_to_the_live_view()

        try:
            from deepvis.dream.accentuate import accentuate

            loaded = self.copy_future.result(timeout=60)
            layer = loaded.find_layer(self.job.layer)
            accentuate(loaded, self.rgb, layer, self.job.unit, self.settings,
                       on_result=shown, cancel=self._stop.is_set,
                       on_step=rest)
        except DeepvisError as error:
            self.failed.emit(self, str(error))
        except Exception as error:
            log.exception("accentuation failed")
            self.failed.emit(self, f"{type(error).__name__}: {error}")


class AccentJobs(QObject):
    """Starts, stops and dismisses the accentuation; the Live mode tells it the selection."""

    def __init__(self, state: AccentState, copies: ModelCopies, show_message: Callable[[str], None],
                 give_way: Callable[[], None] = lambda: None, parent: QObject | None = None):
        super().__init__(parent)
        self.state, self.copies, self.show_message, self.give_way = state, copies, show_message, give_way
        self.task: AccentTask | None = None
        self._old: list[AccentTask] = []

    def toggle(self, layer: str, unit: int, unit_name: str, rgb: np.ndarray | None, frame_label: str) -> None:
        """A: accentuate the frame on screen for the unit; A again: back to its optimized images."""
        if self.state.shown_for((layer, unit)):
            self.dismiss()
            self.show_message(f"{unit_name}: the optimized images again")
            return
        self.start(layer, unit, unit_name, rgb, frame_label)

    def start(self, layer: str, unit: int, unit_name: str, rgb: np.ndarray | None, frame_label: str) -> None:
        from deepvis.dream.accentuate import AccentSettings

        if rgb is None:
            self.show_message("accentuate: no frame on screen yet")
            return
        self._stop_task()
        self.give_way()  # a unit image computed in the background waits: one job beside the live view
        job = self.state.start(layer, unit, frame_label, unit_name)
        # The unit panel's image size; the default steps, results after 8 and at each doubling.
        task = AccentTask(self.copies.future(), job, np.ascontiguousarray(rgb), AccentSettings(size=BACKGROUND_SIZE),
                          self)
        task.result.connect(self._on_result)
        task.failed.connect(self._on_failed)
        task.finished.connect(self._on_finished)
        self.task = task
        self.show_message(f"accentuating {frame_label} for {unit_name}: the first result comes in a moment, "
                          "then it refines (A again: the optimized images)")
        task.start()

    def stop(self) -> bool:
        """Stop refining; the last result stays, marked stopped."""
        self._stop_task()
        return self.state.stop()

    def dismiss(self) -> None:
        self._stop_task()
        self.state.dismiss()

    def follow_selection(self, key: tuple[str, int]) -> None:
        if self.state.job is not None and self.state.job.key != key:
            self._stop_task()
        self.state.follow_selection(key)

    def shutdown(self) -> None:
        self._stop_task()
        for task in [*self._old]:
            task.wait(60000)

    def _stop_task(self) -> None:
        task, self.task = self.task, None
        if task is not None:
            task.stop()
            if task.isRunning():
                self._old.append(task)  # kept until it has returned: a QThread destroyed running aborts

    @pyqtSlot(object, object)
    def _on_result(self, task: AccentTask, result) -> None:
        self.state.offer(task.job, result)

    @pyqtSlot(object, str)
    def _on_failed(self, task: AccentTask, message: str) -> None:
        self.state.fail(task.job, message)
        if task is self.task:
            self.show_message(f"accentuate: {message}")

    @pyqtSlot()
    def _on_finished(self) -> None:
        for task in [t for t in self._old if t.isFinished()]:
            self._old.remove(task)
            task.deleteLater()
        if self.task is not None and self.task.isFinished():
            if self.state.phase == "done":
                self.show_message(self.state.jobs.message)
            self.task.deleteLater()
            self.task = None
