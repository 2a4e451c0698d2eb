"""A run's whole setup, and the JSON file that shares it.

`Setup` is everything that decides a run: the data (set or CSV, points, noise, split, its own
seed), the network (features, hidden widths, activations, init) and the training (optimizer,
rates, penalties, batch, steps, snapshot interval, the init's seed). Two runs of one setup on one
device give the same numbers, so `deepvis learn --save-setup run.json` and
`deepvis learn --setup run.json` share a run exactly.

The file is plain JSON with a format name and a version. Reading it is strict: a file of a
newer version, a missing or unknown key or a value of the wrong type is one line naming the
file and the key. A CSV's path is stored relative to the setup file's folder, so a folder
holding both can be moved or sent as it is.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from deepvis import DeepvisError
from deepvis.files import json_text, write_text_atomic
from deepvis.learn.data import DataSettings, is_csv, task_of
from deepvis.learn.network import NetworkSpec
from deepvis.learn.trainer import TrainSettings

FORMAT = "deepvis-learn-setup"
VERSION = 1
DEFAULT_STEPS = 5000


@dataclass(frozen=True)
class Setup:
    data: DataSettings = field(default_factory=DataSettings)
    spec: NetworkSpec = field(default_factory=NetworkSpec)
    train: TrainSettings = field(default_factory=TrainSettings)
    steps: int = DEFAULT_STEPS

    def __post_init__(self) -> None:
        if self.steps < 0:
            raise DeepvisError(f"the steps must not be negative, not {self.steps}")
        self.train.penalties(len(self.spec.hidden) + 1)  # per-layer L1 / L2: one per weight layer

    def to_json(self, folder: Path | None = None) -> dict:
        """The setup as the file holds it; a CSV's path relative to `folder` (the file's)."""
        data, spec, train = self.data, self.spec, self.train
        source = data.source
        if is_csv(source) and folder is not None:
            source = os.path.relpath(Path(source).resolve(), folder.resolve())
        return {
            "format": FORMAT,
            "version": VERSION,
            "data": {"source": source, "task": task_of(data), "points": data.points, "noise": data.noise,
                     "test_fraction": data.test_fraction, "seed": data.seed, "columns": list(data.columns),
                     "label": data.label},
            "network": {"features": list(spec.features), "hidden": list(spec.hidden),
                        "activations": list(spec.activations), "init": spec.init},
            "training": {"optimizer": train.optimizer, "learning_rate": train.learning_rate,
                         "momentum": train.momentum, "batch_size": train.batch_size, "l1": train.l1,
                         "l2": train.l2, "seed": train.seed, "steps": self.steps,
                         "snapshot_every": train.snapshot_every,
                         **{key: list(getattr(train, key)) for key in OPTIONAL["training"] if getattr(train, key)}},
        }


# What each section holds: key -> (the type a value must have, its name in a message).
_NUMBER = ((int, float), "a number")
_INTEGER = ((int,), "an integer")
_TEXT = ((str,), "a string")
_TEXTS = ((list,), "a list of strings")
_INTEGERS = ((list,), "a list of integers")
_NUMBERS = ((list,), "a list of numbers")
SCHEMA = {
    "data": {"source": _TEXT, "task": _TEXT, "points": _INTEGER, "noise": _NUMBER, "test_fraction": _NUMBER,
             "seed": _INTEGER, "columns": _TEXTS, "label": _TEXT},
    "network": {"features": _TEXTS, "hidden": _INTEGERS, "activations": _TEXTS, "init": _TEXT},
    "training": {"optimizer": _TEXT, "learning_rate": _NUMBER, "momentum": _NUMBER, "batch_size": _INTEGER,
                 "l1": _NUMBER, "l2": _NUMBER, "seed": _INTEGER, "steps": _INTEGER, "snapshot_every": _INTEGER},
}
# Keys a file holds only when set: each weight layer's own L1 and L2.
OPTIONAL = {"training": {"layer_l1": _NUMBERS, "layer_l2": _NUMBERS}}


def save_setup(path: str | Path, setup: Setup) -> Path:
    """Write the setup file (atomically: a failed write is one line and leaves no half file)."""
    path = Path(path)
    write_text_atomic(path, json_text(setup.to_json(path.parent), indent=1))
    return path


def load_setup(path: str | Path) -> Setup:
    """Read a setup file; any problem is one DeepvisError line naming the file."""
    path = Path(path)
    if path.is_dir():
        raise DeepvisError(f"{path}: a folder, not a setup file")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DeepvisError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise DeepvisError(f"{path}: cannot read it ({error})") from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise DeepvisError(f"{path}: not JSON ({error})") from None
    try:
        return setup_from_json(value, path.parent)
    except DeepvisError as error:
        raise DeepvisError(f"{path}: {error}") from None


def setup_from_json(value, folder: Path | None = None) -> Setup:
    """A Setup from the file's JSON; a CSV's relative path is taken from `folder`."""
    if not isinstance(value, dict) or value.get("format") != FORMAT:
        raise DeepvisError(f"not a deepvis learn setup (no \"format\": \"{FORMAT}\")")
    version = value.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise DeepvisError(f"the setup's version is {version!r}, not a version number")
    if version > VERSION:
        raise DeepvisError(f"a setup of version {version}, newer than this deepvis reads ({VERSION}): "
                           "update deepvis to run it")
    _check_keys(value, {"format", "version", *SCHEMA}, "")
    sections = {}
    for name, keys in SCHEMA.items():
        section = value.get(name)
        if not isinstance(section, dict):
            raise DeepvisError(f"the setup has no \"{name}\" section" if section is None
                               else f"\"{name}\" must be an object")
        optional = OPTIONAL.get(name, {})
        _check_keys(section, set(keys), f"{name}.", set(optional))
        for key, (types, what) in {**keys, **optional}.items():
            if key in section:
                _check_type(section[key], types, what, f"{name}.{key}")
        sections[name] = section
    data, network, training = sections["data"], sections["network"], sections["training"]
    source = data["source"]
    if is_csv(source) and folder is not None and not Path(source).is_absolute():
        source = str(folder / source)
    if len(data["columns"]) != 2:
        raise DeepvisError(f"\"data.columns\" must name two columns, not {len(data['columns'])}")
    return Setup(
        DataSettings(source, data["points"], float(data["noise"]), float(data["test_fraction"]), data["seed"],
                     tuple(data["columns"]), data["label"], data["task"]),
        NetworkSpec(tuple(network["hidden"]), tuple(network["activations"]), network["init"],
                    tuple(network["features"])),
        TrainSettings(training["optimizer"], float(training["learning_rate"]), training["batch_size"],
                      float(training["l1"]), float(training["l2"]), training["seed"], training["snapshot_every"],
                      float(training["momentum"]), tuple(map(float, training.get("layer_l1", ()))),
                      tuple(map(float, training.get("layer_l2", ())))),
        training["steps"])


def _check_keys(section: dict, expected: set[str], prefix: str, optional: set[str] = frozenset()) -> None:
    missing = [key for key in expected if key not in section]
    if missing:
        raise DeepvisError(f"the setup has no \"{prefix}{sorted(missing)[0]}\"")
    unknown = [key for key in section if key not in expected | optional]
    if unknown:
        raise DeepvisError(f"unknown key \"{prefix}{sorted(unknown)[0]}\" in the setup")


def _check_type(value, types: tuple[type, ...], what: str, where: str) -> None:
    def fits(item, kinds) -> bool:
        return isinstance(item, kinds) and not isinstance(item, bool)

    if what.startswith("a list"):
        item_types = (str,) if "string" in what else (int, float) if "number" in what else (int,)
        good = isinstance(value, list) and all(fits(item, item_types) for item in value)
    else:
        good = fits(value, types)
    if not good:
        raise DeepvisError(f"\"{where}\" must be {what}, not {json.dumps(value)}")
