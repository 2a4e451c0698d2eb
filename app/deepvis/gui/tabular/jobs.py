"""The Tabular mode's jobs: load the table, train (one snapshot per epoch, latest wins) and
compute every layer's attributions once, so that the GUI thread only draws numpy arrays."""

from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from deepvis.jobs import Job
from deepvis.tabular.data import Table, load_table
from deepvis.tabular.explain import LayerSummary, TrainedTable, summarize_layers
from deepvis.tabular.train import Progress, Trainer, TrainSpec, layer_weights

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


def one_torch_thread() -> None:
    """The worker thread's torch runs on one CPU thread (per thread with OpenMP): networks this
    small gain nothing from a team."""
    torch.set_num_threads(1)


class TabularJobs:
    """The Tabular mode's jobs, run on its JobWorker: train (one Frame yielded per epoch, the
    Result returned) and explain the last trained network again. Stop ends training early and
    keeps what it learned; a new job replaces the running one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._trainer: Trainer | None = None
        self._last: tuple[TrainedTable, Result] | None = None  # touched by the worker thread only

    def stop_training(self) -> None:
        """End the running training after its epoch; its network is still explained and shown."""
        with self._lock:
            if self._trainer is not None:
                self._trainer.stop()

    def train(self, spec: TrainJob) -> Callable[[Job], Result]:
        return lambda job: self._train(job, spec)

    def explain(self, spec: ExplainJob) -> Callable[[Job], Result | None]:
        return lambda job: self._explain(spec)

    def _train(self, job: Job, spec: TrainJob) -> Result:
        start = time.perf_counter()
        table = load_table(**spec.source)
        trainer = Trainer(table, spec.spec)
        with self._lock:
            self._trainer = trainer
        columns, outputs = trainer.encoding.columns, output_names(table)
        history = []
        try:
            for progress in trainer.run():
                history.append(progress)
                job.report(Frame(progress, layer_weights(trainer.model), columns, outputs))  # waits while hidden
        finally:
            with self._lock:
                self._trainer = None
        job.checkpoint()  # replaced meanwhile: no result
        trained = TrainedTable(trainer.model, table, trainer.encoding, trainer.train_rows, trainer.test_rows,
                               (trainer.y_mean, trainer.y_std))
        layers = summarize_layers(trained, spec.method, k=TOP_K)
        result = Result(table, columns, outputs, trainer.model.sizes, trainer.model.activation_name,
                        trainer.train_rows, trainer.test_rows, trained.predictions(), layer_weights(trainer.model),
                        layers, trained.x.numpy(), trainer.last, spec.method, time.perf_counter() - start,
                        trainer.diverged or ("stopped" if trainer.stopped else None), history)
        self._last = (trained, result)
        return result

    def _explain(self, spec: ExplainJob) -> Result | None:
        if self._last is None:
            return None
        trained, last = self._last
        start = time.perf_counter()
        result = dataclasses.replace(last, layers=summarize_layers(trained, spec.method, k=TOP_K),
                                     method=spec.method, seconds=time.perf_counter() - start)
        self._last = (trained, result)
        return result
