"""Which variables drive each neuron of a layer, for every neuron at once, and which rows excite it.

Attributions go from the input columns to each neuron of the layer, then are summed over a
variable's columns (a one-hot variable counts once). All methods start from one baseline row:
by default a low row (each number at its 5th percentile, no category), so a numeric variable's
attribution says how much the row's amount of it raises (+) or lowers (-) the neuron, and its
average over rows keeps that sign. (From the average row, the usual choice, a roughly linear
neuron's attributions average to about zero over the rows: "mean" is there for per-row use.)
- "ig": integrated gradients (Sundararajan et al. 2017) on the straight path from the baseline,
  midpoint rule with `steps` points. Completeness: a row's attributions to a neuron sum to the
  neuron's value minus its value at the baseline, up to the quadrature error.
- "grad-x-input": the gradient at the row times (row - baseline); exact for a linear neuron.
- "ablation": the neuron's value minus its value with the variable's columns set to the baseline.

Every neuron at once: the whole layer's Jacobian on every path point comes from one pass of
batched matrix products (mean_jacobian), not from one backward pass per neuron.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from deepvis import DeepvisError
from deepvis.tabular.data import Encoding, Table, reload_table
from deepvis.tabular.model import TabularMLP, load_model

METHODS = ("ig", "grad-x-input", "ablation")
LOW_PERCENTILE = 5  # the "low" baseline's value for a number: low, yet not an outlier as the minimum can be
BASELINES = {
    "low": f"every numeric variable at its {LOW_PERCENTILE}th percentile over the training rows, "
           "every categorical variable with no category (its one-hot columns at 0)",
    "mean": "the average training row (standardized numbers at 0, one-hot columns at their frequencies)",
}
DEFAULT_STEPS = 64
CHUNK_ELEMENTS = 8_000_000  # path points x neurons x hidden width held at once; bounds memory on large tables


def output_labels(table: Table) -> list[str]:
    """What each output neuron stands for: its class (its value is the class's logit), or the
    predicted target (its value is the prediction, standardized)."""
    return list(table.classes) if table.classes else [f"predicted {table.target}"]


def neuron_name(layer: str, index: int, labels: list[str] | None = None) -> str:
    """h1[3]; an output neuron with what it stands for: out[1] class_1."""
    name = f"{layer}[{index}]"
    return f"{name} {labels[index]}" if layer == "out" and labels else name


def group_matrix(groups: dict[str, list[int]], n_columns: int) -> torch.Tensor:
    """columns x variables, 1 where a column belongs to a variable: attributions @ M sums groups."""
    matrix = torch.zeros(n_columns, len(groups))
    for g, columns in enumerate(groups.values()):
        matrix[columns, g] = 1.0
    return matrix


# d activation / d pre-activation, for the Jacobians below
SLOPES = {
    "softplus": torch.sigmoid,
    "relu": lambda z: (z > 0).to(z.dtype),
    "tanh": lambda z: 1.0 - torch.tanh(z) ** 2,
}


@torch.no_grad()
def mean_jacobian(model: TabularMLP, layer: int, points: torch.Tensor) -> torch.Tensor:
    """d(every neuron of the layer)/d(input) averaged over each row's points, in one pass: points
    shaped (points per row) x rows x columns give rows x neurons x columns.

    At a point the layer's Jacobian is diag(s_L) W_L ... diag(s_1) W_1, s_l being layer l's
    activation slopes (none for the output layer). It is multiplied from the layer down, so
    each point's product stays neurons x (first hidden width), and W_1 is applied once, after
    the average: no backward pass per neuron, no per-point tensor as wide as the input.
    """
    per_row, rows, columns = points.shape
    slope = SLOPES[model.activation_name]
    pre, h = [], points.reshape(-1, columns)
    for linear, activation in zip(model.linears[: layer + 1], model.activations):
        pre.append(linear(h))
        h = activation(pre[-1])
    top = slope(pre[layer]) if layer < len(model.linears) - 1 else torch.ones_like(pre[layer])
    if layer == 0:
        return top.reshape(per_row, rows, -1).mean(0)[:, :, None] * model.linears[0].weight
    chain = top[:, :, None] * model.linears[layer].weight  # points x neurons x width of layer-1
    for l in range(layer - 1, 0, -1):
        chain = (chain * slope(pre[l])[:, None, :]) @ model.linears[l].weight
    chain = chain * slope(pre[0])[:, None, :]
    return chain.reshape(per_row, rows, *chain.shape[1:]).mean(0) @ model.linears[0].weight


def integrated_gradients(model: TabularMLP, layer: int, x: torch.Tensor, baseline: torch.Tensor,
                         steps: int = DEFAULT_STEPS) -> torch.Tensor:
    """IG from the baseline to each row, to every neuron of the layer: rows x neurons x columns."""
    if steps < 1:
        raise DeepvisError(f"--steps {steps}: use at least one step")
    alphas = (torch.arange(steps, dtype=x.dtype) + 0.5) / steps  # midpoints of `steps` equal intervals
    delta = x - baseline
    widest = max(model.sizes[1: layer + 2])
    rows_per_chunk = max(1, CHUNK_ELEMENTS // (steps * widest * widest))
    parts = []
    for start in range(0, len(x), rows_per_chunk):
        d = delta[start:start + rows_per_chunk]
        path = baseline + alphas[:, None, None] * d[None]  # steps x rows x columns
        parts.append(mean_jacobian(model, layer, path) * d[:, None, :])
    return torch.cat(parts)


def integrated_gradients_one_neuron(model: TabularMLP, layer: int, x: torch.Tensor, baseline: torch.Tensor,
                                    neuron: int, steps: int = DEFAULT_STEPS) -> torch.Tensor:
    """The same numbers for one neuron (rows x columns), by one backward pass: the per-neuron way,
    as Captum's neuron methods do it, kept to check and time the batched one."""
    alphas = (torch.arange(steps, dtype=x.dtype) + 0.5) / steps
    delta = x - baseline
    path = (baseline + alphas[:, None, None] * delta[None]).reshape(-1, x.shape[1]).requires_grad_(True)
    value = model(path, upto=layer)[:, neuron].sum()
    (grad,) = torch.autograd.grad(value, path)
    return grad.reshape(steps, len(x), x.shape[1]).mean(0) * delta


@torch.no_grad()
def gradient_times_input(model: TabularMLP, layer: int, x: torch.Tensor, baseline: torch.Tensor) -> torch.Tensor:
    return mean_jacobian(model, layer, x[None]) * (x - baseline)[:, None, :]


@torch.no_grad()
def ablation(model: TabularMLP, layer: int, x: torch.Tensor, baseline: torch.Tensor,
             groups: dict[str, list[int]]) -> torch.Tensor:
    """rows x neurons x variables: the drop when each variable is set to the baseline, one forward."""
    variants = x[None].repeat(len(groups), 1, 1)  # variables x rows x columns
    for g, columns in enumerate(groups.values()):
        variants[g][:, columns] = baseline[columns]
    full = model(x, upto=layer)
    ablated = model(variants.reshape(-1, x.shape[1]), upto=layer).reshape(len(groups), len(x), -1)
    return (full[None] - ablated).permute(1, 2, 0)


@dataclass
class LayerAttribution:
    """Per-row attributions of every neuron of one layer, grouped by variable."""

    layer: str
    method: str
    steps: int
    variables: list[str]
    per_row: np.ndarray  # rows x neurons x variables
    values: np.ndarray  # rows x neurons: the neurons' values
    baseline_values: np.ndarray  # neurons: their values at the baseline

    @property
    def mean(self) -> np.ndarray:
        """neurons x variables: the signed attribution averaged over the rows."""
        return self.per_row.mean(0)

    @property
    def mean_abs(self) -> np.ndarray:
        return np.abs(self.per_row).mean(0)

    def completeness_error(self) -> float:
        """The largest |sum of a row's attributions - (value - baseline value)| over rows and neurons,
        relative to |value - baseline value|; where a neuron barely moves for a row (less than 1% of
        its mean change over the rows), relative to that 1% instead of to almost nothing."""
        change = self.values - self.baseline_values[None]
        gap = np.abs(self.per_row.sum(-1) - change)
        floor = np.maximum(0.01 * np.abs(change).mean(0, keepdims=True), 1e-6)
        return float((gap / np.maximum(np.abs(change), floor)).max(initial=0.0))


def attribute_layer(model: TabularMLP, layer: str | int | None, x: torch.Tensor, baseline: torch.Tensor,
                    groups: dict[str, list[int]], method: str = "ig", steps: int = DEFAULT_STEPS) -> LayerAttribution:
    """Every neuron of the layer, every row of x: attributions summed over each variable's columns."""
    if method not in METHODS:
        raise DeepvisError(f"--method {method}: use one of {', '.join(METHODS)}")
    index = model.layer_index(layer)
    model.eval().requires_grad_(False)
    x, baseline = x.float(), baseline.float()
    if method == "ablation":
        grouped = ablation(model, index, x, baseline, groups)
    else:
        columns = (integrated_gradients(model, index, x, baseline, steps) if method == "ig"
                   else gradient_times_input(model, index, x, baseline))
        grouped = columns @ group_matrix(groups, x.shape[1])
    with torch.no_grad():
        values = model(x, upto=index)
        base = model(baseline[None], upto=index)[0]
    return LayerAttribution(model.layer_names[index], method, steps if method == "ig" else 0, list(groups),
                            grouped.numpy(), values.numpy(), base.numpy())


@torch.no_grad()
def top_rows(model: TabularMLP, layer: str | int | None, x: torch.Tensor, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """For every neuron, the k rows of x with the highest value: (neurons x k indices, their values)."""
    values = model.eval()(x.float(), upto=model.layer_index(layer))
    top = values.topk(min(k, len(x)), dim=0)
    return top.indices.T.numpy(), top.values.T.numpy()


def neuron_influence(model: TabularMLP, layer: str | int | None, values: np.ndarray) -> np.ndarray:
    """How much each neuron moves what follows it, to rank neurons: the standard deviation of its
    values over the rows times the length of its outgoing weights (1 for the output layer)."""
    index = model.layer_index(layer)
    spread = values.std(0)
    if index + 1 < len(model.linears):
        spread = spread * model.linears[index + 1].weight.detach().norm(dim=0).numpy()
    return spread


# --------------------------------------------------------------------------- a trained model and its table


@dataclass
class TrainedTable:
    """A network with the table it learned, encoded, and its split: what explanations need."""

    model: TabularMLP
    table: Table
    encoding: Encoding
    train_rows: np.ndarray
    test_rows: np.ndarray
    target_scaling: tuple[float, float] = (0.0, 1.0)  # (mean, std) of a regression target

    def __post_init__(self):
        self.model.eval().requires_grad_(False)
        self.x = torch.from_numpy(self.encoding.encode(self.table))
        self._test_set = set(self.test_rows.tolist())

    @property
    def groups(self) -> dict[str, list[int]]:
        return self.encoding.groups

    def baseline(self, kind: str = "low") -> torch.Tensor:
        """The row attributions start from (see BASELINES)."""
        train = self.x[torch.from_numpy(self.train_rows)]
        if kind == "low":
            low = torch.quantile(train, LOW_PERCENTILE / 100, dim=0)
            for variable, columns in zip(self.encoding.variables, self.groups.values()):
                if variable.kind == "categorical":
                    low[columns] = 0.0
            return low
        if kind == "mean":
            return train.mean(0)
        raise DeepvisError(f"--baseline {kind}: use one of {', '.join(BASELINES)}")

    def split_of(self, row: int) -> str:
        return "test" if row in self._test_set else "train"

    @torch.no_grad()
    def predictions(self) -> list:
        """Every row's prediction in the target's terms: a class name, or a value in its units."""
        output = self.model(self.x)
        if self.table.task == "regression":
            mean, std = self.target_scaling
            return (output[:, 0] * std + mean).tolist()
        return [self.table.classes[i] for i in output.argmax(1).tolist()]

    @torch.no_grad()
    def all_values(self) -> list[np.ndarray]:
        """Every layer's values for every row (rows x neurons each)."""
        return [v.numpy() for v in self.model.all_layers(self.x)]


def read_test_rows(folder, meta: dict, rows: int, name: str) -> np.ndarray:
    """model.json's split.test_rows, each a row of the table: an edited or foreign file is one line,
    not explanations of the wrong rows (a negative index counts from the end in numpy)."""
    where = f"{folder}: model.json's split.test_rows"
    split = meta.get("split")
    listed = split.get("test_rows") if isinstance(split, dict) else None
    if not isinstance(listed, list) or not listed:
        raise DeepvisError(f"{where} is missing or empty")
    bad = next((r for r in listed if isinstance(r, bool) or not isinstance(r, int) or not 0 <= r < rows), None)
    if bad is not None:
        raise DeepvisError(f"{where} holds {bad!r}, not a row of {name} (0..{rows - 1}; did the file change?)")
    return np.array(listed, dtype=np.int64)


def open_trained(folder) -> TrainedTable:
    """A model folder written by `deepvis tabular train`, with its table read again."""
    model, meta, encoding = load_model(folder)
    table = reload_table(meta["source"])
    if encoding.columns != meta["columns"] or model.sizes[0] != len(encoding.columns):
        raise DeepvisError(f"{folder}: model.json's columns do not match its network")
    test = read_test_rows(folder, meta, len(table), table.name)
    train = np.setdiff1d(np.arange(len(table)), test)
    encoded = encoding.encode(table)
    if encoded.shape[1] != model.sizes[0]:
        raise DeepvisError(f"{folder}: the table now encodes to {encoded.shape[1]} columns, the network reads "
                           f"{model.sizes[0]} (did the file change?)")
    scaling = meta.get("target_scaling", {})
    return TrainedTable(model, table, encoding, train, test, (scaling.get("mean", 0.0), scaling.get("std", 1.0)))


def explain_layer(trained: TrainedTable, layer: str | int | None = None, method: str = "ig",
                  steps: int = DEFAULT_STEPS, k: int = 5, baseline: str = "low") -> dict:
    """What neurons.json holds: every neuron's variable attributions (mean over the test rows,
    signed) and its top-k rows over the whole table, with their original values."""
    model, table = trained.model, trained.table
    if k < 1:
        raise DeepvisError(f"--top-k {k}: use at least 1")
    test = torch.from_numpy(trained.test_rows)
    attribution = attribute_layer(model, layer, trained.x[test], trained.baseline(baseline), trained.groups,
                                  method, steps)
    influence = neuron_influence(model, layer, attribution.values)
    order = np.argsort(-influence, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    top_index, top_value = top_rows(model, layer, trained.x, k)
    predicted = trained.predictions()
    mean, mean_abs = attribution.mean, attribution.mean_abs
    output = attribution.layer == "out"
    labels = output_labels(table) if output else None
    neurons = []
    for j in range(mean.shape[0]):
        rows = [{"row": int(r), "split": trained.split_of(int(r)), "value": float(v),
                 "values": table.row(int(r)), "predicted": predicted[int(r)]}
                for r, v in zip(top_index[j], top_value[j])]
        neurons.append({
            "index": j,
            "attributions": {name: float(mean[j, g]) for g, name in enumerate(attribution.variables)},
            "mean_abs_attributions": {name: float(mean_abs[j, g]) for g, name in enumerate(attribution.variables)},
            "value_mean": float(attribution.values[:, j].mean()),
            "baseline_value": float(attribution.baseline_values[j]),
            "influence": float(influence[j]),
            "rank": int(rank[j]) + 1,  # 1: the most influential neuron of the layer
            "top_rows": rows,
            **({"label": labels[j]} if output else {}),
        })
    out = {
        "format": "deepvis-tabular-neurons/1",
        "table": table.name, "task": table.task, "target": table.target,
        "layer": attribution.layer, "layers": model.layer_names, "sizes": model.sizes,
        "activation": model.activation_name, "method": method, "steps": attribution.steps,
        "baseline": baseline, "baseline_meaning": BASELINES[baseline],
        "rows_averaged": len(test), "top_k": int(top_index.shape[1]),
        "variables": attribution.variables,
        "most_important": order.tolist(),
        "neurons": neurons,
    }
    if output:
        out["output_value"] = "logit" if table.task == "classification" else "standardized prediction"
    if method == "ig":
        out["completeness_error"] = attribution.completeness_error()
    return out


@dataclass
class LayerSummary:
    """One layer as the Tabular mode shows it: every row's attributions and values, the test
    mean, each neuron's rank and its top rows (numpy only: it crosses to the GUI thread)."""

    name: str
    variables: list[str]
    per_row: np.ndarray  # rows x neurons x variables, every row of the table
    mean: np.ndarray  # neurons x variables, the signed mean over the test rows
    mean_abs: np.ndarray  # neurons x variables, the mean |attribution|: effects of both signs do not cancel
    values: np.ndarray  # rows x neurons
    baseline_values: np.ndarray  # neurons
    influence: np.ndarray  # neurons
    top_rows: np.ndarray  # neurons x k row indices, highest value first
    completeness_error: float | None


def summarize_layers(trained: TrainedTable, method: str = "ig", steps: int = DEFAULT_STEPS, k: int = 9,
                     baseline: str = "low") -> list[LayerSummary]:
    """Every layer, every row: what the Tabular mode draws, computed once after training."""
    out = []
    test = trained.test_rows
    for index, name in enumerate(trained.model.layer_names):
        result = attribute_layer(trained.model, index, trained.x, trained.baseline(baseline), trained.groups,
                                 method, steps)
        test_values = result.values[test]
        top, _ = top_rows(trained.model, index, trained.x, k)
        complete = None
        if method == "ig":
            complete = LayerAttribution(name, method, steps, result.variables, result.per_row[test], test_values,
                                        result.baseline_values).completeness_error()
        test_rows = result.per_row[test]
        out.append(LayerSummary(name, result.variables, result.per_row, test_rows.mean(0),
                                np.abs(test_rows).mean(0), result.values,
                                result.baseline_values, neuron_influence(trained.model, index, test_values), top,
                                complete))
    return out
