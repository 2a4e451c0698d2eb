"""The Live mode's model: which one runs (and with which weights), and loading another in the
background. The running model keeps going while another loads, and stays when that one cannot
load: the Model menu never falls back to a model the user did not ask for."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from PyQt6.QtCore import QObject, pyqtSignal
from PyQt6.QtGui import QAction
from PyQt6.QtWidgets import QWidget

from deepvis.config import Config
from deepvis.gui.background import BackgroundCall
from deepvis.gui.model_menu import ModelChoices, ask_for_weights, configured_weights
from deepvis.session import open_named_model
from deepvis.zoo import LoadedModel


class ModelSwitch(QObject):
    """Owns the running LoadedModel and the Model menu's check marks; `switched` says a new one is
    loaded, `progress` drives the shared busy bar ((0, 0) busy, total -1 done)."""

    switched = pyqtSignal(object)  # LoadedModel
    progress = pyqtSignal(int, int)

    def __init__(self, loaded: LoadedModel, config: Config, show_message: Callable[[str], None],
                 loader: Callable[..., LoadedModel] | None, parent: QWidget):
        super().__init__(parent)
        self.loaded = loaded
        self.config = config
        # --weights belongs to the model deepvis started with.
        self.weights: str | None = config.weights if config.model == loaded.name else None
        self.loader = loader or self._load
        self.task: BackgroundCall | None = None
        self._show_message = show_message
        self.choices = ModelChoices(self)
        self.actions = self.choices.actions  # model name -> its Model menu entry

    def menu_actions(self, make_action: Callable[..., QAction]) -> list[QAction]:
        """One checkable action per built-in model, made by the mode's action factory."""
        return self.choices.menu_actions(make_action, self.switch, self.loaded.name)

    def switch(self, name: str, weights: str | None = None) -> None:
        """Load a model in the background; the current one keeps running until it is ready."""
        if self.task is not None and self.task.is_running():
            self._show_message("a model is already loading")
            self._check(self.loaded.name)
            return
        weights = configured_weights(name, weights, self.config)
        self._show_message(f"loading {name}" + (f" with {Path(weights).name}" if weights else "") + "…")
        self.progress.emit(0, 0)
        loader = self.loader

        def load():
            from deepvis.jobs import preload

            preload(("torchvision", "timm"))  # one thread at a time: see preload
            return (loader(name, weights) if weights else loader(name)), weights

        self.task = BackgroundCall(load, "model loader", self)
        self.task.done.connect(self._loaded)  # methods, not closures: see gui.jobs
        self.task.failed.connect(self._failed)
        self.task.start()

    def load_weights_dialog(self) -> None:
        """Model → Load weights…: a local state dict for one of the built-in architectures."""
        chosen = ask_for_weights(self.parent(), self.loaded.name)
        if chosen:
            self.switch(*chosen)

    def _load(self, name: str, weights: str | None = None) -> LoadedModel:
        return open_named_model(name, self.config, weights)

    def _check(self, name: str) -> None:
        self.choices.check(name)

    def _loaded(self, loaded_with: tuple[LoadedModel, str | None]) -> None:
        loaded, weights = loaded_with
        self.progress.emit(0, -1)
        self.loaded, self.weights = loaded, weights
        self._check(loaded.name)
        self.switched.emit(loaded)
        with_weights = f" with {Path(weights).name}" if weights else ""
        self._show_message(loaded.message or f"{loaded.card.title}{with_weights}")

    def _failed(self, message: str) -> None:
        self.progress.emit(0, -1)
        self._check(self.loaded.name)
        self._show_message(message)
