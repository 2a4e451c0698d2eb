"""The Tabular mode's view model: the table loaded (its name, columns and their kinds), the network
trained on it, the selected layer, neuron and row, the job that runs and what its results belong
to, and the results shown.

Plain Python, without Qt or torch. The mode's widgets observe its events and call its actions;
keys reach the same actions through tabular/keys.py, so every key is tested without a window.
Jobs are asked for through `job_requested` (the mode runs them on its worker); each carries a
ticket, and what comes back is taken only when its ticket is the newest request's: a result of a
previous table, or of a training replaced since, is dropped here.

The flow: choose a table -> it loads (a job) -> a network trains on it (a job, one epoch at a
time) -> every layer is explained -> the result is shown. Another attribution method explains
the same network again (a job) and keeps the selection; another table, or other column kinds,
clears what was shown of the previous one and starts over.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from deepvis import DeepvisError
from deepvis.events import Event
from deepvis.jobstate import JobState
from deepvis.tabular.data import id_warning
from deepvis.tabular.keys import KEYS

KINDS = ("numeric", "categorical", "dropped")  # what a user can make of a column
UNREAD = "unread"  # a column of a table not loaded (yet, or because it failed to)
METHOD_NAMES = {"ig": "integrated gradients", "grad-x-input": "gradient × input", "ablation": "ablation"}


@dataclass(frozen=True)
class TableChoice:
    """Which table, and how its columns are read: load_table's keywords."""

    data: str | None = None  # a table scikit-learn ships
    csv: str | None = None  # or a CSV file, with its target column
    target: str | None = None
    categorical: tuple[str, ...] = ()
    drop: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """What the window calls it: the bundled table's name, or the file's name."""
        return self.data or Path(self.csv or "").name

    def keywords(self) -> dict:
        return {"data": self.data, "csv_path": self.csv, "target": self.target,
                "categorical": list(self.categorical), "drop": list(self.drop)}

    def with_kind(self, column: str, kind: str) -> "TableChoice":
        """numeric: read as it is (numbers stay numbers); categorical: its values name categories;
        dropped: left out."""
        if kind not in KINDS:
            raise DeepvisError(f"{column}: kind {kind!r}; use one of {', '.join(KINDS)}")
        categorical = tuple(c for c in self.categorical if c != column) + ((column,) * (kind == "categorical"))
        drop = tuple(c for c in self.drop if c != column) + ((column,) * (kind == "dropped"))
        return replace(self, categorical=categorical, drop=drop)


# What the view model asks the worker for (gui/tabular/jobs.py runs them), and what loading returns.

@dataclass(frozen=True, eq=False)
class LoadJob:
    ticket: int
    choice: TableChoice


@dataclass(frozen=True, eq=False)
class TrainJob:
    ticket: int
    table: Any  # the loaded Table
    hidden: tuple[int, ...]
    epochs: int
    method: str


@dataclass(frozen=True, eq=False)
class ExplainJob:
    """The shown network explained again with another method."""

    ticket: int
    method: str
    result: Any  # the shown result: its network and table


@dataclass(frozen=True, eq=False)
class Loaded:
    ticket: int
    table: Any


def parse_hidden(text: str) -> tuple[int, ...]:
    """Hidden widths as typed ("16 8" or "16, 8")."""
    try:
        hidden = tuple(int(v) for v in text.replace(",", " ").split())
    except ValueError:
        hidden = ()
    if not hidden or min(hidden) < 1:
        raise DeepvisError(f"hidden sizes {text!r}: give widths such as 16 8")
    return hidden


