"""The Live mode's share with the other modes, without Qt: what Live publishes, what others read."""

from __future__ import annotations

import types
from concurrent.futures import Future

import numpy as np

from deepvis.live.share import LiveShare
from deepvis.zoo import Layer


def fake_model(name: str):
    return types.SimpleNamespace(name=name, layers=(Layer("conv1", "features.0"), Layer("fire2", "features.3")))


def test_before_live_exists_open_creates_it_and_then_its_model_is_known():
    created = []
    share = LiveShare(open_live=lambda: (created.append(True), share.publish_model(fake_model("m"), Future)))
    assert share.model_name is None and share.layer_names() == []
    assert share.open() is share and created == [True]
    assert share.model_name == "m" and share.layer_names() == ["conv1", "fire2"]
    share.open()
    assert created == [True]  # Live is created once


def test_a_layer_is_found_by_its_module_path_only_when_live_displays_it():
    share = LiveShare()
    share.publish_model(fake_model("m"), Future)
    assert share.layer_for_path("features.3") == "fire2"
    assert share.layer_for_path("features.4") is None


def test_a_frame_of_the_previous_model_is_dropped_when_live_switches_models():
    share = LiveShare()
    share.publish_model(fake_model("a"), Future)
    share.publish_frame(np.zeros((4, 4, 3), np.uint8), "a")
    share.publish_model(fake_model("a"), Future)
    assert share.frame is not None and share.frame.model_name == "a"
    share.publish_model(fake_model("b"), Future)
    assert share.frame is None


def test_a_unit_request_reaches_live_and_a_model_copy_comes_from_lives_worker():
    share, requests, copies = LiveShare(), [], []

    def copy_model() -> Future:
        future: Future = Future()
        future.set_result("copy")
        copies.append(future)
        return future

    share.publish_model(fake_model("m"), copy_model)
    share.unit_requested.connect(requests.append)
    share.show_unit("fire2", 5)
    assert requests == [("fire2", 5)]
    assert share.model_copy().result() == "copy" and len(copies) == 1
    share.publish_selection("fire2", 5)
    assert (share.layer, share.unit) == ("fire2", 5)
