"""`deepvis learn --export-code FILE.py`: a short standalone PyTorch script of a run.

The script needs torch and numpy alone. It rebuilds the data with deepvis's own generator and
split (their source is copied in, so they cannot drift apart), computes the input features,
builds the network as torch.nn layers initialized from the same seed in the same order, and
trains with the same optimizer written out in a few lines. Full-batch training keeps deepvis's
guard (a step that raised the objective is undone, the momentum dropped, the rate halved), and
so does the undo at each snapshot: without them SGD at a high rate can end elsewhere (a run on
the quadrants ended 2.5 points lower). The script prints its final losses and accuracies;
what differs from deepvis's run is autograd's rounding against the hand-written backward pass.
"""

from __future__ import annotations

import inspect
import json
import os
import textwrap
from pathlib import Path

from deepvis.files import write_text_atomic
from deepvis.learn import data as data_module
from deepvis.learn import features as features_module
from deepvis.learn.data import is_csv, task_of
from deepvis.learn.setup import Setup

_INITS = {
    "he": """
        layer.weight.copy_(torch.randn(fan_out, fan_in, generator=generator) * (2.0 / fan_in) ** 0.5)
        layer.bias.zero_()""",
    "xavier": """
        bound = (6.0 / (fan_in + fan_out)) ** 0.5
        layer.weight.copy_((torch.rand(fan_out, fan_in, generator=generator) * 2 - 1) * bound)
        layer.bias.zero_()""",
    "normal": """
        layer.weight.copy_(torch.randn(fan_out, fan_in, generator=generator))
        layer.bias.copy_(torch.randn(fan_out, generator=generator))""",
}

_SGD = '''
def make_optimizer_state(params):
    return [torch.zeros_like(p) for p in params]  # the velocity


def update(params, velocity, rate, step):
    """SGD with heavy-ball momentum: v <- momentum * v - rate * g; w <- w + v."""
    for p, v in zip(params, velocity):
        v.mul_(MOMENTUM).sub_(p.grad * rate)
        p.add_(v)
'''

_ADAM = '''
BETA1, BETA2 = 0.9, 0.999


def make_optimizer_state(params):
    return [(torch.zeros_like(p), torch.zeros_like(p)) for p in params]  # the moments


def update(params, moments, rate, step):
    """Adam (Kingma & Ba), bias-corrected, epsilon 1e-8."""
    for p, (m, v) in zip(params, moments):
        m.mul_(BETA1).add_(p.grad, alpha=1 - BETA1)
        v.mul_(BETA2).addcmul_(p.grad, p.grad, value=1 - BETA2)
        denominator = v.sqrt().div_(math.sqrt(1 - BETA2 ** step)).add_(1e-8)
        p.sub_(m / denominator * (rate / (1 - BETA1 ** step)))
'''

_FULL_BATCH = '''
def train(network, x, y):
    """Full-batch steps, guarded: a step that raised the objective is undone (with the momentum)
    and the rate halved; the rate grows back 1% per accepted step up to the one set."""
    params = list(network.parameters())
    state = make_optimizer_state(params)
    kept, kept_objective, rate = [p.detach().clone() for p in params], math.inf, LEARNING_RATE

    def undo():
        nonlocal rate
        for p, k in zip(params, kept):
            p.copy_(k)
        rate /= 2
        if OPTIMIZER == "sgd":
            for v in state:
                v.zero_()

    for step in range(1, STEPS + 1):
        network.zero_grad()
        objective = objective_of(network, x, y)
        objective.backward()
        with torch.no_grad():
            if objective.item() <= kept_objective:  # the last step lowered it: keep that point
                kept, kept_objective = [p.detach().clone() for p in params], objective.item()
                rate = min(rate * 1.01, LEARNING_RATE)
                update(params, state, rate, step)
            else:  # undo it; this step's gradient is the rejected point's: it moves nothing
                undo()
                update(params, state, 0.0, step)
            # deepvis measures every SNAPSHOT_EVERY steps, first undoing a step that raised the objective
            measured = step % SNAPSHOT_EVERY == 0 or step == STEPS
            if measured and objective_of(network, x, y).item() > kept_objective:
                undo()
'''

_MINIBATCH = '''
def minibatches(n):
    """Index batches: a new permutation each epoch from its own seeded generator, the tail dropped."""
    generator = torch.Generator().manual_seed(SEED + 1)
    while True:
        order = torch.randperm(n, generator=generator)
        for start in range(0, n - BATCH_SIZE + 1, BATCH_SIZE):
            yield order[start:start + BATCH_SIZE]


def train(network, x, y):
    """Minibatch steps at the set rate."""
    params = list(network.parameters())
    state = make_optimizer_state(params)
    batches = minibatches(len(y))
    for step in range(1, STEPS + 1):
        index = next(batches)
        network.zero_grad()
        objective_of(network, x[index], y[index]).backward()
        with torch.no_grad():
            update(params, state, LEARNING_RATE, step)
'''

