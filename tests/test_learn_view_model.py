"""The Learn mode's view model without Qt: every key, every transition (a new run, a failed one,
a frame of a replaced run, the timeline, training on from a moment, a weight edited by hand) and
what its texts say."""

from __future__ import annotations

import math
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest

from deepvis.learn.data import DataSettings
from deepvis.learn.diagram import weight_index
from deepvis.learn.keys import KEYS
from deepvis.learn.network import NetworkSpec
from deepvis.learn.setup import Setup, load_setup
from deepvis.learn.trainer import TrainSettings
from deepvis.learn.view_model import LearnFrame, LearnViewModel, RunRequest, WeightEdit, stage_caption

EVENTS = ("run_requested", "training_changed", "setup_changed", "playing_changed", "step_requested",
          "moment_requested", "rewind_requested", "weight_edit_requested", "frame_changed", "selection_changed",
          "display_changed", "message")


def recorded(vm: LearnViewModel) -> dict[str, list]:
    seen: dict[str, list] = {name: [] for name in EVENTS}
    for name in EVENTS:
        getattr(vm, name).connect(seen[name].append)
    return seen


def frame(vm: LearnViewModel, index: int, count: int, run: int | None = None, step: int | None = None) -> LearnFrame:
    """A frame of the view model's setup (stand-in views: the view model reads their shape only)."""
    spec = vm.setup.spec
    sizes = spec.sizes
    units = [SimpleNamespace(layer=layer, unit=unit, label=f"{layer}:{unit}")
             for layer, width in enumerate(sizes) for unit in range(width)]
    snapshot = SimpleNamespace(step=step if step is not None else 10 * index, train_loss=0.5, test_loss=0.6,
                               train_accuracy=0.9, test_accuracy=0.8)
    views = SimpleNamespace(snapshot=snapshot, step=snapshot.step, stages=[None] * (1 + 2 * (len(sizes) - 1)),
                            feature_maps=units[:sizes[0]], landscapes=units[sizes[0]:], task="classification",
                            layer_titles=[f"layer {i + 1}" for i in range(len(sizes) - 2)] + ["output"])
    curves = {"step": np.arange(count) * 10.0}
    return LearnFrame(vm.run if run is None else run, views, None, index, count, index == count - 1, vm.playing,
                      curves, 1000.0, None)


@pytest.fixture
def vm() -> LearnViewModel:
    model = LearnViewModel(Setup(DataSettings(points=120), NetworkSpec((3, 3))))
    model.start()
    return model


# --------------------------------------------------------------------------- keys


def test_every_key_runs_a_method_of_the_view_model(vm):
    vm.accept_frame(frame(vm, 5, 10))
    for binding in KEYS.bindings:
        for key in binding.keys:
            assert vm.press(key), key
    assert not vm.press("ä")


@pytest.mark.parametrize("key, check", [
    ("Space", lambda vm, seen: vm.playing and seen["playing_changed"] == [True]),
    ("s", lambda vm, seen: seen["step_requested"] == [None] and not vm.playing),
    ("r", lambda vm, seen: [r.run for r in seen["run_requested"]] == [2] and vm.setup.spec.hidden == (3, 3)),
    ("g", lambda vm, seen: vm.setup.data.seed == 1 and vm.setup.train.seed == 0 and seen["setup_changed"]),
    ("Left", lambda vm, seen: seen["moment_requested"] == [4]),
    ("Right", lambda vm, seen: seen["moment_requested"] == [6]),
    ("PgUp", lambda vm, seen: seen["moment_requested"] == [4]),  # a tenth of 10 moments: 1
    ("PgDown", lambda vm, seen: seen["moment_requested"] == [6]),
    ("f", lambda vm, seen: seen["rewind_requested"] == [5] and vm.playing),
    ("Up", lambda vm, seen: vm.stage == 5 and vm.scene == "stage"),
    ("Down", lambda vm, seen: vm.stage == 3 and vm.scene == "stage"),
    ("n", lambda vm, seen: vm.neuron == 0 and vm.scene == "neuron"),  # from the output (the last) round to x1
    ("l", lambda vm, seen: vm.scene == "landscape" and seen["display_changed"]),
    ("v", lambda vm, seen: vm.view == "diagram" and seen["display_changed"]),
    ("d", lambda vm, seen: vm.discretize and seen["display_changed"]),
    ("t", lambda vm, seen: not vm.show_test and seen["display_changed"]),
])
def test_each_key_does_what_its_help_says(vm, key, check):
    vm.accept_frame(frame(vm, 5, 10))
    seen = recorded(vm)
    assert vm.press(key)
    assert check(vm, seen), (key, {name: values for name, values in seen.items() if values})


def test_a_key_pressed_twice_toggles_back(vm):
    for key, attribute, first in (("t", "show_test", True), ("d", "discretize", False), ("v", "view", "grid"),
                                  ("l", "scene", "stage")):
        assert getattr(vm, attribute) == first
        vm.press(key)
        vm.press(key)
        assert getattr(vm, attribute) == first, key


