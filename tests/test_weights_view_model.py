"""The Weights mode's view model without Qt or torch: every key, every transition (a model
loaded or failed, a layer asked for and read, pages, units), what a result belongs to, and the
way to the Live mode (the unit of a displayed layer, or a refusal that says why)."""

from __future__ import annotations

import subprocess
import sys
import types

import pytest

from deepvis.cards import Layer
from deepvis.live.share import LiveShare
from deepvis.weights.keys import KEYS
from deepvis.weights.layers import WeightLayer
from deepvis.weights.view_model import OpenedModel, Request, WeightsViewModel

CONV1 = WeightLayer("features.0", "conv", (64, 3, 3, 3), 0)
SQUEEZE = WeightLayer("features.3.squeeze", "conv", (16, 64, 1, 1), 1)
CLASSIFIER = WeightLayer("classifier", "linear", (1000, 1280), 2)
LAYERS = [CONV1, SQUEEZE, CLASSIFIER]
PATHS = {"features.0": ("features.0", "features.1", "features.2"),
         "features.3.squeeze": ("features.3.squeeze", "features.3.squeeze_activation"),
         "classifier": ("classifier", "")}
LABELS = [f"label {i}" for i in range(1000)]


def view(layer: WeightLayer):
    """A LayerView as the view model reads it: its layer and each unit's range."""
    return types.SimpleNamespace(layer=layer, ranges=[(-0.5 - u / 1000, 0.5) for u in range(layer.units)])


def live_showing(name: str, *layers: Layer) -> tuple[LiveShare, list]:
    live, shown = LiveShare(), []
    live.publish_model(types.SimpleNamespace(name=name, layers=layers), copy_model=None)
    live.unit_requested.connect(shown.append)
    return live, shown


def recorder(state: WeightsViewModel) -> dict[str, list]:
    seen: dict[str, list] = {name: [] for name in ("model", "view", "page", "unit", "requested", "message")}
    state.model_changed.connect(lambda s: seen["model"].append(s.model_name))
    state.view_changed.connect(lambda v: seen["view"].append(v.layer.path))
    state.page_changed.connect(seen["page"].append)
    state.unit_changed.connect(seen["unit"].append)
    state.requested.connect(seen["requested"].append)
    state.message.connect(seen["message"].append)
    return seen


def loaded_state(live=None, layers=LAYERS) -> WeightsViewModel:
    state = WeightsViewModel(live)
    request = state.open_model("squeezenet1_1")
    opened = OpenedModel("squeezenet1_1", "SqueezeNet 1.1", object(), layers, PATHS, LABELS, view(layers[0]))
    assert state.model_opened(request, opened)
    return state


def show_layer(state: WeightsViewModel, layer: WeightLayer) -> None:
    request = state.select_layer(layer.index)
    assert state.layer_read(request, view(layer))


def test_a_model_job_is_asked_for_and_its_result_shows_the_first_layer():
    state = WeightsViewModel()
    seen = recorder(state)
    request = state.open_model("squeezenet1_1", "/tmp/my.pth")
    assert seen["requested"] == [Request("model", "squeezenet1_1", "/tmp/my.pth")] and state.job.busy
    assert state.status_text() == "weights: squeezenet1_1 (loading…)"
    opened = OpenedModel("squeezenet1_1", "SqueezeNet 1.1", object(), LAYERS, PATHS, LABELS, view(CONV1))
    assert not state.model_opened(Request("model", "alexnet"), opened)  # not the job asked for: dropped
    assert state.model_name is None
    assert state.model_opened(request, opened)
    assert state.model_name == "squeezenet1_1" and state.selected == CONV1 and state.shown.layer == CONV1
    assert (state.page, state.unit) == (0, None) and not state.job.busy
    assert seen["model"] == ["squeezenet1_1"] and seen["view"] == ["features.0"] and seen["page"] == [0]
    assert seen["message"][-1] == "weights: SqueezeNet 1.1, 3 conv/linear layers"
    assert state.status_text().startswith("weights: squeezenet1_1 (my.pth) | features.0 | conv 64x3x3x3")


