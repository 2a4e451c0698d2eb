"""The modes, one per capability, in the order of the window's tabs.

Adding a mode is one line here: (name, tab title, module, class). Modules are imported only
when the mode is first shown, so a mode's dependencies cost nothing until then.
"""

from __future__ import annotations

import importlib

MODES: tuple[tuple[str, str, str, str], ...] = (
    ("live", "Live", "deepvis.gui.modes.live", "LiveMode"),
    ("learn", "Learn", "deepvis.gui.modes.learn", "LearnMode"),
    ("digits", "Digits", "deepvis.gui.modes.digits", "DigitsMode"),
    ("dream", "Dream", "deepvis.gui.modes.dream", "DreamMode"),
    ("tabular", "Tabular", "deepvis.gui.modes.tabular", "TabularMode"),
    ("weights", "Weights", "deepvis.gui.modes.weights", "WeightsMode"),
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
