"""What the Live mode shares with the other modes: its model, its last frame and its selection.

Dream dreams Live's frame with Live's model; Weights shows a filter's unit in Live. They ask
through this one object, which the shell gives every mode, not through the Live mode's widgets
or worker. Plain Python: Live publishes, the others read and request; testable without Qt.
"""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from deepvis.events import Event


@dataclass(frozen=True)
class LiveFrame:
    """The model's input as Live last showed it, and the model it went through."""

    rgb: np.ndarray
    model_name: str


class LiveShare:
    """Live's model, frame and selection for the other modes.

    Events:
      unit_requested((layer, unit)): another mode asks Live to show this unit (Live shows itself)
    """

    def __init__(self, open_live: Callable[[], Any] | None = None):
        self._open_live = open_live  # creates the Live mode (not shown) when there is none yet
        self.loaded: Any = None  # the LoadedModel Live shows; None before Live exists
        self.frame: LiveFrame | None = None
        self.layer: str | None = None
        self.unit = 0
        self._copy_model: Callable[[], Future] | None = None
        self.unit_requested = Event()

    # -- Live's side ---------------------------------------------------------------------------

    def publish_model(self, loaded: Any, copy_model: Callable[[], Future]) -> None:
        """Live shows `loaded` now; `copy_model()` returns a future deep copy of it."""
        self.loaded, self._copy_model = loaded, copy_model
        if self.frame is not None and self.frame.model_name != loaded.name:
            self.frame = None  # a frame of the previous model is not this model's input

    def publish_frame(self, rgb: np.ndarray, model_name: str) -> None:
        self.frame = LiveFrame(rgb, model_name)

    def publish_selection(self, layer: str, unit: int) -> None:
        self.layer, self.unit = layer, unit

    # -- the other modes' side -----------------------------------------------------------------

    def open(self) -> "LiveShare":
        """Make sure Live exists (created, not shown), so that its model is known."""
        if self.loaded is None and self._open_live is not None:
            self._open_live()
        return self

    @property
    def model_name(self) -> str | None:
        return None if self.loaded is None else self.loaded.name

    def layer_names(self) -> list[str]:
        return [] if self.loaded is None else [layer.name for layer in self.loaded.layers]

    def layer_for_path(self, path: str) -> str | None:
        """Live's displayed layer whose output is module `path`, if Live displays it."""
        if self.loaded is None:
            return None
        return next((layer.name for layer in self.loaded.layers if layer.path == path), None)

    def model_copy(self) -> Future:
        """A future deep copy of Live's model (made between frames: hooks are module-global)."""
        self.open()
        if self._copy_model is None:
            raise RuntimeError("Live has no model to copy")
        return self._copy_model()

    def show_unit(self, layer: str, unit: int) -> None:
        """Ask Live to show `layer`:`unit` (it brings itself to the front)."""
        self.open()
        self.unit_requested.emit((layer, unit))
