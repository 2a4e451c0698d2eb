"""Tables with named variables: loading (a CSV file or a table scikit-learn ships), checking,
and the encoding an MLP reads (numeric columns standardized, categorical ones one-hot).

Rules, the same everywhere (README, "Tabular"):
- A column is numeric when every value that is not missing parses as a number; otherwise it is
  categorical. `categorical=` forces integer-coded columns to be categorical.
- Missing values ("", NA, N/A, NaN, null, None, ?): a numeric one becomes the median of the
  training rows; a categorical one becomes its own category "(missing)". Rows whose target is
  missing are dropped.
- Numeric columns are standardized with the training rows' mean and standard deviation; a
  categorical column becomes one 0/1 column per category (categories from every row, so a test
  row always encodes) and stays one variable: its columns form one group.
- The task follows the target: text, or at most 20 distinct integers -> classification;
  other numbers -> regression.
- A column with a different whole number in every row reads like an id: it is kept, with a
  warning naming it (the network could only memorize it). A text column with a different value
  in most rows is refused: one-hot, it would be a column per row.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from deepvis import DeepvisError

BUNDLED = ("wine", "breast_cancer", "diabetes", "iris")
MISSING = {"", "na", "n/a", "nan", "null", "none", "?"}
MISSING_CATEGORY = "(missing)"
MAX_CLASSES_FROM_INTEGERS = 20  # more distinct integers than this reads as a quantity, not classes
MIN_ROWS_FOR_ID = 20  # in fewer rows, whole numbers that all differ happen by chance (weights 9..14)
TASKS = ("auto", "classification", "regression")

# scikit-learn names diabetes' blood serum measurements s1..s6; its description says what they are.
DIABETES_NAMES = {"s1": "s1_tc", "s2": "s2_ldl", "s3": "s3_hdl", "s4": "s4_tch", "s5": "s5_ltg", "s6": "s6_glu"}


@dataclass
class Table:
    """A table as read: one array per variable (float with NaN for missing, or object with None),
    and the target as class indices or floats."""

    name: str
    source: dict  # how to read it again: {"data": NAME} or {"csv": PATH, "target": ..., ...}
    variables: list[str]
    values: dict[str, np.ndarray]
    kinds: dict[str, str]  # variable -> "numeric" | "categorical"
    target: str
    task: str  # "classification" | "regression"
    y: np.ndarray  # int64 class indices, or float64
    classes: list[str] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)  # every column but the target, in order, dropped ones too
    id_like: list[str] = field(default_factory=list)  # variables with a different whole number in every row

    def __post_init__(self):
        if not self.columns:
            self.columns = list(self.variables)

    def __len__(self) -> int:
        return len(self.y)

    def row(self, index: int) -> dict:
        """A row's original values by variable (None for missing), with its target."""
        out = {name: _plain(self.values[name][index]) for name in self.variables}
        out[self.target] = self.classes[int(self.y[index])] if self.classes else float(self.y[index])
        return out


def id_warning(table: Table, column: str, remedy: str) -> str:
    """One line about a column that reads like an id, with how to drop it (`remedy`)."""
    return (f"{table.name}: column {column!r} has a different whole number in every row, like an id; "
            f"the network can only memorize it: {remedy}")


def _is_id_like(numbers: np.ndarray) -> bool:
    """Whole numbers, a different one in every row (missing ones aside), over enough rows. (Beyond
    2^53 every float is whole: such numbers are magnitudes, not counts.)"""
    present = numbers[~np.isnan(numbers)]
    return (len(present) >= MIN_ROWS_FOR_ID and float(np.abs(present).max(initial=0)) < 2.0 ** 53
            and bool(np.all(present == np.round(present)))
            and len(np.unique(present)) == len(present))


def _plain(value):
    if value is None:
        return None
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) else float(value)
    return str(value)


# --------------------------------------------------------------------------- loading


