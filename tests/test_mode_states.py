"""The modes' Qt-free state (deepvis.jobstate) and key tables, without a window: every transition
of a job, what a shown result belongs to, and every mode's key table."""

from __future__ import annotations

import subprocess
import sys

import pytest

from deepvis.jobstate import JobState
from deepvis.keytable import Binding, KeyTable


def recorded(state: JobState) -> list[str]:
    seen: list[str] = []
    state.changed.connect(lambda s: seen.append(f"{s.phase}: {s.message}"))
    return seen


def test_a_job_runs_then_is_done_and_its_result_remembers_what_it_was_made_from():
    state = JobState("dream")
    seen = recorded(state)
    assert not state.busy and state.placeholder("dream") is None
    state.start("dream", "dreaming a.png", "a.png")
    assert state.busy and state.placeholder("dream") == "dreaming a.png…"
    state.finish("A's dream", "dream: a.png done")
    assert state.result("dream") == "A's dream" and state.made_from("dream").input_name == "a.png"
    assert state.placeholder("dream") is None
    assert seen == ["running: dream: dreaming a.png…", "done: dream: a.png done"]


def test_stop_is_said_at_once_and_never_turns_into_done():
    state = JobState("digits")
    state.start("sweep", "hidden-size sweep")
    assert state.stop() and state.phase == "stopped" and "stopped" in state.message
    state.finish("late result")  # the cancelled job's result arriving afterwards
    assert state.phase == "stopped" and state.result("sweep") is None
    assert state.placeholder("sweep") == "hidden-size sweep: stopped"
    assert not state.stop()  # nothing runs: nothing to stop


def test_a_new_input_and_a_stopped_job_leave_the_shown_result_with_its_own_input():
    state = JobState("dream")
    state.start("dream", "dreaming a.png", "a.png")
    state.finish("A's dream")
    state.start("dream", "dreaming b.png", "b.png")
    state.stop()
    assert state.result("dream") == "A's dream" and state.made_from("dream").input_name == "a.png"


def test_a_failure_replaces_the_running_text_on_its_pane():
    state = JobState("dream")
    state.start("classes", "optimizing 'goldfsh' from noise for 4 seeds", "goldfsh")
    state.fail("no class 'goldfsh' (closest: goldfish)")
    assert state.phase == "failed" and state.placeholder("classes") == "no class 'goldfsh' (closest: goldfish)"
    assert state.placeholder("dream") is None  # another kind's pane is not touched
    state.start("dream", "dreaming a.png")
    assert state.placeholder("classes") is None and state.placeholder("dream") == "dreaming a.png…"


def test_a_key_table_refuses_a_key_bound_twice_and_lists_its_help():
    table = KeyTable((Binding(("x", "Esc"), "stop", "stop"), Binding(("t",), "train", "train")))
    assert table.action("Esc") == "stop" and table.action("q") is None
    assert table.help() == [("x / Esc", "stop"), ("t", "train")]
    with pytest.raises(ValueError):
        KeyTable((Binding(("x",), "stop", "stop"), Binding(("x",), "train", "train")))


@pytest.mark.parametrize("module, mode_module, mode_class", [
    ("deepvis.dream.keys", "deepvis.gui.dream.mode", "DreamMode"),
    ("deepvis.digits.keys", "deepvis.gui.digits.mode", "DigitsMode"),
    ("deepvis.learn.keys", "deepvis.learn.view_model", "LearnViewModel"),
    ("deepvis.tabular.keys", "deepvis.tabular.view_model", "TabularViewModel"),
    ("deepvis.weights.keys", "deepvis.weights.view_model", "WeightsViewModel"),
])
def test_every_key_names_a_method_of_its_mode(module, mode_module, mode_class):
    import importlib

    keys = importlib.import_module(module).KEYS
    mode = getattr(importlib.import_module(mode_module), mode_class)
    for binding in keys.bindings:
        assert callable(getattr(mode, binding.action, None)), f"{binding.keys}: {binding.action}"


def test_the_key_tables_and_states_load_without_qt_or_torch():
    code = ("import sys; import deepvis.jobstate, deepvis.dream.keys, deepvis.digits.keys, deepvis.live.keys, "
            "deepvis.learn.keys, deepvis.tabular.keys, deepvis.weights.keys; "
            "print(sorted(m for m in ('PyQt6', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stderr


def test_return_and_enter_are_one_key_name():
    from PyQt6.QtCore import Qt

    from deepvis.gui.keys import key_name

    assert key_name(Qt.Key.Key_Return, "\r") == "Enter" and key_name(Qt.Key.Key_Enter, "\r") == "Enter"
