"""Open a model and pick a layer: the start every command and mode shares."""

from __future__ import annotations

from deepvis import DeepvisError
from deepvis.config import Config


def open_model(config: Config):
    """The configured model on the configured device, with the configured displayed layers."""
    from deepvis.zoo import load_model

    loaded = load_model(config.model, config.weights, config.device)
    if config.layers:
        loaded.with_layers(config.layers)
    return loaded


def open_named_model(name: str, config: Config, weights: str | None = None):
    """A model the user picked (a menu, not the command line): no fallback to the embedded default
    when it cannot load (the caller keeps what it shows and says why); the configured displayed
    layers when it is the configured model."""
    from deepvis.zoo import load_model

    loaded = load_model(name, weights, config.device, fallback=False)
    if config.layers and name == config.model:
        loaded.with_layers(config.layers)
    return loaded


def pick_layer(loaded, name: str | None):
    """The layer to show, added to the displayed layers when given as a module path."""
    layer = loaded.find_layer(name) if name else loaded.default_layer()
    if layer not in loaded.layers:
        loaded.layers = loaded.layers + (layer,)
    return layer


def first_frame(path: str):
    """The first frame (RGB) of an image, a video or a folder."""
    from deepvis.sources import open_source

    source = open_source(path)
    with source:
        frame = source.wait_new(-1, timeout=10.0)
    if frame is None:
        raise DeepvisError(f"no frame could be read from {path}")
    return frame.rgb