def load_table(data: str | None = None, csv_path: str | None = None, target: str | None = None,
               task: str = "auto", categorical: list[str] | None = None,
               drop: list[str] | None = None) -> Table:
    """A bundled table by name, or a CSV file with its target column; checked (DeepvisError)."""
    if task not in TASKS:
        raise DeepvisError(f"--task {task}: use one of {', '.join(TASKS)}")
    if (data is None) == (csv_path is None):
        raise DeepvisError("give a table: --data NAME (" + ", ".join(BUNDLED) + ") or --csv FILE --target COLUMN")
    if data is not None:
        return load_bundled(data, task, categorical or [], drop or [])
    if not target:
        raise DeepvisError(f"{csv_path}: --target COLUMN is needed with --csv")
    return load_csv(csv_path, target, task, categorical or [], drop or [])


def load_bundled(name: str, task: str = "auto", categorical: list[str] | None = None,
                 drop: list[str] | None = None) -> Table:
    """One of the tables scikit-learn ships (no download); `categorical` names columns whose
    numbers are codes, `drop` columns to leave out."""
    if name not in BUNDLED:
        raise DeepvisError(f"--data {name}: no such table (tables: {', '.join(BUNDLED)}; or --csv FILE)")
    from sklearn import datasets

    if name == "diabetes":
        bunch = datasets.load_diabetes(scaled=False)  # original units: age in years, bmi, ...
        names = [DIABETES_NAMES.get(n, n) for n in bunch.feature_names]
        values = {n: bunch.data[:, i].astype(np.float64) for i, n in enumerate(names)}
        # sex is coded 1/2: one variable with two categories, not a quantity
        values["sex"] = np.array([str(int(v)) for v in values["sex"]], dtype=object)
        kinds = {n: "categorical" if n == "sex" else "numeric" for n in names}
        table = Table(name, {"data": name}, names, values, kinds, "progression", "regression",
                      bunch.target.astype(np.float64))
    else:
        bunch = getattr(datasets, f"load_{name}")()
        names = [str(n) for n in bunch.feature_names]
        values = {n: bunch.data[:, i].astype(np.float64) for i, n in enumerate(names)}
        table = Table(name, {"data": name}, names, values, {n: "numeric" for n in names}, "class",
                      "classification", bunch.target.astype(np.int64), [str(c) for c in bunch.target_names])
    if task == "regression" and table.task == "classification":
        raise DeepvisError(f"--data {name}: its target names classes; it cannot be regressed")
    if task == "classification" and table.task == "regression":
        raise DeepvisError(f"--data {name}: its target is a continuous quantity; use --task regression")
    return _choose_columns(table, categorical or [], drop or [])


def _choose_columns(table: Table, categorical: list[str], drop: list[str]) -> Table:
    """A bundled table with columns dropped and number codes made categories, as a CSV's would be."""
    for flag, names in (("--categorical", categorical), ("--drop", drop)):
        for name in names:
            if name not in table.variables:
                raise DeepvisError(f"{flag} {name}: no such column in {table.name} "
                                   f"(columns: {', '.join(table.variables)})")
    for name in categorical:
        if table.kinds[name] == "numeric":
            table.values[name] = np.array([_number_text(v) for v in table.values[name]], dtype=object)
            table.kinds[name] = "categorical"
    table.variables = [n for n in table.variables if n not in drop]
    if not table.variables:
        raise DeepvisError(f"{table.name}: every column is dropped; keep at least one")
    for name in drop:
        del table.values[name], table.kinds[name]
    table.id_like = [n for n in table.variables if table.kinds[n] == "numeric" and _is_id_like(table.values[n])]
    if categorical or drop:
        table.source = {**table.source, "categorical": list(categorical), "drop": list(drop)}
    return table


def _number_text(value: float) -> str | None:
    if math.isnan(value):
        return None
    return str(int(value)) if value == round(value) else repr(float(value))


