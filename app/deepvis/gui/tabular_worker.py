"""The Tabular mode's worker: loads the table, trains (one snapshot per epoch, latest wins) and
computes every layer's attributions once, so that the GUI thread only draws numpy arrays."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from PyQt6.QtCore import QThread, pyqtSignal

from deepvis import DeepvisError
from deepvis.tabular.data import Table, load_table
from deepvis.tabular.explain import LayerSummary, TrainedTable, summarize_layers
from deepvis.tabular.train import Progress, Trainer, TrainSpec, layer_weights

log = logging.getLogger("deepvis.gui")

TOP_K = 9  # rows kept per neuron: the table's twin of the top-9 patches


@dataclass
class TrainJob:
    source: dict  # load_table's keywords: {"data": "wine"} or {"csv_path": ..., "target": ...}
    spec: TrainSpec
    method: str = "ig"


@dataclass
class ExplainJob:
    """The last trained network explained again with another method."""

    method: str


@dataclass
class Frame:
    """One epoch, display-ready: the figures and every layer's weights."""

    progress: Progress
    weights: list[np.ndarray]
    columns: list[str]
    outputs: list[str]


@dataclass
class Result:
    """A trained network and everything the mode shows of it."""

    table: Table
    columns: list[str]
    outputs: list[str]
    sizes: list[int]
    activation: str
    train_rows: np.ndarray
    test_rows: np.ndarray
    predictions: list
    weights: list[np.ndarray]
    layers: list[LayerSummary]
    inputs: np.ndarray  # rows x columns, encoded
    progress: Progress | None
    method: str
    seconds: float
    stopped: str | None = None
    history: list[Progress] = field(default_factory=list)


def output_names(table: Table) -> list[str]:
    return list(table.classes) if table.classes else [table.target]


class TabularWorker(QThread):
    """Trains and explains one job at a time; pauses between epochs while the mode is hidden."""

    frame_ready = pyqtSignal()  # take_frame() has the newest epoch
    result_ready = pyqtSignal(object)  # Result
    failed = pyqtSignal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._active = threading.Event()
        self._active.set()
        self._job: TrainJob | ExplainJob | None = None
        self._last: tuple[TrainedTable, Result] | None = None  # touched by the worker thread only
        self._trainer: Trainer | None = None
        self._stopping = False
        self._frame: Frame | None = None
        self._signalled = False

    # -- called from the GUI thread

    def submit(self, job: TrainJob | ExplainJob) -> None:
        """Do this next; a training run in progress is stopped first."""
        with self._lock:
            self._job = job
            if self._trainer is not None:
                self._trainer.stop()
        self._wake.set()

    def stop_training(self) -> None:
        with self._lock:
            if self._trainer is not None:
                self._trainer.stop()

    def set_active(self, active: bool) -> None:
        (self._active.set if active else self._active.clear)()

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
            if self._trainer is not None:
                self._trainer.stop()
        self._wake.set()
        self._active.set()

    def take_frame(self) -> Frame | None:
        with self._lock:
            frame, self._frame, self._signalled = self._frame, None, False
        return frame

    # -- the thread

    def run(self) -> None:
        torch.set_num_threads(1)  # per thread with OpenMP; networks this small gain nothing from a team
        while True:
            self._wake.wait()
            with self._lock:
                if self._stopping:
                    return
                job, self._job = self._job, None
                self._wake.clear()
            if job is None:
                continue
            try:
                result = self._explain(job) if isinstance(job, ExplainJob) else self._train(job)
            except DeepvisError as error:
                self.failed.emit(str(error))
                continue
            except Exception as error:  # shown in the status bar, never a silent death
                log.exception("tabular training failed")
                self.failed.emit(f"{type(error).__name__}: {error}")
                continue
            if result is not None:
                self.result_ready.emit(result)

    def _publish(self, frame: Frame) -> None:
        with self._lock:
            self._frame = frame
            signal, self._signalled = not self._signalled, True
        if signal:
            self.frame_ready.emit()

    def _train(self, job: TrainJob) -> Result | None:
        start = time.perf_counter()
        table = load_table(**job.source)
        trainer = Trainer(table, job.spec)
        with self._lock:
            if self._stopping:
                return None
            self._trainer = trainer
        columns, outputs = trainer.encoding.columns, output_names(table)
        history = []
        try:
            for progress in trainer.run():
                history.append(progress)
                self._publish(Frame(progress, layer_weights(trainer.model), columns, outputs))
                while not self._active.is_set():  # hidden: wait, holding no CPU
                    self._active.wait(0.2)
                with self._lock:
                    if self._stopping or self._job is not None:
                        trainer.stop()
        finally:
            with self._lock:
                self._trainer = None
        with self._lock:
            if self._stopping or self._job is not None:
                return None  # a newer job replaces this one
        trained = TrainedTable(trainer.model, table, trainer.encoding, trainer.train_rows, trainer.test_rows,
                               (trainer.y_mean, trainer.y_std))
        layers = summarize_layers(trained, job.method, k=TOP_K)
        result = Result(table, columns, outputs, trainer.model.sizes, trainer.model.activation_name,
                        trainer.train_rows, trainer.test_rows, trained.predictions(), layer_weights(trainer.model),
                        layers, trained.x.numpy(), trainer.last, job.method, time.perf_counter() - start,
                        trainer.diverged or ("stopped" if trainer.stopped else None), history)
        self._last = (trained, result)
        return result

    def _explain(self, job: ExplainJob) -> Result | None:
        if self._last is None:
            return None
        trained, last = self._last
        start = time.perf_counter()
        result = dataclasses.replace(last, layers=summarize_layers(trained, job.method, k=TOP_K), method=job.method,
                                     seconds=time.perf_counter() - start)
        self._last = (trained, result)
        return result
