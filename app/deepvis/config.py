"""config.yaml: the defaults of every command, validated at start-up.

A wrong key or value raises DeepvisError with one line naming it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from deepvis import DeepvisError
from deepvis.paths import DEFAULT_CONFIG, PROJECT_ROOT, user_data_dir

BACKPROP_MODES = ("off", "gradient", "deconv", "guided")
BACKPROP_FILTERS = ("raw", "gray", "norm", "norm-blur", "overlay")
COLORMAPS = ("gray", "jet", "viridis", "inferno", "magma", "hot", "bone")
CROP_MODES = ("crop", "stretch")


@dataclass(frozen=True)
class WindowConfig:
    width: int = 1440
    height: int = 900


@dataclass(frozen=True)
class Config:
    model: str = "efficientnet_lite0"
    weights: str | None = None
    device: str = "auto"
    source: str = "camera"
    camera_index: int = 0
    layer: str | None = None
    layers: tuple[str, ...] | None = None
    crop: str = "crop"
    boost: float = 0.0
    gamma: float = 1.0
    colormap: str = "gray"
    backprop: str = "off"
    backprop_filter: str = "raw"
    store: str | None = None  # None: the platform's data folder (paths.user_data_dir() / "units")
    auto_unit_images: bool = True  # compute a selected unit's optimized image when it has none
    live_top_frames: bool = True  # keep every shown unit's top-9 frames of the session (the Live mode)
    window: WindowConfig = field(default_factory=WindowConfig)

    @property
    def store_path(self) -> Path:
        """Where unit images are written (and read first); the shipped ones lie under assets/units."""
        if not self.store:
            return user_data_dir() / "units"
        path = Path(self.store).expanduser()
        return path if path.is_absolute() else PROJECT_ROOT / path

    def replace(self, **changes: Any) -> "Config":
        """A copy with the given values changed; None values are ignored (flag not given)."""
        changes = {k: v for k, v in changes.items() if v is not None}
        return validate({**as_dict(self), **changes}, origin="command line")


def as_dict(config: Config) -> dict[str, Any]:
    return dataclasses.asdict(config)


def _fail(origin: str, key: str, message: str) -> DeepvisError:
    return DeepvisError(f"{origin}: '{key}' {message}")


def _check_choice(origin, key, value, choices):
    if value not in choices:
        raise _fail(origin, key, f"must be one of {', '.join(choices)}, not {value!r}")
    return value


def _check_number(origin, key, value, lo, hi, kind=float):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _fail(origin, key, f"must be a number, not {value!r}")
    if kind is int and int(value) != value:
        raise _fail(origin, key, f"must be a whole number, not {value!r}")
    if not lo <= value <= hi:
        raise _fail(origin, key, f"must be between {lo} and {hi}, not {value!r}")
    return kind(value)


def _check_str(origin, key, value, optional=False):
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value:
        raise _fail(origin, key, f"must be a non-empty string, not {value!r}")
    return value


def _check_bool(origin, key, value):
    if not isinstance(value, bool):
        raise _fail(origin, key, f"must be true or false, not {value!r}")
    return value


def _check_device(origin, key, value):
    value = _check_str(origin, key, value)
    base = value.split(":")[0]
    if base not in ("auto", "cpu", "cuda", "mps") or (":" in value and base != "cuda"):
        raise _fail(origin, key, f"must be auto, cpu, cuda, cuda:N or mps, not {value!r}")
    return value


def validate(raw: dict[str, Any], origin: str = "config.yaml") -> Config:
    """Turn a plain mapping into a Config, or raise DeepvisError naming the bad key."""
    if not isinstance(raw, dict):
        raise DeepvisError(f"{origin}: expected a mapping of keys to values")
    known = {f.name for f in dataclasses.fields(Config)}
    for key in raw:
        if key not in known:
            raise _fail(origin, str(key), f"is not a known key (known: {', '.join(sorted(known))})")
    values = {**as_dict(Config()), **raw}

    window = values["window"] if values["window"] is not None else {}
    if not isinstance(window, dict):
        raise _fail(origin, "window", "must be a mapping with width and height")
    for key in window:
        if key not in ("width", "height"):
            raise _fail(origin, f"window.{key}", "is not a known key (known: height, width)")
    layers = values["layers"]
    if layers is not None:
        if isinstance(layers, str):
            layers = [s for s in layers.replace(",", " ").split() if s]
        if not isinstance(layers, (list, tuple)) or not layers or not all(isinstance(s, str) for s in layers):
            raise _fail(origin, "layers", f"must be a list of layer names, not {layers!r}")
        layers = tuple(layers)
    if values["backprop"] is False:  # YAML 1.1 reads a bare `off` as false
        values["backprop"] = "off"
    source = values["source"]
    if isinstance(source, int) and not isinstance(source, bool):
        source = str(source)

    return Config(
        model=_check_str(origin, "model", values["model"]),
        weights=_check_str(origin, "weights", values["weights"], optional=True),
        device=_check_device(origin, "device", values["device"]),
        source=_check_str(origin, "source", source),
        camera_index=_check_number(origin, "camera_index", values["camera_index"], 0, 64, int),
        layer=_check_str(origin, "layer", values["layer"], optional=True),
        layers=layers,
        crop=_check_choice(origin, "crop", values["crop"], CROP_MODES),
        boost=_check_number(origin, "boost", values["boost"], 0.0, 1.0),
        gamma=_check_number(origin, "gamma", values["gamma"], 0.05, 10.0),
        colormap=_check_choice(origin, "colormap", values["colormap"], COLORMAPS),
        backprop=_check_choice(origin, "backprop", values["backprop"], BACKPROP_MODES),
        backprop_filter=_check_choice(origin, "backprop_filter", values["backprop_filter"], BACKPROP_FILTERS),
        store=_check_str(origin, "store", values["store"], optional=True),
        auto_unit_images=_check_bool(origin, "auto_unit_images", values["auto_unit_images"]),
        live_top_frames=_check_bool(origin, "live_top_frames", values["live_top_frames"]),
        window=WindowConfig(
            width=_check_number(origin, "window.width", window.get("width", 1440), 320, 10000, int),
            height=_check_number(origin, "window.height", window.get("height", 900), 240, 10000, int),
        ),
    )


def load_config(path: str | Path | None = None) -> Config:
    """Read config.yaml (the project's by default); a missing default file means built-in defaults."""
    path = Path(path) if path is not None else DEFAULT_CONFIG
    if not path.exists():
        if path == DEFAULT_CONFIG:
            return Config()
        raise DeepvisError(f"config file not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise DeepvisError(f"{path.name}: not valid YAML{where}") from None
    return validate(raw, origin=path.name)