def read_csv_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a CSV file (comma, semicolon or tab separated)."""
    if path.is_dir():
        raise DeepvisError(f"{path}: a folder, not a CSV file; name the .csv file inside it")
    if not path.is_file():
        raise DeepvisError(f"{path}: no such file")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DeepvisError(f"{path}: not a UTF-8 text file ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise DeepvisError(f"{path}: cannot be read ({exc.strerror})") from None
    if "\x00" in text:
        raise DeepvisError(f"{path}: not a CSV file (it holds binary data)")
    first = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=first.count) if any(c in first for c in ",;\t") else ","
    try:
        lines = [r for r in csv.reader(text.splitlines(), delimiter=delimiter) if any(c.strip() for c in r)]
    except csv.Error as exc:
        raise DeepvisError(f"{path}: cannot be parsed as CSV ({exc})") from None
    if not lines:
        raise DeepvisError(f"{path}: the file is empty")
    header = [h.strip() for h in lines[0]]
    if len(header) < 2:
        raise DeepvisError(f"{path}: the header has one column; a table needs a target and at least one variable")
    if any(not h for h in header):
        raise DeepvisError(f"{path}: column {header.index('') + 1} of the header has no name")
    duplicates = sorted({h for h in header if header.count(h) > 1})
    if duplicates:
        raise DeepvisError(f"{path}: the header names {duplicates[0]!r} twice")
    for number, row in enumerate(lines[1:], start=2):
        if len(row) != len(header):
            raise DeepvisError(f"{path}: data row {number - 1} has {len(row)} fields, the header {len(header)}")
    if len(lines) < 2:
        raise DeepvisError(f"{path}: no data rows under the header")
    return header, [[c.strip() for c in r] for r in lines[1:]]


def _parse_numbers(cells: list[str]) -> np.ndarray | None:
    """Floats (NaN for missing) when every present cell is a number, else None."""
    out = np.empty(len(cells), dtype=np.float64)
    for i, cell in enumerate(cells):
        if cell.lower() in MISSING:
            out[i] = np.nan
            continue
        try:
            out[i] = float(cell)
        except ValueError:
            return None
        if not math.isfinite(out[i]):
            return None
    return out


def _stray_text(cells: list[str]) -> list[int]:
    """The cells that are not numbers in a column that is otherwise numeric (all but one cell, or
    all but 5%): a typo to name, not a column of categories to one-hot encode or call an id."""
    present = [i for i, c in enumerate(cells) if c.lower() not in MISSING]
    stray = [i for i in present if _parse_numbers([cells[i]]) is None]
    if stray and len(present) - len(stray) >= 2 and len(stray) <= max(1, len(present) // 20):
        return stray
    return []


def load_csv(path: str, target: str, task: str = "auto", categorical: list[str] | None = None,
             drop: list[str] | None = None) -> Table:
    """A CSV table: numeric/categorical variables, the target, checked."""
    file = Path(path)
    header, rows = read_csv_rows(file)
    for flag, names in (("--target", [target]), ("--categorical", categorical or []), ("--drop", drop or [])):
        for name in names:
            if name not in header:
                raise DeepvisError(f"{flag} {name}: no such column in {file} (columns: {', '.join(header)})")
    if target in (drop or []):
        raise DeepvisError(f"--drop {target}: that is the target")
    columns = {name: [r[i] for r in rows] for i, name in enumerate(header)}

    # the target: rows without one are dropped
    present = np.array([c.lower() not in MISSING for c in columns[target]])
    if not present.any():
        raise DeepvisError(f"{file}: the target {target!r} is missing in every row")
    keep = np.flatnonzero(present)
    cells = [columns[target][i] for i in keep]
    numbers = _parse_numbers(cells)
    chosen = task
    if task == "auto":
        integers = numbers is not None and np.all(numbers == np.round(numbers))
        few = numbers is not None and len(np.unique(numbers)) <= MAX_CLASSES_FROM_INTEGERS
        chosen = "regression" if numbers is not None and not (integers and few) else "classification"
    if chosen == "regression":
        if numbers is None:
            bad = next(c for c in cells if _parse_numbers([c]) is None)
            raise DeepvisError(f"{file}: the target {target!r} is not numeric ({bad!r}): it cannot be regressed; "
                               "use --task classification")
        y, classes = numbers, []
    else:
        if numbers is not None:
            if not np.all(numbers == np.round(numbers)):
                raise DeepvisError(f"{file}: the target {target!r} holds fractional numbers, not class labels; "
                                   "use --task regression")
            labels = sorted(set(numbers.astype(np.int64).tolist()))
            classes = [str(v) for v in labels]
            y = np.searchsorted(labels, numbers.astype(np.int64)).astype(np.int64)
        else:
            classes = sorted(set(cells))
            y = np.array([classes.index(c) for c in cells], dtype=np.int64)
        if len(classes) < 2:
            raise DeepvisError(f"{file}: the target {target!r} has one class ({classes[0]!r}); nothing to learn")
        if len(classes) > 100:
            raise DeepvisError(f"{file}: the target {target!r} has {len(classes)} classes; use --task regression "
                               "if it is a quantity")

    variables = [h for h in header if h != target and h not in (drop or [])]
    if not variables:
        raise DeepvisError(f"{file}: no variable besides the target {target!r}")
    values, kinds = {}, {}
    for name in variables:
        cells = [columns[name][i] for i in keep]
        numbers = None if name in (categorical or []) else _parse_numbers(cells)
        stray = [] if numbers is not None or name in (categorical or []) else _stray_text(cells)
        if stray:
            more = f" (and {len(stray) - 1} more rows)" if len(stray) > 1 else ""
            raise DeepvisError(f"{file}: column {name!r} is numeric but data row {keep[stray[0]] + 1} (counted "
                               f"under the header) holds {cells[stray[0]]!r}{more}; fix the value, or "
                               f"--categorical {name} if the column names categories")
        if numbers is not None:
            present_values = numbers[~np.isnan(numbers)]
            values[name], kinds[name] = numbers, "numeric"
        else:
            present_values = np.array([c for c in cells if c.lower() not in MISSING], dtype=object)
            values[name] = np.array([None if c.lower() in MISSING else c for c in cells], dtype=object)
            kinds[name] = "categorical"
        if len(present_values) == 0:
            raise DeepvisError(f"{file}: column {name!r} is empty (missing in every row); remove it or --drop {name}")
        some_missing = len(present_values) < len(cells)  # "(missing)" is a category of its own
        if len(set(present_values.tolist())) == 1 and (kinds[name] == "numeric" or not some_missing):
            raise DeepvisError(f"{file}: column {name!r} has the same value in every row "
                               f"({_plain(present_values[0])!r}); remove it or --drop {name}")
        if kinds[name] == "categorical" and len(cells) > 20 and len(set(present_values.tolist())) > 0.5 * len(cells):
            raise DeepvisError(f"{file}: column {name!r} is text with a different value in most rows (an id?); "
                               f"--drop {name}")
    source = {"csv": str(file.resolve()), "target": target, "task": task,
              "categorical": list(categorical or []), "drop": list(drop or [])}
    id_like = [n for n in variables if kinds[n] == "numeric" and _is_id_like(values[n])]
    return Table(file.stem, source, variables, values, kinds, target, chosen, y, classes,
                 [h for h in header if h != target], id_like)


def reload_table(source: dict) -> Table:
    """The table a model was trained on, from the source recorded in its model.json."""
    if "data" in source:
        return load_bundled(source["data"], "auto", source.get("categorical"), source.get("drop"))
    return load_csv(source["csv"], source["target"], source.get("task", "auto"), source.get("categorical"),
                    source.get("drop"))


# --------------------------------------------------------------------------- encoding


@dataclass
class Variable:
    """How one variable becomes columns: standardized (numeric) or one-hot (categorical)."""

    name: str
    kind: str
    mean: float = 0.0
    std: float = 1.0
    fill: float = 0.0  # the training median, for missing numbers
    categories: list[str] = field(default_factory=list)

    @property
    def columns(self) -> list[str]:
        return [self.name] if self.kind == "numeric" else [f"{self.name}={c}" for c in self.categories]

    def encode(self, values: np.ndarray) -> np.ndarray:
        if self.kind == "numeric":
            filled = np.where(np.isnan(values.astype(np.float64)), self.fill, values)
            return ((filled - self.mean) / self.std)[:, None]
        labels = np.array([MISSING_CATEGORY if v is None else str(v) for v in values], dtype=object)
        return (labels[:, None] == np.array(self.categories, dtype=object)[None, :]).astype(np.float64)


@dataclass
class Encoding:
    """Every variable's encoding, in order; its columns and which columns form each variable."""

    variables: list[Variable]

    @property
    def columns(self) -> list[str]:
        return [c for v in self.variables for c in v.columns]

    @property
    def groups(self) -> dict[str, list[int]]:
        out, start = {}, 0
        for v in self.variables:
            out[v.name] = list(range(start, start + len(v.columns)))
            start += len(v.columns)
        return out

    def encode(self, table: Table, rows: np.ndarray | None = None) -> np.ndarray:
        """float32 matrix (rows x columns); a column that overflows is refused, not trained on as NaN."""
        rows = np.arange(len(table)) if rows is None else rows
        with np.errstate(over="ignore", invalid="ignore"):
            x = np.concatenate([v.encode(table.values[v.name][rows]) for v in self.variables], axis=1)
            x = x.astype(np.float32)
        bad = np.flatnonzero(~np.isfinite(x).all(axis=0))
        if len(bad):
            name = next(v.name for v in self.variables if self.columns[bad[0]] in v.columns)
            raise DeepvisError(f"{table.name}: column {name!r} overflows once standardized (a value far outside "
                               f"the training rows' spread); rescale it or --drop {name}")
        return x

    def to_json(self) -> list[dict]:
        return [{"name": v.name, "kind": v.kind, "mean": v.mean, "std": v.std, "fill": v.fill,
                 "categories": v.categories, "columns": v.columns} for v in self.variables]

    @classmethod
    def from_json(cls, items: list[dict]) -> "Encoding":
        return cls([Variable(d["name"], d["kind"], d["mean"], d["std"], d["fill"], list(d["categories"]))
                    for d in items])


