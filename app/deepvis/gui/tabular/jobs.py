"""The Tabular mode's jobs: load a table, train (one snapshot per epoch, latest wins) and compute
every layer's attributions once, so that the GUI thread only draws numpy arrays. Each job is one
of the view model's requests (deepvis.tabular.view_model); what it delivers carries the
request's ticket, by which the view model knows what it belongs to."""

from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch

from deepvis.jobs import Job
from deepvis.tabular.data import Table, load_table
from deepvis.tabular.explain import LayerSummary, TrainedTable, output_labels, summarize_layers
from deepvis.tabular.train import Progress, Trainer, TrainSpec, layer_weights
from deepvis.tabular.view_model import ExplainJob, LoadJob, Loaded, TrainJob

TOP_K = 9  # rows kept per neuron: the table's twin of the top-9 patches


@dataclass
class Frame:
    """One epoch, display-ready: the figures and every layer's weights."""

    ticket: int
    progress: Progress
    weights: list[np.ndarray]
    columns: list[str]
    outputs: list[str]


@dataclass
class Result:
    """A trained network and everything the mode shows of it."""

    ticket: int
    table: Table
    network: TrainedTable  # what explaining it again needs (used on the worker only)
    columns: list[str]
    outputs: list[str]  # what each output neuron stands for: a class, or the predicted target
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


def one_torch_thread() -> None:
    """The worker thread's torch runs on one CPU thread (per thread with OpenMP): networks this
    small gain nothing from a team."""
    torch.set_num_threads(1)


class TabularJobs:
    """The Tabular mode's jobs, run on its JobWorker: load (the Table returned), train (one Frame
    yielded per epoch, the Result returned) and explain a shown network again. Stop ends training
    early and keeps what it learned; a new job replaces the running one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._trainer: Trainer | None = None

    def stop_training(self) -> None:
        """End the running training after its epoch; its network is still explained and shown."""
        with self._lock:
            if self._trainer is not None:
                self._trainer.stop()

    def run(self, request: LoadJob | TrainJob | ExplainJob) -> Callable[[Job], Any]:
        """The job function for one of the view model's requests."""
        if isinstance(request, LoadJob):
            return lambda job: Loaded(request.ticket, load_table(**request.choice.keywords()))
        if isinstance(request, TrainJob):
            return lambda job: self._train(job, request)
        return lambda job: self._explain(request)

    def _train(self, job: Job, spec: TrainJob) -> Result:
        start = time.perf_counter()
        table = spec.table
        trainer = Trainer(table, TrainSpec(hidden=spec.hidden, epochs=spec.epochs))
        with self._lock:
            self._trainer = trainer
        columns, outputs = trainer.encoding.columns, output_labels(table)
        history = []
        try:
            for progress in trainer.run():
                history.append(progress)
                # waits while the mode is hidden
                job.report(Frame(spec.ticket, progress, layer_weights(trainer.model), columns, outputs))
        finally:
            with self._lock:
                self._trainer = None
        job.checkpoint()  # replaced meanwhile: no result
        trained = TrainedTable(trainer.model, table, trainer.encoding, trainer.train_rows, trainer.test_rows,
                               (trainer.y_mean, trainer.y_std))
        layers = summarize_layers(trained, spec.method, k=TOP_K)
        return Result(spec.ticket, table, trained, columns, outputs, trainer.model.sizes, trainer.model.activation_name,
                      trainer.train_rows, trainer.test_rows, trained.predictions(), layer_weights(trainer.model),
                      layers, trained.x.numpy(), trainer.last, spec.method, time.perf_counter() - start,
                      trainer.diverged or ("stopped" if trainer.stopped else None), history)

    @staticmethod
    def _explain(spec: ExplainJob) -> Result:
        start = time.perf_counter()
        layers = summarize_layers(spec.result.network, spec.method, k=TOP_K)
        return dataclasses.replace(spec.result, ticket=spec.ticket, layers=layers, method=spec.method,
                                   seconds=time.perf_counter() - start)