# --------------------------------------------------------------------------- runs


def test_other_data_or_network_start_a_new_run_and_other_optimizer_settings_do_not(vm):
    seen = recorded(vm)
    vm.apply(replace(vm.setup, train=replace(vm.setup.train, learning_rate=0.5, l2=0.001)))
    assert seen["run_requested"] == [] and seen["training_changed"][-1].learning_rate == 0.5
    vm.apply(replace(vm.setup, data=replace(vm.setup.data, noise=0.1)))
    assert [r.run for r in seen["run_requested"]] == [2] and vm.run == 2
    vm.apply(replace(vm.setup, train=replace(vm.setup.train, seed=4)))  # the init's seed: a new network
    assert [r.run for r in seen["run_requested"]] == [2, 3]
    vm.apply(vm.setup)  # the same setup: nothing
    assert len(seen["run_requested"]) == 2


def test_a_new_setup_resets_the_selection_when_the_layers_change(vm):
    vm.accept_frame(frame(vm, 0, 1))
    vm.select_stage(1)
    vm.select_neuron(3)
    vm.apply(replace(vm.setup, data=replace(vm.setup.data, source="xor")))  # same layers: kept
    assert (vm.stage, vm.neuron) == (1, 3)
    vm.apply(replace(vm.setup, spec=NetworkSpec((8, 8, 8), ("tanh",))))
    assert (vm.stage, vm.neuron) == (6, -1)  # the last hidden layer's output, and the output neuron
    vm.accept_frame(frame(vm, 0, 1))
    vm.select_neuron(2)
    vm.apply(replace(vm.setup, spec=replace(vm.setup.spec, features=("x1", "x2", "x1x2"))))  # a wider input
    assert vm.neuron == -1


def test_a_frame_of_a_replaced_run_is_dropped(vm):
    seen = recorded(vm)
    old = frame(vm, 3, 4)
    vm.reset()
    assert not vm.accept_frame(old) and vm.frame is None and seen["frame_changed"] == []
    new = frame(vm, 0, 1)
    assert vm.accept_frame(new) and vm.frame is new and seen["frame_changed"] == [new]


def test_a_setup_that_cannot_start_brings_back_the_run_still_training(vm):
    vm.accept_frame(frame(vm, 2, 3))
    running = vm.setup
    seen = recorded(vm)
    vm.apply(replace(vm.setup, data=replace(vm.setup.data, source="missing.csv")))
    assert vm.run == 2
    vm.run_failed(2, "missing.csv: no such file")
    assert vm.run == 1 and vm.setup == running and seen["setup_changed"] == [running]
    assert "no such file" in seen["message"][-1]
    assert vm.accept_frame(frame(vm, 3, 4))  # the old run's frames are shown again


def test_a_failure_of_a_run_already_replaced_changes_nothing(vm):
    vm.reset()
    vm.reset()
    vm.run_failed(2, "old news")
    assert vm.run == 3


def test_play_after_training_stopped_by_itself_says_what_to_do(vm):
    vm.set_playing(True)
    seen = recorded(vm)
    vm.stopped("training stopped at step 40: the loss became NaN")
    assert not vm.playing and seen["playing_changed"] == [False]
    vm.set_playing(True)
    assert not vm.playing and "change the learning rate" in seen["message"][-1]
    vm.apply(replace(vm.setup, train=replace(vm.setup.train, learning_rate=0.01)))
    vm.set_playing(True)
    assert vm.playing


# --------------------------------------------------------------------------- the timeline


def test_moving_the_timeline_pauses_and_its_right_end_follows_training(vm):
    vm.set_playing(True)
    vm.accept_frame(frame(vm, 9, 10))
    seen = recorded(vm)
    vm.timeline_moved(9)  # the right end while training: the newest moment, still training
    assert vm.playing and seen["moment_requested"] == [None]
    vm.timeline_moved(3)
    assert not vm.playing and seen["playing_changed"] == [False] and seen["moment_requested"][-1] == 3
    vm.set_playing(True)
    assert vm.moment is None


def test_the_timeline_stops_at_its_ends(vm):
    vm.accept_frame(frame(vm, 0, 3))
    seen = recorded(vm)
    vm.move_moment(-1)
    vm.jump_moment(1)
    vm.move_moment(5)
    assert seen["moment_requested"] == [0, 1, 2]


def test_train_on_from_an_earlier_moment_drops_the_later_ones(vm):
    vm.accept_frame(frame(vm, 9, 10))
    vm.show_moment(4)
    vm.accept_frame(frame(vm, 4, 10))
    seen = recorded(vm)
    vm.train_from_here()
    assert seen["rewind_requested"] == [4] and vm.playing and vm.moment is None
    assert "training on from step 40" in seen["message"][0]
    vm.accept_frame(frame(vm, 9, 10))
    vm.train_from_here()  # at the newest moment: just train
    assert seen["rewind_requested"] == [4]


