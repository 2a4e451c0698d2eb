"""The Live mode's view model and its key table, without Qt: every key does what it says."""

from __future__ import annotations

import pytest

from deepvis.config import Config
from deepvis.live import keys
from deepvis.live.view_model import Display, LiveViewModel

LAYERS = ["conv1", "conv2", "fc", "prob"]
COUNTS = {"conv1": 8, "conv2": 12, "fc": 10, "prob": 10}  # conv2: a 3 x 4 grid


@pytest.fixture
def vm() -> LiveViewModel:
    model = LiveViewModel(Config(), LAYERS, "conv2")
    model.set_unit_counts(COUNTS)
    return model


def record(event):
    seen = []
    event.connect(seen.append)
    return seen


def test_every_binding_names_an_action_or_a_request(vm):
    for binding in keys.BINDINGS:
        assert binding.action in keys.WINDOW_REQUESTS or callable(getattr(vm, binding.action, None)), binding
    assert len(keys.KEYMAP) == sum(len(b.keys) for b in keys.BINDINGS)  # no key bound twice


def test_moves_follow_the_grid_and_stop_at_its_edges(vm):
    press = vm.press
    press("l"); assert vm.view.unit == 1
    press("Right"); assert vm.view.unit == 2
    press("j"); assert vm.view.unit == 1
    press("k"); assert vm.view.unit == 5  # one row of 4 down
    press("Down"); press("Down"); assert vm.view.unit == 9  # the last row
    press("i"); assert vm.view.unit == 5
    press("Up"); press("Up"); assert vm.view.unit == 1  # the first row
    press("L"); assert vm.view.unit == 3  # 3 right from column 1 reaches the last column
    press("L"); assert vm.view.unit == 3
    press("J"); assert vm.view.unit == 0
    press("K"); assert vm.view.unit == 8
    press("I"); assert vm.view.unit == 0
    press("Left"); assert vm.view.unit == 0


def test_the_unit_is_clamped_in_one_place(vm):
    vm.select_unit(99); assert vm.view.unit == 11
    vm.select_unit(-4); assert vm.view.unit == 0
    vm.select_unit(11)
    vm.select_layer("conv1"); assert vm.view.unit == 7  # conv1 has 8 units
    unknown = LiveViewModel(Config(), LAYERS, "conv2")
    unknown.select_unit(40); assert unknown.view.unit == 40  # not known yet: kept
    unknown.set_unit_counts({"conv2": 12}); assert unknown.view.unit == 11  # clamped once known


def test_layers_cycle(vm):
    vm.press("o"); assert vm.view.layer == "fc"
    vm.press("o"); vm.press("o"); assert vm.view.layer == "conv1"  # wraps
    vm.press("u"); assert vm.view.layer == "prob"


def test_backprop_keys(vm):
    vm.press("b"); assert (vm.view.backprop, vm.view.backprop_filter) == ("gradient", "raw")
    vm.press("b"); assert (vm.view.backprop, vm.view.backprop_filter) == ("gradient", "norm")
    vm.press("b"); assert vm.view.backprop == "deconv"
    vm.press("b"); assert vm.view.backprop == "guided"
    vm.press("b"); assert vm.view.backprop == "off"
    vm.press("m"); assert vm.view.backprop_filter == "gray"
    messages = record(vm.message)
    vm.select_unit(3)
    vm.press("d"); assert vm.view.backprop_origin == ("conv2", 3) and "frozen at conv2:3" in messages[-1]
    vm.press("d"); assert vm.view.backprop_origin is None
    vm.press("a"); assert vm.view.backprop_in_grid
    vm.press("a"); assert not vm.view.backprop_in_grid


def test_display_keys(vm):
    displays = record(vm.display_changed)
    vm.press("t"); assert vm.view.gamma == 0.7
    vm.press("t"); vm.press("t"); vm.press("t"); assert vm.view.gamma == 1.0
    vm.press("T"); assert vm.view.boost == 0.3
    vm.press("0"); assert vm.view.crop == "stretch"
    vm.press("0"); assert vm.view.crop == "crop"
    vm.press("z"); assert vm.display.zoom == "unit"
    vm.press("z"); assert vm.display.zoom == "backprop"
    vm.press("z"); assert vm.display.zoom == "off"
    vm.press("8"); assert not vm.display.predictions
    vm.press("9"); assert not vm.display.unit_panel
    vm.press("f"); assert vm.display.frozen
    assert len(displays) == 6 and displays[-1] is vm.display


def test_escape_resets_view_and_display(vm):
    vm.press("o"); vm.press("l"); vm.press("a"); vm.press("z"); vm.press("8"); vm.press("f")
    vm.press("Esc")
    assert (vm.view.layer, vm.view.unit, vm.view.backprop_in_grid) == ("conv2", 0, False)
    assert vm.display == Display()


def test_window_requests_are_emitted_not_run(vm):
    requests = record(vm.requested)
    for key in ("Space", "c", "e", "PgDown", "w", "PgUp", "x", "g", "G", "q"):
        assert vm.press(key)
    assert requests == ["toggle_pause", "toggle_camera", "next_file", "next_file", "prev_file", "prev_file",
                        "compute_unit", "dream_frame", "dream_unit", "quit"]
    assert not vm.press("%")  # unbound


def test_view_changed_is_emitted_once_per_change(vm):
    views = record(vm.view_changed)
    vm.press("l"); vm.press("l")
    vm.select_unit(2)  # no change: no event
    assert [v.unit for v in views] == [1, 2]


def test_a_new_model_starts_at_its_default_layer(vm):
    vm.select_unit(5); vm.press("d")
    layers = record(vm.layers_changed)
    vm.set_model(["a", "b"], "b")
    assert layers == [["a", "b"]] and vm.view.layer == "b" and vm.view.unit == 0 and vm.view.backprop_origin is None
    assert vm.unit_counts == {}