_READ_CSV = '''
def read_points():
    """The CSV's two columns and its target, each rescaled to [-1, 1] (a 0/1 label kept)."""
    lines = (Path(__file__).parent / CSV_FILE).read_text(encoding="utf-8-sig").splitlines()
    try:
        dialect = csv.Sniffer().sniff(lines[0], delimiters=",;\\t")
    except csv.Error:
        dialect = csv.excel
    rows = csv.reader(lines, dialect)
    header = [name.strip() for name in next(rows)]
    where = [header.index(name) for name in (*COLUMNS, LABEL)]
    values = np.array([[float(row[i]) for i in where] for row in rows if any(cell.strip() for cell in row)])
    x, y = to_unit_range(values[:, :2]), values[:, 2]
    return x, to_unit_range(y) if TASK == "regression" else y
'''


def _source(function, name: str | None = None) -> str:
    """A function's own source, renamed when `name` is given."""
    text = textwrap.dedent(inspect.getsource(function))
    return text.replace(f"def {function.__name__}(", f"def {name}(", 1) if name else text


def _heading(title: str) -> str:
    return f"# {'-' * (96 - len(title))} {title}"


def _literal(value) -> str:
    """A constant as Python source: strings and lists of them in double quotes."""
    return json.dumps(value) if isinstance(value, (str, list, tuple)) else repr(value)


