"""The built-in models as check-marked menu entries and the questions of Load weights…: one helper
for Live's Model menu and the Weights menu, so both keep the mark on the model they show (a model
that cannot load never keeps it)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from PyQt6.QtCore import QObject
from PyQt6.QtGui import QAction, QActionGroup
from PyQt6.QtWidgets import QFileDialog, QInputDialog, QWidget

from deepvis.config import Config
from deepvis.cards import builtin_models

WEIGHTS_FILTER = "State dicts (*.pth *.pt *.safetensors);;All files (*)"


class ModelChoices(QObject):
    """One checkable action per built-in model (`actions`, by name); check(name) marks one."""

    def __init__(self, parent: QObject):
        super().__init__(parent)
        self.group = QActionGroup(self)
        self.actions: dict[str, QAction] = {}

    def menu_actions(self, make_action: Callable[..., QAction], choose: Callable[[str], None],
                     checked: str | None) -> list[QAction]:
        """make_action(text, slot, checkable=True) -> QAction (the mode's action factory); choose(name)
        runs when an entry is picked."""
        for card in builtin_models():
            action = make_action(card.title, lambda _checked=False, name=card.name: choose(name), checkable=True)
            self.group.addAction(action)
            self.actions[card.name] = action
        self.check(checked)
        return list(self.actions.values())

    def check(self, name: str | None) -> None:
        for action_name, action in self.actions.items():
            action.setChecked(action_name == name)


def configured_weights(name: str, weights: str | None, config: Config) -> str | None:
    """The weights to load a model with: those given, else --weights when it is the model deepvis
    started with."""
    return weights if weights is not None or name != config.model else config.weights


def ask_for_weights(parent: QWidget, current: str | None) -> tuple[str, str] | None:
    """Load weights…: a local state dict, then which built-in architecture it is for (the model
    shown first). (architecture, path), or None when cancelled."""
    path, _ = QFileDialog.getOpenFileName(parent, "Load weights", "", WEIGHTS_FILTER)
    if not path:
        return None
    names = [card.name for card in builtin_models()]
    index = names.index(current) if current in names else 0
    name, ok = QInputDialog.getItem(parent, "Load weights", f"Architecture of {Path(path).name}:", names, index, False)
    return (name, path) if ok else None
