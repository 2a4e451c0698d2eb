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
from pathlib import Path
from typing import Callable

import numpy as np
from PyQt6.QtCore import QObject, QThread, pyqtSignal, pyqtSlot
from PyQt6.QtWidgets import QWidget

from deepvis import DeepvisError
from deepvis.gui.live.layout import ask_png_path
from deepvis.gui.live.unit_jobs import ModelCopies, yield_to_the_live_view
from deepvis.gui.live.unit_panel import UnitPanel
from deepvis.gui.live.worker import Delivery, PipelineWorker
from deepvis.live.accent_state import AccentJob, AccentState
from deepvis.unitvis.ondemand import BACKGROUND_SIZE
from deepvis.zoo import LoadedModel

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


NOTHING_TO_SAVE = "no accentuation to save: A accentuates the frame for the selected unit"


class AccentJobs(QObject):
    """Starts, stops, dismisses and saves the accentuation, and shows it in the unit panel; the Live
    mode tells it the selection. `state` is the Qt-free AccentState."""

    def __init__(self, panel: UnitPanel, worker: PipelineWorker, current_model: Callable[[], LoadedModel],
                 show_message: Callable[[str], None], give_way: Callable[[], None] = lambda: None,
                 parent: QObject | None = None):
        super().__init__(parent)
        self.panel, self.show_message, self.give_way = panel, show_message, give_way
        self.current_model = current_model
        self.copies = ModelCopies(worker, current_model)  # its own: it may run beside a unit image
        self.state = AccentState()
        self.state.changed.connect(self._show)
        self.task: AccentTask | None = None
        self._old: list[AccentTask] = []

    def toggle(self, layer: str, unit: int, unit_name: str, delivery: Delivery | None) -> None:
        """A: accentuate the frame on screen (the last `delivery`) for the unit; A again: back to its
        optimized images."""
        if self.state.shown_for((layer, unit)):
            self.dismiss()
            self.show_message(f"{unit_name}: the optimized images again")
            return
        if delivery is None:
            self.show_message("accentuate: no frame on screen yet")
            return
        self.start(layer, unit, unit_name, delivery.result.input_rgb, delivery.frame_label)

    def start(self, layer: str, unit: int, unit_name: str, rgb: np.ndarray, frame_label: str) -> None:
        from deepvis.dream.accentuate import AccentSettings

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

    def stop_from_menu(self) -> None:
        if not self.stop():
            self.show_message("no accentuation is running")

    def save(self, path: str | Path) -> list[Path]:
        """The accentuation on screen as FILE.png, FILE_where.png and FILE.json (dream --accentuate's
        files): the images the panel shows, at the step it shows."""
        from deepvis.dream.accentuate import write_accentuation

        if self.state.result is None:
            raise DeepvisError(NOTHING_TO_SAVE)
        return write_accentuation(Path(path), self.state.result, self.state.figures(self.current_model().name))

    def save_dialog(self, parent: QWidget) -> None:
        if self.state.result is None:
            self.show_message(NOTHING_TO_SAVE)
            return
        path = ask_png_path(parent, "deepvis-accentuation.png")
        if path:
            try:
                written = self.save(path)
            except DeepvisError as error:
                self.show_message(str(error))
            else:
                self.show_message(f"saved {', '.join(str(p) for p in written)}")

    def _show(self, state: AccentState) -> None:
        """The panel shows the accentuation while it belongs to the unit the panel shows."""
        if state.job is None or state.job.key != self.panel.key:
            self.panel.hide_accentuation()
        else:
            self.panel.show_accentuation(state.title(), state.detail(), state.result, state.job.frame_label)

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
