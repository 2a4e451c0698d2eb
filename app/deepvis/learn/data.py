"""Data in the square [-1, 1]^2: five two-class generators, two regression ones (as in
TensorFlow Playground) and the user's own CSV.

Labels are 0/1 for classification; regression targets are continuous, in [-1, 1]. Generated
sets are deterministic for a seed; `noise` is the standard deviation of Gaussian jitter added
to every point after its label (or target) is chosen, so noise makes the classes overlap. A
CSV's two columns are rescaled to [-1, 1] each, and so is a regression target.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deepvis import DeepvisError

DATASETS = ("quadrants", "xor", "circle", "gauss", "spiral")  # two classes
REGRESSION_SETS = ("plane", "multigauss")
TASKS = ("classification", "regression")


@dataclass(frozen=True)
class DataSettings:
    """Which points to make: a generator's name or a CSV path, and how to split them."""

    source: str = "quadrants"
    points: int = 400
    noise: float = 0.0
    test_fraction: float = 0.3
    seed: int = 0
    columns: tuple[str, str] = ("x1", "x2")  # CSV only
    label: str = "label"  # CSV only
    task: str | None = None  # None: the generated set's own; a CSV's label is 0/1 unless "regression"


@dataclass(frozen=True)
class Dataset:
    """Points (N, 2) float32 in [-1, 1]^2 and labels (N,) float32 in {0, 1} (regression: targets
    in [-1, 1]), split in two."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    task: str = "classification"
    target_range: tuple[float, float] | None = None  # a CSV's target before rescaling to [-1, 1]

    @property
    def regression(self) -> bool:
        return self.task == "regression"

    @property
    def sizes(self) -> str:
        return f"{len(self.y_train)} train / {len(self.y_test)} test"


def is_csv(source: str) -> bool:
    return source.lower().endswith(".csv")


def task_of(settings: DataSettings) -> str:
    """The task the settings ask for; a generated set's own, which a contrary `task` cannot change."""
    if settings.task is not None and settings.task not in TASKS:
        raise DeepvisError(f"unknown task {settings.task!r} (choose {', '.join(TASKS)})")
    if is_csv(settings.source):
        return settings.task or "classification"
    own = "regression" if settings.source in REGRESSION_SETS else "classification"
    if settings.task not in (None, own):
        others = REGRESSION_SETS if own == "classification" else DATASETS
        raise DeepvisError(f"{settings.source} is a {own} set; for {settings.task} choose "
                           f"{', '.join(others)} or a CSV file")
    return own


def make_dataset(settings: DataSettings) -> Dataset:
    task = task_of(settings)
    target_range = None
    if not 0.0 <= settings.noise <= 1.0:
        raise DeepvisError(f"noise must be between 0 and 1, not {settings.noise}")
    if not 0.0 < settings.test_fraction < 1.0:
        raise DeepvisError(f"the test fraction must be between 0 and 1 (exclusive), not {settings.test_fraction}")
    rng = np.random.default_rng(settings.seed)
    if is_csv(settings.source):
        x, y = load_csv(Path(settings.source), settings.columns, settings.label, task)
        if task == "regression":
            y, target_range = rescale_target(y)
        name = Path(settings.source).name
        if settings.noise:
            x = x + rng.normal(0.0, settings.noise, x.shape)
    else:
        if settings.points < 8:
            raise DeepvisError(f"at least 8 points are needed, not {settings.points}")
        x, y = generate(settings.source, settings.points, settings.noise, rng)
        name = settings.source
    x = np.clip(x, -1.0, 1.0).astype(np.float32)
    y = y.astype(np.float32)
    train, test = split_indices(y, settings.test_fraction, rng, task == "classification")
    return Dataset(name, x[train], y[train], x[test], y[test], task, target_range)