def test_a_failed_load_keeps_the_model_shown_and_says_so():
    state = loaded_state()
    seen = recorder(state)
    state.open_model("alexnet")
    state.job_failed("alexnet: its weights cannot be downloaded (no network)")
    assert state.model_name == "squeezenet1_1" and state.shown.layer == CONV1 and state.job.phase == "failed"
    assert seen["message"][-1] == ("weights: alexnet: its weights cannot be downloaded (no network); "
                                   "still showing squeezenet1_1")


def test_a_layer_change_asks_for_a_job_and_resets_the_page_and_unit_when_read():
    state = loaded_state()
    show_layer(state, CLASSIFIER)
    state.flip_page(3)
    state.select_unit(200)
    assert (state.page, state.unit) == (3, 200)
    seen = recorder(state)
    request = state.select_layer(SQUEEZE.index)
    assert seen["requested"] == [Request("layer", "squeezenet1_1", layer=SQUEEZE)]
    assert state.job.job.input_name == "features.3.squeeze"
    assert state.shown.layer == CLASSIFIER and state.page == 3  # the old page stays until the new layer is read
    assert state.layer_read(request, view(SQUEEZE))
    assert (state.shown.layer, state.page, state.unit, state.pages) == (SQUEEZE, 0, None, 1)
    assert seen["page"] == [0] and seen["unit"] == [None]
    assert state.select_layer(SQUEEZE.index) is None  # the layer shown: no job


def test_a_result_for_an_older_layer_or_model_is_dropped():
    state = loaded_state()
    older = state.select_layer(SQUEEZE.index)
    newer = state.select_layer(CLASSIFIER.index)
    assert not state.layer_read(older, view(SQUEEZE))
    assert state.shown.layer == CONV1 and state.job.busy
    stale = state.select_layer(SQUEEZE.index)
    state.open_model("alexnet")
    assert not state.layer_read(stale, view(SQUEEZE))  # a layer of the model being replaced
    assert not state.layer_read(newer, view(CLASSIFIER))
    assert state.shown.layer == CONV1


def test_layers_do_not_change_while_a_model_loads():
    state = loaded_state()
    seen = recorder(state)
    state.open_model("alexnet")
    assert state.select_layer(SQUEEZE.index) is None and state.selected == CONV1
    assert seen["message"][-1] == "weights: loading alexnet… (its layers come with it)"


def test_pages_stay_in_bounds_and_say_which_rows_they_show():
    state = loaded_state()
    show_layer(state, CLASSIFIER)
    seen = recorder(state)
    assert state.pages == 16 and state.page_text() == "rows 1-64 of 1000"  # 64 heat-map rows a page
    state.flip_page(-1)
    assert state.page == 0 and seen["page"] == []
    state.flip_page(4)
    assert state.page_text() == "rows 257-320 of 1000" and state.page_units() == range(256, 320)
    state.set_page(99)
    assert state.page == 15 and state.page_text() == "rows 961-1000 of 1000"
    state.flip_page(1)
    assert state.page == 15 and seen["page"] == [4, 15]
    assert "rows 961-1000 of 1000 (page 16/16)" in state.status_text()
    show_layer(state, CONV1)
    assert state.pages == 1 and state.page_text() == "filters 1-64 of 64"


def test_every_class_is_reachable_and_a_unit_turns_the_page():
    state = loaded_state()
    show_layer(state, CLASSIFIER)
    reached = set()
    for page in range(state.pages):
        state.set_page(page)
        reached.update(state.page_units())
    assert reached == set(range(1000))
    state.set_page(0)
    state.select_unit(999)
    assert (state.unit, state.page) == (999, 15)
    state.select_unit(5000)
    assert state.unit == 999  # clamped
    state.select_unit(64)
    state.move_unit(-1)
    assert (state.unit, state.page) == (63, 0)
    state.move_unit(1)
    assert (state.unit, state.page) == (64, 1)


