"""A tiny event emitter: models emit, views connect (napari's style, without Qt)."""

from __future__ import annotations

from typing import Any, Callable


class Event:
    """Callbacks called in order of connection with the emitted value."""

    def __init__(self) -> None:
        self._callbacks: list[Callable[[Any], None]] = []

    def connect(self, callback: Callable[[Any], None]) -> Callable[[Any], None]:
        self._callbacks.append(callback)
        return callback

    def disconnect(self, callback: Callable[[Any], None]) -> None:
        self._callbacks.remove(callback)

    def emit(self, value: Any = None) -> None:
        for callback in list(self._callbacks):
            callback(value)