def test_the_moment_of_a_replaced_run_is_not_trained_on_from_or_edited_at(vm):
    vm.accept_frame(frame(vm, 9, 10))
    vm.show_moment(3)
    vm.accept_frame(frame(vm, 3, 10))
    vm.reset()  # its first frame has not come yet: the frame shown is the old run's
    seen = recorded(vm)
    vm.train_from_here()
    assert seen["rewind_requested"] == [] and vm.playing
    edit = vm.edit_weight(1, 0, 0, 1.0)
    assert (edit.run, edit.moment) == (2, None)


# --------------------------------------------------------------------------- weight edits


def test_a_weight_edit_asks_the_worker_for_that_weight_and_is_said(vm):
    vm.accept_frame(frame(vm, 9, 10))
    seen = recorded(vm)
    edit = vm.edit_weight(2, 1, 0, -1.5)
    sizes = vm.setup.spec.sizes
    assert seen["weight_edit_requested"] == [edit]
    assert edit == WeightEdit(vm.run, None, weight_index(sizes, 2, 1, 0), 2, 1, 0, -1.5)
    assert "weight 1:0 → 2:1 set to -1.5" in seen["message"][-1]
    assert vm.edits == [(90, "weight 1:0 → 2:1 set to -1.5")]
    assert "edited" in vm.moment_text()


def test_a_weight_edited_at_an_earlier_moment_trains_on_from_it(vm):
    vm.accept_frame(frame(vm, 9, 10))
    vm.edit_weight(1, 0, 0, 2.0)
    vm.show_moment(3)
    vm.accept_frame(frame(vm, 3, 10))
    edit = vm.edit_weight(3, 0, 2, 0.25)
    assert edit.moment == 3 and vm.moment is None
    assert vm.edits == [(30, "weight 2:2 → output set to +0.25")]  # the later edit went with its moments
    assert vm.unit_name(0, 1) == "x2"


@pytest.mark.parametrize("layer, target, source, value", [(4, 0, 0, 1.0), (1, 3, 0, 1.0), (1, 0, 0, math.nan)])
def test_a_weight_that_does_not_exist_or_a_value_that_is_not_a_number_is_refused(vm, layer, target, source, value):
    seen = recorded(vm)
    assert vm.edit_weight(layer, target, source, value) is None
    assert seen["weight_edit_requested"] == [] and len(seen["message"]) == 1


# --------------------------------------------------------------------------- files and texts


def test_a_setup_saved_and_opened_again_is_the_same_and_a_bad_file_is_one_line(vm, tmp_path):
    spec = NetworkSpec((6, 6, 6), ("tanh", "relu", "tanh"), "xavier", ("x1", "x2", "sinx1"))
    setup = Setup(DataSettings("multigauss", noise=0.1, seed=3, task="regression"), spec,
                  TrainSettings("adam", 0.03, l2=0.001, seed=2, layer_l1=(0.0, 0.01, 0.0, 0.0)))
    vm.apply(setup)
    path = vm.save_setup(tmp_path / "run.json")
    assert load_setup(path) == setup
    other = LearnViewModel()
    seen = recorded(other)
    assert other.open_setup(path) and other.setup == setup
    assert seen["run_requested"] == [RunRequest(2, setup)] and seen["setup_changed"] == [setup]
    (tmp_path / "bad.json").write_text("{}")
    assert not other.open_setup(tmp_path / "bad.json")
    assert "bad.json" in seen["message"][-1] and "\n" not in seen["message"][-1] and other.setup == setup


def test_the_script_export_writes_a_file(vm, tmp_path):
    path = vm.export_script(tmp_path / "run.py")
    assert path.is_file() and "import torch" in path.read_text()


def test_the_probe_caption_says_what_it_measures():
    views = SimpleNamespace(task="classification", snapshot=SimpleNamespace(train_accuracy=0.993))
    stage = SimpleNamespace(name="out sigmoid", width=1, projected=False, explained=None, probe_accuracy=0.989,
                            plane=None)
    title, note = stage_caption(stage, views)
    assert "LINEAR PROBE 98.9%" in title
    assert "logistic regression fitted to this stage" in note and "not the network's accuracy" in note
    assert "99.3%" in note  # the network's own accuracy beside it, so the two are not confused
    regression = SimpleNamespace(task="regression", snapshot=None)
    assert "PROBE" not in stage_caption(stage, regression)[0]


def test_the_stats_and_status_say_regression_in_squared_errors(vm):
    vm.apply(replace(vm.setup, data=DataSettings("plane", points=120)))
    shown = frame(vm, 2, 3)
    shown.views.task = "regression"
    vm.accept_frame(shown)
    assert "MSE" in vm.stats_text() and "%" not in vm.stats_text()
    assert vm.status_text().startswith("2-3-3-1 sigmoid on plane | step 20 | paused")