def standardization(values: np.ndarray, what: str, remedy: str = "") -> tuple[float, float]:
    """Mean and standard deviation; refused in one line when they overflow (values near 1e300),
    which would scale every value to 0 or NaN."""
    with np.errstate(over="ignore", invalid="ignore"):
        mean, std = float(values.mean()), float(values.std())
    if not (math.isfinite(mean) and math.isfinite(std)):
        raise DeepvisError(f"{what} cannot be standardized: its values are too large (up to "
                           f"{float(np.abs(values).max()):.3g}); rescale it{' or ' + remedy if remedy else ''}")
    return mean, std


def fit_encoding(table: Table, train_rows: np.ndarray) -> Encoding:
    """Medians, means and standard deviations from the training rows; categories from all rows."""
    variables = []
    for name in table.variables:
        values = table.values[name]
        if table.kinds[name] == "numeric":
            train = values[train_rows]
            train = train[~np.isnan(train)]
            fill = float(np.median(train)) if len(train) else float(np.nanmedian(values))
            filled = np.where(np.isnan(values[train_rows]), fill, values[train_rows])
            mean, std = standardization(filled, f"{table.name}: column {name!r}", f"--drop {name}")
            variables.append(Variable(name, "numeric", mean, std if std > 1e-12 else 1.0, fill))
        else:
            categories = sorted({MISSING_CATEGORY if v is None else str(v) for v in values})
            variables.append(Variable(name, "categorical", categories=categories))
    return Encoding(variables)


def split_rows(table: Table, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Train and test row indices: shuffled by the seed, stratified by class for classification."""
    if not 0.0 < test_fraction < 1.0:
        raise DeepvisError(f"--test-fraction {test_fraction}: use a fraction between 0 and 1")
    rng = np.random.default_rng(seed)
    n = len(table)
    if n < 4:
        raise DeepvisError(f"{table.name}: {n} rows are too few to train and test on")
    if table.task == "classification":
        test = []
        for c in range(len(table.classes)):
            members = rng.permutation(np.flatnonzero(table.y == c))
            take = int(round(len(members) * test_fraction)) if len(members) > 1 else 0
            test.extend(members[:take].tolist())
        test = np.array(sorted(test), dtype=np.int64)
    else:
        test = np.sort(rng.permutation(n)[: max(1, int(round(n * test_fraction)))])
    train = np.setdiff1d(np.arange(n), test)
    if len(test) == 0 or len(train) == 0:
        raise DeepvisError(f"{table.name}: {n} rows are too few to train and test on")
    return train, test