def script_text(setup: Setup, folder: Path | None = None, filename: str = "run.py") -> str:
    """The script for `setup`; a CSV's path is written relative to `folder` (the script's)."""
    data, spec, train = setup.data, setup.spec, setup.train
    task = task_of(data)
    spec = spec.for_task(task)
    regression = task == "regression"
    csv_file = None
    if is_csv(data.source):
        csv_file = os.path.relpath(Path(data.source).resolve(), (folder or Path.cwd()).resolve())
    name = Path(data.source).name
    per_layer = train.penalties(len(spec.hidden) + 1) if train.layer_l1 or train.layer_l2 else None
    constants = [
        f"TASK = {_literal(task)}",
        *([f"CSV_FILE = {_literal(csv_file)}  # relative to this script", f"COLUMNS = {_literal(data.columns)}",
           f"LABEL = {_literal(data.label)}"] if csv_file else
          [f"DATA = {_literal(data.source)}", f"POINTS = {data.points}"]),
        f"NOISE = {data.noise!r}",
        f"TEST_FRACTION = {data.test_fraction!r}",
        f"DATA_SEED = {data.seed}",
        f"FEATURES = {_literal(spec.features)}",
        f"HIDDEN = {list(spec.hidden)!r}",
        f"ACTIVATIONS = {_literal(spec.layer_activations)}  # one per hidden layer",
        f"OPTIMIZER = {_literal(train.optimizer)}",
        f"LEARNING_RATE = {train.learning_rate!r}",
        *([f"MOMENTUM = {train.momentum!r}"] if train.optimizer == "sgd" else []),
        f"BATCH_SIZE = {train.batch_size}  # 0: every training point in every step",
        (f"L1, L2 = {train.l1!r}, {train.l2!r}  # weight penalties (not on biases)" if not per_layer else
         f"L1, L2 = {_literal(per_layer[0])}, {_literal(per_layer[1])}  # per weight layer (not biases)"),
        f"SEED = {train.seed}  # the init's; the minibatch order's is SEED + 1",
        f"STEPS = {setup.steps}",
        f"SNAPSHOT_EVERY = {train.snapshot_every}",
    ]
    if csv_file:
        points = _READ_CSV.strip() + "\n\n\n" + _source(data_module.to_unit_range)
        make_points = "read_points()"
    else:
        points = _source(data_module.GENERATORS[data.source], "generate_points")
        make_points = "generate_points(POINTS, rng)"
    full_batch = not 0 < train.batch_size < _train_points(setup)
    loss = "F.mse_loss(network(x), y)" if regression else "F.binary_cross_entropy_with_logits(network(x), y)"
    measures = ("train_loss, test_loss" if regression else
                "train_loss, test_loss, train_accuracy, test_accuracy")
    report = ('f"step {STEPS}: train loss (MSE) {train_loss:.6f}, test loss (MSE) {test_loss:.6f}"'
              if regression else
              'f"step {STEPS}: train loss {train_loss:.6f}, test loss {test_loss:.6f}, "\n'
              '          f"train accuracy {train_accuracy:.2%}, test accuracy {test_accuracy:.2%}"')
    accuracy = "" if regression else '''


def accuracy_of(network, x, y):
    return ((network(x) > 0) == (y > 0.5)).float().mean().item()
'''
    penalties = ("L2 * sum(w.square().sum() for w in weights)\n            + L1 * sum(w.abs().sum() for w in weights)"
                 if not per_layer else
                 "sum(l2 * w.square().sum() for l2, w in zip(L2, weights))\n"
                 "            + sum(l1 * w.abs().sum() for l1, w in zip(L1, weights))")
    measure_accuracy = "" if regression else (
        "\n        train_accuracy, test_accuracy = accuracy_of(network, x_train, y_train), "
        "accuracy_of(network, x_test, y_test)")
    sections = [
        f'''"""{spec.describe()} on {name}, exported by `deepvis learn --export-code`.

The same data, network and training as deepvis's run, in plain PyTorch (torch and numpy only).
`python {filename}` prints the final {measures.replace("_", " ")}.
"""

{"import csv" + chr(10) if csv_file else ""}import math
{"from pathlib import Path" + chr(10) if csv_file else ""}
import numpy as np
import torch
import torch.nn.functional as F

torch.set_num_threads(1)  # tensors of a few hundred numbers: a thread team costs more than it saves

''' + "\n".join(constants),
        _heading("the data: deepvis's generator and split"),
        points,
        _source(data_module.split_indices),
        f'''def make_data():
    """Train and test points as deepvis keeps them (float32 in [-1, 1]^2) and their labels."""
    rng = np.random.default_rng(DATA_SEED)
    x, y = {make_points}
    if NOISE:
        x = x + rng.normal(0.0, NOISE, x.shape)
    x = np.clip(x, -1.0, 1.0).astype(np.float32)
    y = y.astype(np.float32)
    train, test = split_indices(y, TEST_FRACTION, rng, TASK == "classification")
    return x[train], y[train], x[test], y[test]''',
        _heading("the input features"),
        f"SINE_SCALE = {features_module.SINE_SCALE!r}  # Playground's sin(x) over [-6, 6], drawn over [-1, 1]",
        _source(features_module.feature_columns),
        '''def inputs_of(points):
    """(N, 2) points to the network's inputs, in float64 as deepvis trains."""
    points = torch.as_tensor(points, dtype=torch.float64)
    columns = feature_columns(points[:, 0], points[:, 1])
    return torch.stack([columns[name] for name in FEATURES], 1)''',
        _heading("the network"),
        f'''LAYERS = {{"sigmoid": torch.nn.Sigmoid, "tanh": torch.nn.Tanh, "relu": torch.nn.ReLU,
          "linear": torch.nn.Identity}}


def make_network():
    """Linear layers with the activations between them, initialized as deepvis does from SEED
    (drawn in float32, then the whole network made float64)."""
    sizes = [len(FEATURES), *HIDDEN, 1]
    layers = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes, sizes[1:])):
        layers.append(torch.nn.Linear(fan_in, fan_out))
        if i < len(HIDDEN):
            layers.append(LAYERS[ACTIVATIONS[i]]())
    network = torch.nn.Sequential(*layers)
    generator = torch.Generator().manual_seed(SEED)
    with torch.no_grad():
        for layer in network:
            if not isinstance(layer, torch.nn.Linear):
                continue
            fan_out, fan_in = layer.weight.shape
{textwrap.indent(_INITS[spec.init].strip(chr(10)), " " * 4)}
    return network.double()''',
        _heading("training"),
        f'''def loss_of(network, x, y):
    return {loss}


def objective_of(network, x, y):
    """What training lowers: the loss plus the weight penalties."""
    weights = [layer.weight for layer in network if isinstance(layer, torch.nn.Linear)]
    return (loss_of(network, x, y) + {penalties}){accuracy}''',
        (_SGD if train.optimizer == "sgd" else _ADAM).strip(),
        (_FULL_BATCH if full_batch else _MINIBATCH).strip(),
        '''def main():
    x_train, y_train, x_test, y_test = make_data()
    x_train, x_test = inputs_of(x_train), inputs_of(x_test)
    y_train = torch.as_tensor(y_train, dtype=torch.float64)[:, None]
    y_test = torch.as_tensor(y_test, dtype=torch.float64)[:, None]
    network = make_network()
    train(network, x_train, y_train)
    with torch.no_grad():
        train_loss, test_loss = loss_of(network, x_train, y_train).item(), loss_of(network, x_test, y_test).item()''' +
        measure_accuracy + f'''
    print({report})


if __name__ == "__main__":
    main()''',
    ]
    return "\n\n\n".join(section.strip("\n") for section in sections) + "\n"


def _train_points(setup: Setup) -> int:
    """How many training points the setup's data has (the minibatch test needs it)."""
    from deepvis.learn.data import make_dataset

    return len(make_dataset(setup.data).y_train)


def write_script(path: str | Path, setup: Setup) -> Path:
    """The script to `path`, atomically (a folder that cannot be written is one line)."""
    path = Path(path)
    write_text_atomic(path, script_text(setup, path.parent, path.name))
    return path