class TabularViewModel:
    """The Tabular mode's state.

    Events:
      table_changed(vm): the chosen table, its columns or their kinds changed, or it loaded
      job_changed(JobState): a job started, ended or failed (`jobs` holds which and why)
      trained_epoch(frame): an epoch of the running training, to draw
      result_changed(result | None): the shown network and its explanations (None: cleared)
      selection_changed(vm): the selected layer, neuron or row
      row_bars_changed(bool): the bars show the selected row's attributions (or the test mean)
      message(str): a line for the status bar
      job_requested(LoadJob | TrainJob | ExplainJob): a job for the worker
      stop_requested(None): end the running training after its epoch, keeping what it learned
    """

    def __init__(self, hidden: str = "16 8", epochs: int = 100, method: str = "ig"):
        self.choice: TableChoice | None = None
        self.header: list[str] = []  # a CSV file's columns as its header names them, before it loads
        self.table = None  # the loaded Table
        self.result = None  # the shown network and its explanations; its .table is self.table
        self.history: list = []  # the shown or running training's epochs (Progress)
        self.layer, self.neuron, self.row = 0, 0, None
        self.show_row_bars = False
        self.hidden, self.epochs, self.method = hidden, epochs, method
        self.jobs = JobState("tabular")
        self.ticket = 0  # the newest request's
        self.table_changed, self.job_changed, self.trained_epoch = Event(), Event(), Event()
        self.result_changed, self.selection_changed, self.row_bars_changed = Event(), Event(), Event()
        self.message, self.job_requested, self.stop_requested = Event(), Event(), Event()
        self.jobs.changed.connect(self.job_changed.emit)

    # -- what is running -------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self.jobs.busy

    @property
    def training(self) -> bool:
        return self.jobs.busy and self.jobs.job.kind == "train"

    # -- the table -------------------------------------------------------------------------

    def choose_data(self, name: str) -> None:
        """A table scikit-learn ships."""
        self.choose(TableChoice(data=name))

    def choose_csv(self, path: str, target: str, header: list[str] | None = None) -> None:
        """A CSV file and its target; `header`, its columns, lists them before the file loads."""
        self.choose(TableChoice(csv=path, target=target), header)

    def set_column_kind(self, column: str, kind: str) -> None:
        """Read a column of the chosen table as numeric or categorical, or drop it: the table
        loads again and a new network trains on it."""
        if self.choice is None:
            return
        try:
            choice = self.choice.with_kind(column, kind)
        except DeepvisError as error:
            self.message.emit(str(error))
            return
        if choice != self.choice:
            self.choose(choice, self.header)

    def choose(self, choice: TableChoice, header: list[str] | None = None) -> None:
        """Load a table (then train on it): nothing shown of the previous one stays."""
        same_file = self.choice is not None and (choice.csv, choice.data) == (self.choice.csv, self.choice.data)
        self.header = list(header) if header is not None else self.header if same_file else []
        self.choice, self.table = choice, None
        self._clear()
        self.table_changed.emit(self)
        self._request("load", f"reading {choice.name}", LoadJob, choice=choice)

    def columns(self) -> list[tuple[str, str, str]]:
        """(column, kind, note) for the column list: the target first, then every other column in
        the file's order with its kind (numeric, categorical, dropped; UNREAD before it loads);
        the note says what to know about it (like an id)."""
        choice, table = self.choice, self.table
        if choice is None:
            return []
        target = table.target if table is not None else choice.target
        names = table.columns if table is not None else [h for h in self.header if h != target]
        out = [(target, "target", "")] if target else []
        for name in names:
            if name in choice.drop:
                kind = "dropped"
            elif table is not None:
                kind = table.kinds[name]
            else:
                kind = "categorical" if name in choice.categorical else UNREAD
            note = "like an id: a different whole number in every row" if table and name in table.id_like else ""
            out.append((name, kind, note))
        return out

    # -- training and explaining -----------------------------------------------------------

    def set_hidden(self, text: str) -> None:
        self.hidden = text

    def set_epochs(self, epochs: int) -> None:
        self.epochs = int(epochs)

    def train(self) -> None:
        """Train a new network on the loaded table; a table that has not loaded loads again first."""
        if self.choice is None:
            self.message.emit("tabular: choose a table first")
            return
        try:
            hidden = parse_hidden(self.hidden)
        except DeepvisError as error:
            self.message.emit(str(error))
            return
        if self.table is None:
            if not (self.busy and self.jobs.job.kind == "load"):
                self.choose(self.choice, self.header)  # trains once it loads
            return
        self._clear()
        self._request("train", f"training on {self.choice.name}", TrainJob, table=self.table, hidden=hidden,
                      epochs=self.epochs, method=self.method)

    def stop_training(self) -> None:
        if self.training:
            self.stop_requested.emit(None)

    def set_method(self, method: str) -> None:
        """Explain with another attribution method: the shown network again, no retraining."""
        if method not in METHOD_NAMES or method == self.method:
            return
        self.method = method
        if self.result is not None and not self.training:
            self._request("explain", f"explaining with {METHOD_NAMES[method]}", ExplainJob, method=method,
                          result=self.result)

    # -- the selection ---------------------------------------------------------------------

    def select_neuron(self, layer: int, neuron: int) -> None:
        """A neuron of the shown network, kept within its layers and their widths."""
        if self.result is None:
            return
        layer = min(max(int(layer), 0), len(self.result.layers) - 1)
        neuron = min(max(int(neuron), 0), self.result.sizes[layer + 1] - 1)
        self._select(layer, neuron, self.row)

    def move_neuron(self, step: int) -> None:
        """The next or previous neuron of the layer, round the end."""
        if self.result is not None:
            self._select(self.layer, (self.neuron + step) % self.result.sizes[self.layer + 1], self.row)

    def move_layer(self, step: int) -> None:
        """The next or previous layer (not past the first or the last), the neuron kept in its width."""
        if self.result is not None:
            self.select_neuron(self.layer + step, self.neuron)

    def select_row(self, row: int) -> None:
        """A row of the table: every neuron is coloured by its value for it; outside the table, nothing."""
        if self.result is not None and 0 <= row < len(self.result.table):
            self._select(self.layer, self.neuron, int(row))

    def set_row_bars(self, on: bool) -> None:
        """The bars show the selected row's own attributions (on) or the test rows' mean (off)."""
        if bool(on) != self.show_row_bars:
            self.show_row_bars = bool(on)
            self.row_bars_changed.emit(self.show_row_bars)

    def toggle_row_bars(self) -> None:
        self.set_row_bars(not self.show_row_bars)

    # -- keys ------------------------------------------------------------------------------

    def press(self, key: str) -> bool:
        """Run the action bound to a key name; False when the key is not bound."""
        return KEYS.run(key, self)

    # -- what the worker delivers (the newest request's only) ------------------------------

    def loaded(self, loaded: Loaded) -> bool:
        """The chosen table loaded: its columns are known; a network trains on it."""
        if not self._current("load", loaded.ticket):
            return False
        table = self.table = loaded.table
        self.jobs.finish(table, f"tabular: {self.choice.name}: {len(table)} rows, {len(table.variables)} variables, "
                                f"{table.task} of {table.target!r}")
        self.table_changed.emit(self)
        for warning in self.warnings():
            self.message.emit(warning)
        self.train()
        return True

    def epoch_done(self, frame) -> bool:
        """An epoch of the running training (the newest; others may have been skipped)."""
        if not self._current("train", frame.ticket):
            return False
        self.history.append(frame.progress)
        self.trained_epoch.emit(frame)
        return True

    def returned(self, result) -> bool:
        """A trained and explained network, or the shown one explained again."""
        if not (self._current("train", result.ticket) or self._current("explain", result.ticket)):
            return False
        again = self.jobs.job.kind == "explain"
        self.result = result
        if again:  # the same network: the selection stays
            self.jobs.finish(result, f"tabular: {self.choice.name}: explained with {result.method} "
                                     f"({result.seconds:.2f} s)")
            self.message.emit(self.jobs.message.removeprefix("tabular: "))
            self.result_changed.emit(result)
            self._select(self.layer, self.neuron, self.row, force=True)
            return True
        self.history = list(result.history)
        p = result.progress
        score = f"test {p.score_name} {p.test_score:.3f}" if p else "no epoch finished"
        line = (f"{self.choice.name}: {score} after {p.epoch if p else 0} epochs ({result.seconds:.1f} s)"
                + (f" · {result.stopped}" if result.stopped else ""))
        self.jobs.finish(result, f"tabular: {line}")
        ids = ", ".join(repr(c) for c in self.table.id_like)
        self.message.emit(line + (f" · ⚠ {ids} reads like an id: set it to dropped" if ids else ""))
        self.result_changed.emit(result)
        first = result.layers[0]
        best = int(np.argmax(first.influence))  # a new network: its most influential first neuron
        self._select(0, best, int(first.top_rows[best][0]), force=True)
        return True

    def failed(self, message: str) -> None:
        """The running job failed: said in one line; a table that did not load keeps its column list."""
        if self.busy:
            self.jobs.fail(message)
            self.message.emit(message)

    def warnings(self) -> list[str]:
        """One line per column of the loaded table that reads like an id."""
        if self.table is None:
            return []
        return [id_warning(self.table, c, f"set its kind to dropped (--drop {c})") for c in self.table.id_like]

    # -- what the window says --------------------------------------------------------------

    def summary(self) -> str:
        """The line beside the controls: what runs, how the last job ended, or the shown network."""
        jobs, name = self.jobs, self.choice.name if self.choice else ""
        if jobs.phase == "running":
            if jobs.job.kind == "train" and self.history:
                p = self.history[-1]
                return (f"epoch {p.epoch}/{p.epochs} · loss {p.train_loss:.3f} · "
                        f"test {p.score_name} {p.test_score:.3f}")
            return f"{jobs.job.text}…"
        if jobs.phase == "failed":
            return jobs.message.removeprefix("tabular: ")
        r = self.result
        if r is None:
            return ""
        p = r.progress
        score = f"test {p.score_name} {p.test_score:.3f}" if p else "no epoch finished"
        return (f"{name}: {r.table.task} of {r.table.target!r} · {len(r.train_rows)} train / "
                f"{len(r.test_rows)} test rows · {score}")

    def status_text(self) -> str:
        r = self.result
        if r is None:
            return "Tabular · training…" if self.busy else "Tabular · press T to train"
        hidden = "-".join(str(s) for s in r.sizes[1:-1])
        score = f"{r.progress.score_name} {r.progress.test_score:.3f}" if r.progress else ""
        return (f"{self.choice.name} · {len(r.table.variables)} variables · {hidden} {r.activation} · "
                f"test {score} · {r.layers[self.layer].name}[{self.neuron}]")

    # -- internals -------------------------------------------------------------------------

    def _request(self, kind: str, text: str, job, **fields) -> None:
        self.ticket += 1
        self.jobs.start(kind, text, self.choice.name)
        self.job_requested.emit(job(self.ticket, **fields))

    def _current(self, kind: str, ticket: int) -> bool:
        """True when a delivery belongs to the running job of this kind (the newest request)."""
        return self.jobs.busy and self.jobs.job.kind == kind and ticket == self.ticket

    def _clear(self) -> None:
        """Nothing of a previous network stays beside a new one: results, history, row."""
        shown = self.result is not None or self.history
        self.result, self.history, self.row = None, [], None
        if shown:
            self.result_changed.emit(None)

    def _select(self, layer: int, neuron: int, row: int | None, force: bool = False) -> None:
        if force or (layer, neuron, row) != (self.layer, self.neuron, self.row):
            self.layer, self.neuron, self.row = layer, neuron, row
            self.selection_changed.emit(self)
