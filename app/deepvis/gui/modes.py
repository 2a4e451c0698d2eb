"""The modes, one per capability, in the order of the window's tabs.

Adding a mode is one line here: (name, tab title, module, class). Modules are imported only
when the mode is first shown, so a mode's dependencies cost nothing until then.
"""

from __future__ import annotations

import importlib

MODES: tuple[tuple[str, str, str, str], ...] = (
    ("live", "Live", "deepvis.gui.live.mode", "LiveMode"),
    ("learn", "Learn", "deepvis.gui.learn.mode", "LearnMode"),
    ("digits", "Digits", "deepvis.gui.digits.mode", "DigitsMode"),
    ("dream", "Dream", "deepvis.gui.dream.mode", "DreamMode"),
    ("tabular", "Tabular", "deepvis.gui.tabular.mode", "TabularMode"),
    ("weights", "Weights", "deepvis.gui.weights.mode", "WeightsMode"),
)


def mode_names() -> list[str]:
    return [entry[0] for entry in MODES]


def mode_title(name: str) -> str:
    return next(entry[1] for entry in MODES if entry[0] == name)


def mode_class(name: str):
    for mode_name, _title, module, cls in MODES:
        if mode_name == name:
            return getattr(importlib.import_module(module), cls)
    raise KeyError(name)