def generate(name: str, n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """n points of a named set, jittered by Gaussian noise of standard deviation `noise`."""
    if name not in GENERATORS and Path(name).is_dir():  # a folder without .csv in its name: not a set's name
        raise DeepvisError(f"{name}: a folder, not a CSV file; name the .csv file inside it")
    if name not in GENERATORS:
        raise DeepvisError(f"unknown data set {name!r} (choose {', '.join(DATASETS + REGRESSION_SETS)}, "
                           "or give a .csv file)")
    x, y = GENERATORS[name](n, rng)
    if noise:
        x = x + rng.normal(0.0, noise, x.shape)
    return x, y


def _quadrants(n, rng):
    # |x_i| = sqrt(u) has density 2|x_i|: few points near the axes, fewer still near the centre.
    x = np.sqrt(rng.uniform(0, 1, (n, 2))) * rng.choice([-1.0, 1.0], (n, 2))
    return x, (np.sign(x[:, 0]) == np.sign(x[:, 1])).astype(np.float64)


def _xor(n, rng):
    # Uniform, pushed 0.06 away from the axes (TensorFlow Playground's padding); 1 where the signs differ.
    x = rng.uniform(-0.94, 0.94, (n, 2))
    x += 0.06 * np.where(x >= 0, 1.0, -1.0)
    return x, (np.sign(x[:, 0]) != np.sign(x[:, 1])).astype(np.float64)


def _circle(n, rng):
    # A disc of class 1 inside a ring of class 0, uniform over each area.
    inner = rng.uniform(0, 1, n) < 0.5
    r = np.where(inner, 0.45 * np.sqrt(rng.uniform(0, 1, n)),
                 np.sqrt(rng.uniform(0.6 ** 2, 0.95 ** 2, n)))
    angle = rng.uniform(0, 2 * math.pi, n)
    return np.stack([r * np.cos(angle), r * np.sin(angle)], 1), inner.astype(np.float64)


def _gauss(n, rng):
    y = (rng.uniform(0, 1, n) < 0.5).astype(np.float64)
    centre = np.where(y[:, None] > 0, 0.45, -0.45)
    return centre + rng.normal(0, 0.22, (n, 2)), y


def _spiral(n, rng):
    # Two arms of 1.75 turns each, half a turn apart.
    y = (np.arange(n) % 2).astype(np.float64)
    t = rng.uniform(0.02, 1.0, n)
    angle = 1.75 * 2 * math.pi * t + math.pi * y
    r = 0.95 * t
    return np.stack([r * np.cos(angle), r * np.sin(angle)], 1), y


def _plane(n, rng):
    # A tilted plane: the target rises from -1 at (-1, -1) to 1 at (1, 1).
    x = rng.uniform(-1, 1, (n, 2))
    return x, (x[:, 0] + x[:, 1]) / 2


def _multigauss(n, rng):
    # A sum of six Gaussian bumps on a 3 x 2 grid, signs alternating like a chessboard's squares.
    x = rng.uniform(-1, 1, (n, 2))
    target = np.zeros(n)
    for i, cx in enumerate((-0.65, 0.0, 0.65)):
        for j, cy in enumerate((-0.42, 0.42)):
            sign = 1.0 if (i + j) % 2 == 0 else -1.0
            target += sign * np.exp(-((x[:, 0] - cx) ** 2 + (x[:, 1] - cy) ** 2) / (2 * 0.2 ** 2))
    return x, target


GENERATORS = {"quadrants": _quadrants, "xor": _xor, "circle": _circle, "gauss": _gauss, "spiral": _spiral,
              "plane": _plane, "multigauss": _multigauss}


def split_indices(y: np.ndarray, test_fraction: float, rng: np.random.Generator,
                  two_classes: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """A random train/test split (indices), which keeps both classes in the training set."""
    order = rng.permutation(len(y))
    n_test = min(max(1, int(round(len(y) * test_fraction))), len(y) - 2)
    test, train = order[:n_test], order[n_test:]
    if two_classes and len(np.unique(y[train])) < 2:  # tiny sets: move one point of the missing class over
        missing = np.flatnonzero(y[test] != y[train[0]])[0]
        train, test = np.append(train, test[missing]), np.delete(test, missing)
    return train, test


def split(name: str, x: np.ndarray, y: np.ndarray, test_fraction: float, rng: np.random.Generator) -> Dataset:
    """A random train/test split of two-class data that keeps both classes in the training set."""
    train, test = split_indices(y, test_fraction, rng)
    return Dataset(name, x[train], y[train], x[test], y[test])


def to_unit_range(values: np.ndarray) -> np.ndarray:
    """Each column (or a 1-D array) rescaled to [-1, 1]; a constant one sits at 0."""
    low, high = values.min(0), values.max(0)
    span = np.where(high > low, high - low, 1.0)
    return np.where(high > low, (values - low) / span * 2 - 1, 0.0)


def rescale_target(y: np.ndarray) -> tuple[np.ndarray, tuple[float, float]]:
    """A regression target to [-1, 1], and its range before."""
    return to_unit_range(y), (float(y.min()), float(y.max()))


# --------------------------------------------------------------------------- CSV


def load_csv(path: Path, columns: tuple[str, str], label: str,
             task: str = "classification") -> tuple[np.ndarray, np.ndarray]:
    """Two numeric columns and a 0/1 label column (any number for regression) by name; any
    problem is one DeepvisError line."""
    if path.is_dir():
        raise DeepvisError(f"{path}: a folder, not a CSV file; name the .csv file inside it")
    if not path.is_file():
        raise DeepvisError(f"{path}: no such file")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise DeepvisError(f"{path}: cannot read it ({error})") from None
    if not text.strip():
        raise DeepvisError(f"{path} is empty")
    try:
        dialect = csv.Sniffer().sniff(text.splitlines()[0], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    rows = csv.reader(text.splitlines(), dialect)
    header = [name.strip() for name in next(rows)]
    wanted = (*columns, label)
    for name in wanted:
        if name not in header:
            raise DeepvisError(f"{path} has no column {name!r} (its columns: {', '.join(header)})")
    where = [header.index(name) for name in wanted]
    values = []
    for line, row in enumerate(rows, start=2):
        if not any(cell.strip() for cell in row):
            continue  # blank lines, e.g. at the end
        record = []
        for name, index in zip(wanted, where):
            cell = row[index].strip() if index < len(row) else ""
            try:
                value = float(cell)
            except ValueError:
                raise DeepvisError(f"{path} line {line}: column {name!r} is {cell!r}, not a number") from None
            if not math.isfinite(value):
                raise DeepvisError(f"{path} line {line}: column {name!r} is {cell!r}, not a finite number")
            record.append(value)
        if task == "classification" and record[2] not in (0.0, 1.0):
            raise DeepvisError(f"{path} line {line}: label {label!r} is {row[where[2]].strip()!r}, not 0 or 1 "
                               "(a continuous target: --task regression)")
        values.append(record)
    if not values:
        raise DeepvisError(f"{path} has a header but no rows")
    data = np.asarray(values)
    x, y = data[:, :2], data[:, 2]
    if task == "classification" and len(np.unique(y)) < 2:
        raise DeepvisError(f"{path} has only one class (every {label!r} is {y[0]:g}): both 0 and 1 are needed")
    if len(y) < 4:
        raise DeepvisError(f"{path} has {len(y)} rows: at least 4 are needed to train and test")
    return to_unit_range(x), y