def test_the_hover_names_the_class_of_the_classifiers_rows_only():
    state = loaded_state()
    assert state.hover_text(7) == "features.0:7  weights -0.507 … +0.5"
    show_layer(state, CLASSIFIER)
    assert state.hover_text(300) == "classifier:300 (label 300)  weights -0.8 … +0.5"
    assert state.class_name(1000) is None


@pytest.mark.parametrize("key, action", [("Up", "move_layer"), ("Down", "move_layer"), ("Left", "move_unit"),
                                         ("Right", "move_unit"), ("PgUp", "flip_page"), ("PgDown", "flip_page"),
                                         ("Enter", "open_selected_in_live")])
def test_every_key_names_a_view_model_action(key, action):
    assert KEYS.action(key) == action and callable(getattr(WeightsViewModel, action))


def test_each_key_does_what_its_help_says():
    live, shown = live_showing("squeezenet1_1", Layer("conv1", "features.1"), Layer("fc", "classifier"))
    state = loaded_state(live)
    seen = recorder(state)
    assert state.press("Down") and seen["requested"][-1].layer == SQUEEZE
    state.layer_read(seen["requested"][-1], view(SQUEEZE))
    assert state.press("Up") and seen["requested"][-1].layer == CONV1
    state.layer_read(seen["requested"][-1], view(CONV1))
    assert state.press("Right") and state.unit == 0  # the first unit of the page
    assert state.press("Right") and state.unit == 1
    assert state.press("Left") and state.unit == 0
    assert state.press("Enter") and shown == [("conv1", 0)]
    state.press("Up")
    assert state.selected == CONV1  # the first layer: nothing before it
    for _ in range(2):
        state.press("Down")
        state.layer_read(seen["requested"][-1], view(state.selected))
    assert state.shown.layer == CLASSIFIER
    assert state.press("PgDown") and state.page == 1
    assert state.press("PgUp") and state.page == 0
    assert not state.press("x")


def test_a_filter_reaches_the_displayed_layer_its_channels_go_to_and_live_comes_forward():
    live, shown = live_showing("squeezenet1_1", Layer("conv1", "features.1"), Layer("fc", "classifier"))
    state = loaded_state(live)
    seen = recorder(state)
    assert state.open_in_live(7)
    assert shown == [("conv1", 7)] and state.unit == 7
    assert seen["message"][-1] == "Live: conv1:7 (from weights features.0:7)"
    show_layer(state, CLASSIFIER)
    assert state.open_in_live(300) and shown[-1] == ("fc", 300)  # the layer Live shows is itself


def test_a_refused_click_says_why_and_asks_nothing_of_live():
    live, shown = live_showing("efficientnet_lite0", Layer("stem", "bn1"))
    state = loaded_state(live)
    seen = recorder(state)
    assert not state.open_in_live(3)
    assert shown == [] and state.unit == 3
    assert seen["message"][-1].startswith("Live shows efficientnet_lite0, not squeezenet1_1")
    live.publish_model(types.SimpleNamespace(name="squeezenet1_1", layers=(Layer("conv1", "features.1"),
                                                                             Layer("fire2", "features.3"))), None)
    show_layer(state, SQUEEZE)
    assert not state.open_in_live(2) and shown == []
    assert seen["message"][-1] == ("features.3.squeeze's filters reach none of Live's displayed layers "
                                   "(conv1 fire2) before their channels are mixed")


def test_live_is_created_when_there_is_none_yet():
    created = []

    def open_live():
        created.append(True)
        live.publish_model(types.SimpleNamespace(name="squeezenet1_1", layers=(Layer("conv1", "features.1"),)), None)
    live = LiveShare(open_live=open_live)
    state = loaded_state(live)
    assert state.live_layer("features.0") == ("conv1", "") and created == [True]


def test_the_view_model_loads_without_qt_or_torch():
    code = ("import sys, deepvis.weights.view_model; "
            "print(sorted(m for m in ('PyQt6', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stderr
