"""The Tabular mode's view model without Qt: what is loaded, trained, selected and shown, which job
runs and what its results belong to; every transition and every key of its key table."""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from deepvis.tabular.data import Table
from deepvis.tabular.keys import KEYS
from deepvis.tabular.view_model import (
    UNREAD, ExplainJob, Loaded, LoadJob, TableChoice, TabularViewModel, TrainJob,
)


def table(name: str = "t", rows: int = 30, with_id: bool = False) -> Table:
    """A small table made here: two numeric variables, a categorical one, two classes."""
    rng = np.random.default_rng(0)
    values = {"a": rng.normal(size=rows), "b": rng.normal(size=rows),
              "colour": np.array(["red", "blue", "green"] * (rows // 3), dtype=object)}
    kinds = {"a": "numeric", "b": "numeric", "colour": "categorical"}
    if with_id:
        values["id"], kinds["id"] = np.arange(rows, dtype=np.float64), "numeric"
    variables = list(values)
    return Table(name, {"csv": f"/data/{name}.csv"}, variables, values, kinds, "y", "classification",
                 np.arange(rows) % 2, ["no", "yes"], id_like=["id"] if with_id else [])


def result(ticket: int, data: Table, sizes=(3, 4, 2), best: int = 2, network=None, method: str = "ig"):
    """What a train or explain job returns, as far as the view model reads it."""
    layers = []
    for index, width in enumerate(sizes[1:]):
        influence = np.zeros(width)
        influence[min(best, width - 1) if index == 0 else 0] = 1.0
        top = np.tile(np.arange(5) + 10 * (index + 1), (width, 1)) + np.arange(width)[:, None]
        layers.append(SimpleNamespace(name=f"h{index + 1}" if index < len(sizes) - 2 else "out",
                                      influence=influence, top_rows=top))
    progress = SimpleNamespace(epoch=5, epochs=5, train_loss=0.3, test_loss=0.4, score_name="accuracy",
                               test_score=0.9)
    return SimpleNamespace(ticket=ticket, table=data, network=network or object(), sizes=list(sizes),
                           layers=layers, progress=progress, history=[progress], method=method, seconds=0.1,
                           stopped=None, train_rows=np.arange(24), test_rows=np.arange(24, 30),
                           activation="softplus", outputs=["no", "yes"])


class Recorder:
    """Every event of a view model, in order: (event name, value)."""

    EVENTS = ("table_changed", "job_changed", "trained_epoch", "result_changed", "selection_changed",
              "row_bars_changed", "message", "job_requested", "stop_requested")

    def __init__(self, vm: TabularViewModel):
        self.seen: list[tuple[str, object]] = []
        for name in self.EVENTS:
            getattr(vm, name).connect(lambda value, name=name: self.seen.append((name, value)))

    def of(self, name: str) -> list:
        return [value for event, value in self.seen if event == name]

    @property
    def requests(self) -> list:
        return self.of("job_requested")


def trained(vm: TabularViewModel, data: Table, **kwargs):
    """The view model through load and training: the table loaded and a network shown."""
    rec = Recorder(vm)
    vm.choose(TableChoice(csv=f"/data/{data.name}.csv", target="y"), ["a", "b", "colour", "y"])
    assert vm.loaded(Loaded(rec.requests[-1].ticket, data))
    shown = result(rec.requests[-1].ticket, data, **kwargs)
    assert vm.returned(shown)
    return rec, shown


def test_the_view_model_loads_without_qt_or_torch():
    code = ("import sys; import deepvis.tabular.view_model; "
            "print(sorted(m for m in ('PyQt6', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stderr


def test_a_table_loads_then_trains_then_its_network_is_shown_with_its_best_neuron():
    vm, data = TabularViewModel(hidden="4", epochs=5), table()
    rec = Recorder(vm)
    vm.choose_csv("/data/t.csv", "y", ["a", "b", "colour", "y"])
    load = rec.requests[-1]
    assert isinstance(load, LoadJob) and load.choice.csv == "/data/t.csv" and vm.busy and not vm.training
    # Before it loads, the header lists the columns, their kinds not read yet.
    assert vm.columns() == [("y", "target", ""), ("a", UNREAD, ""), ("b", UNREAD, ""), ("colour", UNREAD, "")]
    assert vm.loaded(Loaded(load.ticket, data))
    assert vm.columns()[1:] == [("a", "numeric", ""), ("b", "numeric", ""), ("colour", "categorical", "")]
    train = rec.requests[-1]
    assert isinstance(train, TrainJob) and train.table is data and train.hidden == (4,) and train.epochs == 5
    assert vm.training and vm.jobs.job.input_name == "t.csv"

    frame = SimpleNamespace(ticket=train.ticket, progress=SimpleNamespace(epoch=1))
    assert vm.epoch_done(frame) and rec.of("trained_epoch") == [frame] and len(vm.history) == 1
    shown = result(train.ticket, data, best=3)
    assert vm.returned(shown)
    assert vm.result is shown and vm.jobs.phase == "done" and not vm.busy
    assert (vm.layer, vm.neuron, vm.row) == (0, 3, 13)  # h1's most influential neuron, its top row
    assert rec.of("result_changed")[-1] is shown and "test accuracy 0.900" in rec.of("message")[-1]
    assert "t.csv" in vm.summary() and "h1[3]" in vm.status_text()


def test_a_new_table_clears_the_results_of_the_old_one():
    vm = TabularViewModel()
    rec, shown = trained(vm, table("old"))
    vm.choose_data("iris")
    assert vm.result is None and vm.table is None and vm.row is None and vm.history == []
    assert rec.of("result_changed")[-1] is None and vm.columns() == []  # iris' columns come once it loads
    assert isinstance(rec.requests[-1], LoadJob) and rec.requests[-1].choice == TableChoice(data="iris")


def test_what_a_job_made_for_a_previous_table_delivers_is_dropped():
    vm = TabularViewModel()
    rec, _ = trained(vm, table("old"))
    vm.train()
    old_ticket = rec.requests[-1].ticket
    vm.choose(TableChoice(csv="/data/new.csv", target="y"))
    assert not vm.epoch_done(SimpleNamespace(ticket=old_ticket, progress=None))
    assert not vm.returned(result(old_ticket, table("old")))
    assert not vm.loaded(Loaded(old_ticket, table("old")))
    assert vm.result is None and vm.table is None and vm.jobs.job.kind == "load"
    new = table("new")
    assert vm.loaded(Loaded(rec.requests[-1].ticket, new)) and vm.table is new


def test_the_result_of_a_training_replaced_on_the_same_table_is_dropped():
    vm = TabularViewModel()
    rec, _ = trained(vm, data := table())
    vm.train()
    first = rec.requests[-1].ticket
    vm.set_hidden("3 3")
    vm.train()  # replaces the first: its result would show a network nobody asked for last
    assert not vm.returned(result(first, data)) and vm.result is None and vm.training
    assert vm.returned(result(rec.requests[-1].ticket, data, sizes=(3, 3, 3, 2)))


def test_the_selection_stays_within_the_network_and_starts_over_when_it_changes():
    vm = TabularViewModel()
    rec, shown = trained(vm, data := table(), sizes=(3, 16, 8, 2), best=9)
    vm.select_neuron(1, 7)
    assert (vm.layer, vm.neuron) == (1, 7)
    vm.select_neuron(7, 99)  # past the last layer, past its width
    assert (vm.layer, vm.neuron) == (2, 1)
    vm.select_row(29)
    vm.select_row(30)  # not a row of the table
    vm.select_row(-1)
    assert vm.row == 29
    vm.set_hidden("2")
    vm.train()
    vm.select_neuron(1, 1)  # nothing shown while it trains: nothing to select
    assert vm.result is None and vm.row is None
    vm.returned(result(rec.requests[-1].ticket, data, sizes=(3, 2, 2), best=1))
    assert (vm.layer, vm.neuron, vm.row) == (0, 1, 11)
    vm.move_layer(5)
    assert (vm.layer, vm.neuron) == (1, 1)


def test_another_method_explains_the_same_network_again_and_keeps_the_selection():
    vm = TabularViewModel()
    rec, shown = trained(vm, data := table(), sizes=(3, 6, 2))
    vm.select_neuron(0, 4)
    vm.select_row(7)
    vm.set_method("ablation")
    explain = rec.requests[-1]
    assert isinstance(explain, ExplainJob) and explain.result is shown and explain.method == "ablation"
    assert vm.busy and not vm.training and vm.result is shown  # shown until the new explanations come
    again = result(explain.ticket, data, sizes=(3, 6, 2), network=shown.network, method="ablation")
    assert vm.returned(again)
    assert vm.result is again and (vm.layer, vm.neuron, vm.row) == (0, 4, 7)
    vm.set_method("ablation")  # the method shown: nothing to do
    assert rec.requests[-1] is explain
    vm.train()
    vm.set_method("ig")  # while training: the new network will be explained with it
    assert isinstance(rec.requests[-1], TrainJob) and vm.method == "ig"


def test_column_kinds_read_the_table_again_and_an_id_is_named():
    vm = TabularViewModel()
    rec = Recorder(vm)
    vm.choose_csv("/data/t.csv", "y", ["id", "a", "b", "colour", "y"])
    data = table(with_id=True)
    vm.loaded(Loaded(rec.requests[-1].ticket, data))
    assert ("id", "numeric", "like an id: a different whole number in every row") in vm.columns()
    warning = rec.of("message")[-1]
    assert "column 'id'" in warning and "like an id" in warning and "dropped" in warning and "\n" not in warning
    vm.set_column_kind("id", "dropped")
    vm.set_column_kind("b", "categorical")
    load = rec.requests[-1]
    assert isinstance(load, LoadJob) and load.choice.drop == ("id",) and load.choice.categorical == ("b",)
    assert load.choice.csv == "/data/t.csv" and load.choice.target == "y"
    # Until it loads again, the kinds chosen show and the others are unread.
    assert vm.columns()[1:] == [("id", "dropped", ""), ("a", UNREAD, ""), ("b", "categorical", ""),
                                ("colour", UNREAD, "")]
    vm.set_column_kind("id", "numeric")
    assert rec.requests[-1].choice.drop == ()
    before = len(rec.requests)
    vm.set_column_kind("a", "numeric")  # already read as it is: nothing to do
    vm.set_column_kind("a", "ordinal")  # not a kind: one message
    assert len(rec.requests) == before and "kind 'ordinal'" in rec.of("message")[-1]


def test_a_failed_load_keeps_the_column_list_and_train_loads_again():
    vm = TabularViewModel()
    rec = Recorder(vm)
    vm.choose_csv("/data/t.csv", "y", ["name", "a", "y"])
    vm.failed("/data/t.csv: column 'name' is text with a different value in most rows (an id?); --drop name")
    assert vm.jobs.phase == "failed" and not vm.busy and "--drop name" in vm.summary()
    assert [c[0] for c in vm.columns()] == ["y", "name", "a"]
    vm.set_column_kind("name", "dropped")
    assert rec.requests[-1].choice.drop == ("name",)
    vm.failed("again")
    vm.train()
    assert isinstance(rec.requests[-1], LoadJob) and rec.requests[-1].choice.drop == ("name",)
    vm.failed("late")
    vm.failed("later")  # no job runs: nothing failed
    assert rec.of("message")[-1] == "late"


def test_hidden_sizes_that_are_not_widths_are_one_message_and_no_job():
    vm = TabularViewModel()
    rec, _ = trained(vm, table())
    count = len(rec.requests)
    for text in ("", "16 x", "0 4"):
        vm.set_hidden(text)
        vm.train()
        assert len(rec.requests) == count and "give widths such as 16 8" in rec.of("message")[-1]
    assert vm.result is not None  # what is shown stays


def test_stop_asks_the_worker_only_while_training_and_the_stopped_network_is_shown():
    vm = TabularViewModel()
    rec, _ = trained(vm, data := table())
    vm.stop_training()
    assert rec.of("stop_requested") == []
    vm.train()
    vm.stop_training()
    assert len(rec.of("stop_requested")) == 1 and vm.training  # until what it learned comes back
    stopped = result(rec.requests[-1].ticket, data)
    stopped.stopped = "stopped"
    assert vm.returned(stopped) and vm.result is stopped and "stopped" in rec.of("message")[-1]


# Each key of the table, and what it must have done.
KEY_CHECKS = {
    "t": lambda vm, rec, before: isinstance(rec.requests[-1], TrainJob) and vm.training,
    "T": lambda vm, rec, before: isinstance(rec.requests[-1], TrainJob) and vm.training,
    "Esc": lambda vm, rec, before: rec.of("stop_requested") == [None],
    "Up": lambda vm, rec, before: (vm.layer, vm.neuron) == (before.layer, before.neuron - 1),
    "Down": lambda vm, rec, before: (vm.layer, vm.neuron) == (before.layer, before.neuron + 1),
    "Left": lambda vm, rec, before: (vm.layer, vm.neuron) == (before.layer - 1, before.neuron),
    "Right": lambda vm, rec, before: (vm.layer, vm.neuron) == (before.layer + 1, min(before.neuron, 1)),
    "b": lambda vm, rec, before: vm.show_row_bars and rec.of("row_bars_changed") == [True],
    "B": lambda vm, rec, before: vm.show_row_bars and rec.of("row_bars_changed") == [True],
}


def test_every_key_of_the_table_is_checked_here():
    assert set(KEY_CHECKS) == set(KEYS.keymap)


@pytest.mark.parametrize("key", sorted(KEY_CHECKS))
def test_every_key_does_what_it_says(key):
    vm = TabularViewModel()
    _, _ = trained(vm, table(), sizes=(3, 6, 4, 2))
    vm.select_neuron(1, 2)
    if key == "Esc":
        vm.train()  # Esc stops a training
    before = SimpleNamespace(layer=vm.layer, neuron=vm.neuron)
    rec = Recorder(vm)
    assert vm.press(key)
    assert KEY_CHECKS[key](vm, rec, before)


def test_moving_wraps_round_a_layer_and_stops_at_its_ends():
    vm = TabularViewModel()
    trained(vm, table(), sizes=(3, 6, 4, 2), best=0)
    assert (vm.layer, vm.neuron) == (0, 0)
    vm.press("Up")
    assert vm.neuron == 5  # round the end of h1
    vm.press("Left")
    assert vm.layer == 0
    for _ in range(4):
        vm.press("Right")
    assert (vm.layer, vm.neuron) == (2, 1)  # out has two neurons
    assert not vm.press("q")  # not a key of this mode: the window's


def test_the_real_jobs_load_train_and_explain_through_the_view_model():
    """The requests run as the worker runs them, here one after another on this thread."""
    from deepvis.device import one_cpu_thread
    from deepvis.gui.tabular.jobs import TabularJobs

    jobs, queue = TabularJobs(), []
    vm = TabularViewModel(hidden="6", epochs=8)
    vm.job_requested.connect(queue.append)
    frames = []

    class Inline:  # the Job a request's function is given
        def report(self, item):
            frames.append(item)

        def checkpoint(self):
            pass

    def run_queue():
        while queue:
            value = jobs.run(queue.pop(0))(Inline())
            for frame in frames:
                vm.epoch_done(frame)
            frames.clear()
            (vm.loaded if isinstance(value, Loaded) else vm.returned)(value)

    with one_cpu_thread():
        vm.choose_data("iris")
        run_queue()
        assert vm.result is not None and vm.result.table is vm.table and vm.table.name == "iris"
        assert vm.result.sizes == [4, 6, 3] and vm.result.outputs == ["setosa", "versicolor", "virginica"]
        assert len(vm.history) == 8 and isinstance(vm.result, object) and not vm.busy
        network = vm.result.network
        vm.select_neuron(1, 2)
        vm.set_method("grad-x-input")
        run_queue()
        assert vm.result.method == "grad-x-input" and vm.result.network is network
        assert (vm.layer, vm.neuron) == (1, 2)
        vm.set_column_kind("petal width (cm)", "dropped")
        run_queue()
        assert vm.table.variables == ["sepal length (cm)", "sepal width (cm)", "petal length (cm)"]
        assert ("petal width (cm)", "dropped", "") in vm.columns() and vm.result.sizes == [3, 6, 3]
