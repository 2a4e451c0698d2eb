"""Learn, what TensorFlow Playground has: input features, regression, discretized boundaries,
the data seed apart from the init's, the setup file, the exported PyTorch script and the loss
landscape (engine and `deepvis learn`)."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from deepvis import DeepvisError
from deepvis.cli import main
from deepvis.device import one_cpu_thread
from deepvis.learn.data import REGRESSION_SETS, DataSettings, make_dataset
from deepvis.learn.features import FEATURES, encode, parse_features
from deepvis.learn.landscape import LandscapeComputer, filter_normalized, project
from deepvis.learn.network import Network, NetworkSpec
from deepvis.learn.setup import Setup, load_setup, save_setup, setup_from_json
from deepvis.learn.trainer import Trainer, TrainSettings
from deepvis.learn.views import ViewComputer, boundary_colours, grid_points

QUICK = ["--frames", "0", "--grid", "16", "--landscape-grid", "0"]  # no video, small pictures


@pytest.fixture(autouse=True)
def one_thread():
    with one_cpu_thread():
        yield


def run_learn(tmp_path, name, *flags) -> dict:
    """`deepvis learn` with these flags into tmp_path/name; its metrics.json."""
    out = tmp_path / name
    assert main(["learn", *flags, "--out", str(out)]) == 0
    return json.loads((out / "metrics.json").read_text())


def one_line_error(capsys, argv) -> str:
    """The command fails with exit 2 and one line on stderr, which is returned."""
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err and "\n" not in err and "Traceback" not in err, err
    return err


# --------------------------------------------------------------------------- features


def test_the_features_are_playgrounds_and_the_default_is_the_points_themselves():
    points = torch.tensor([[0.5, -0.25], [-1.0, 1.0]])
    assert encode(points, ("x1", "x2")) is points  # the default path is untouched
    every = encode(points, FEATURES)
    x1, x2 = points[:, 0], points[:, 1]
    expected = torch.stack([x1, x2, x1 * x1, x2 * x2, x1 * x2, torch.sin(6 * x1), torch.sin(6 * x2)], 1)
    assert torch.equal(every, expected)
    assert parse_features("x1x2, x1") == ("x1", "x1x2")  # Playground's order, whatever the order given
    for bad, message in (("x1,x3", "unknown feature 'x3'"), ("x1,x1", "named twice"), ("", "at least one")):
        with pytest.raises(DeepvisError, match=message):
            parse_features(bad)
    spec = NetworkSpec(hidden=(0,), features=("x1x2", "sinx1"))
    assert spec.hidden == () and spec.sizes == (2, 1) and spec.features == ("x1x2", "sinx1")


@pytest.mark.parametrize("hidden", [[], ["0"]], ids=["--hidden", "--hidden 0"])
def test_xor_with_x1x2_alone_is_solved_by_one_output_neuron(tmp_path, hidden):
    metrics = run_learn(tmp_path, "xor", "--data", "xor", "--features", "x1x2", "--hidden", *hidden,
                        "--steps", "1000", *QUICK)
    assert metrics["network"]["sizes"] == [1, 1] and metrics["network"]["features"] == ["x1x2"]
    assert metrics["final"]["test_accuracy"] >= 0.98  # the bar; x1*x2 < 0 is xor's rule itself
    assert (tmp_path / "xor" / "landscapes.png").is_file()


def test_the_input_layer_shows_each_feature_over_the_square():
    data = make_dataset(DataSettings("circle", points=100))
    spec = NetworkSpec((3,), ("tanh",), features=("x1sq", "x2sq", "sinx2"))
    trainer = Trainer(data, spec, TrainSettings("adam", 0.03))
    views = ViewComputer(data, spec, grid=12).compute(trainer.advance(5))
    assert [m.label for m in views.feature_maps] == ["x1²", "x2²", "sin(x2)"]
    assert all(m.layer == 0 and (m.low, m.high) == (-1.0, 1.0) for m in views.feature_maps)
    grid = grid_points(12).reshape(12, 12, 2)  # row 0 at x2 = +1
    assert np.allclose(views.feature_maps[0].values, grid[..., 0].square().numpy())
    assert np.allclose(views.feature_maps[2].values, torch.sin(6 * grid[..., 1]).numpy(), atol=1e-6)
    assert views.stages[0].width == 3  # the input stage is the features
    assert [l.label for l in views.landscapes] == ["1:0", "1:1", "1:2", "2:0"]  # neurons as before


@pytest.mark.parametrize("output", ["sigmoid", "linear"])
def test_the_hand_written_gradient_matches_autograd_with_features_and_either_output(output):
    torch.manual_seed(0)
    spec = NetworkSpec((4, 3), ("tanh", "relu"), features=("x1", "x1x2", "sinx2"), output=output)
    net = Network(spec, dtype=torch.float64)
    net.initialize(3)
    inputs = net.encode(torch.rand(50, 2, dtype=torch.float64) * 2 - 1)
    y = torch.rand(50, 1, dtype=torch.float64) if output == "linear" else (torch.rand(50, 1) > 0.5).double()
    net.backward(inputs, y, l1=0.01, l2=0.02)
    flat = net.flat.clone().requires_grad_(True)
    reference = Network(spec, dtype=torch.float64)
    reference.flat = flat
    weights, biases, offset = [], [], 0
    for fan_in, fan_out in zip(spec.sizes[:-1], spec.sizes[1:]):
        end = offset + fan_in * fan_out
        weights.append(flat[offset:end].view(fan_out, fan_in))
        biases.append(flat[end:end + fan_out])
        offset = end + fan_out
    reference.weights, reference.biases = weights, biases
    mask = net.weight_mask
    loss = reference.loss(inputs, y) + 0.01 * (flat * mask).abs().sum() + 0.02 * (flat * flat * mask).sum()
    loss.backward()
    assert torch.allclose(net.grad, flat.grad, atol=1e-10)  # float64: only rounding differs


# --------------------------------------------------------------------------- regression


@pytest.mark.parametrize("name", REGRESSION_SETS)
def test_regression_sets_are_seeded_and_continuous_in_range(name):
    a = make_dataset(DataSettings(name, points=300, seed=1))
    b = make_dataset(DataSettings(name, points=300, seed=1))
    assert a.task == "regression" and np.array_equal(a.y_train, b.y_train)
    y = np.concatenate([a.y_train, a.y_test])
    assert len(np.unique(y)) > 250 and np.abs(y).max() <= 1.0 and y.min() < -0.5 and y.max() > 0.5
    if name == "plane":
        x = np.concatenate([a.x_train, a.x_test])
        assert np.allclose(y, (x[:, 0] + x[:, 1]) / 2, atol=1e-6)


def test_regression_on_the_plane_reaches_a_test_mse_below_0_01(tmp_path):
    metrics = run_learn(tmp_path, "plane", "--data", "plane", "--steps", "1000", "--frames", "2", "--grid", "16",
                        "--landscape-grid", "9")
    assert metrics["task"] == "regression" and metrics["network"]["output"] == "linear"
    assert set(metrics["final"]) == {"step", "train_loss", "test_loss"}
    # The bar; the default 2-3-3-1 gets to about 2e-4 in 1000 steps here.
    assert metrics["final"]["test_loss"] < 0.01
    assert all(stage["probe_accuracy"] is None for stage in metrics["stages"])
    assert metrics["stages"][-1]["name"] == "out linear"
    assert "note" not in metrics  # nothing non-finite was written
    for name in ("boundary.png", "landscapes.png", "stages.png", "landscape.png", "training.mp4"):
        assert (tmp_path / "plane" / name).stat().st_size > 1000


def test_a_csv_with_a_continuous_target_is_regression_when_asked(tmp_path, capsys):
    rng = np.random.default_rng(0)
    rows = [(a, b, 10 + 5 * a - 2 * b) for a, b in rng.uniform(0, 4, (120, 2))]
    path = tmp_path / "heights.csv"
    path.write_text("a,b,height\n" + "\n".join(f"{a},{b},{t}" for a, b, t in rows) + "\n")
    flags = ["--data", str(path), "--columns", "a", "b", "--label", "height", *QUICK]
    err = one_line_error(capsys, ["learn", *flags, "--out", str(tmp_path / "no")])
    assert "not 0 or 1" in err and "--task regression" in err
    metrics = run_learn(tmp_path, "csv", *flags, "--task", "regression", "--steps", "300")
    targets = [t for _, _, t in rows]
    assert metrics["task"] == "regression"
    assert metrics["data"]["target_range"] == pytest.approx([min(targets), max(targets)])
    data = make_dataset(DataSettings(str(path), columns=("a", "b"), label="height", task="regression"))
    y = np.concatenate([data.y_train, data.y_test])
    assert y.min() == -1 and y.max() == 1  # the target rescaled like the inputs


def test_a_generated_set_keeps_its_own_task(capsys, tmp_path):
    err = one_line_error(capsys, ["learn", "--data", "xor", "--task", "regression", "--out", str(tmp_path)])
    assert "xor is a classification set" in err and "plane" in err


# --------------------------------------------------------------------------- the boundary, the seeds


def test_a_discretized_boundary_shows_classes_alone():
    data = make_dataset(DataSettings("circle", points=100))
    trainer = Trainer(data, NetworkSpec((4,), ("tanh",)), TrainSettings("adam", 0.03))
    snapshot = trainer.advance(50)
    shaded = ViewComputer(data, trainer.spec, grid=20).compute(snapshot, stages=False)
    classes = ViewComputer(data, trainer.spec, grid=20, discretize=True).compute(snapshot, stages=False)
    assert np.array_equal(shaded.boundary, classes.boundary)  # the output itself is not changed
    colours = {tuple(c) for c in classes.boundary_rgb.reshape(-1, 3)}
    assert colours == {(245, 147, 34), (8, 119, 189)}  # Playground's orange and blue, nothing between
    blue = np.all(classes.boundary_rgb == (8, 119, 189), axis=2)
    assert np.array_equal(blue, classes.boundary > 0.5)
    assert len({tuple(c) for c in shaded.boundary_rgb.reshape(-1, 3)}) > 2
    sign = boundary_colours(np.array([[-0.3, 0.2]]), "regression", discretize=True)
    assert sign[0, 0].tolist() == [245, 147, 34] and sign[0, 1].tolist() == [8, 119, 189]


def test_the_data_seed_is_apart_from_the_init_seed(tmp_path):
    base = ["--data", "gauss", "--points", "60", "--steps", "0", *QUICK]
    first = run_learn(tmp_path, "a", *base, "--seed", "1")
    new_init = run_learn(tmp_path, "b", *base, "--seed", "2", "--data-seed", "1")
    new_data = run_learn(tmp_path, "c", *base, "--seed", "1", "--data-seed", "5")
    assert first["data"]["seed"] == new_init["data"]["seed"] == 1 and new_init["training"]["seed"] == 2
    # At step 0: another init seed changes the weights over the same points, another data seed the
    # points under the same weights.
    assert first["final"]["train_loss"] != new_init["final"]["train_loss"]
    assert new_data["data"]["seed"] == 5 and new_data["final"]["train_loss"] != first["final"]["train_loss"]
    a = make_dataset(DataSettings("gauss", points=60, seed=1))
    assert np.array_equal(a.x_train, make_dataset(DataSettings("gauss", points=60, seed=1)).x_train)
    assert not np.array_equal(a.x_train, make_dataset(DataSettings("gauss", points=60, seed=5)).x_train)


# --------------------------------------------------------------------------- the setup file


def test_a_setup_round_trips_and_reproduces_the_run_exactly(tmp_path):
    flags = ["--data", "spiral", "--points", "160", "--noise", "0.05", "--test-fraction", "0.25",
             "--data-seed", "3", "--seed", "4", "--features", "x1,x2,sinx1,x1x2", "--hidden", "6", "5",
             "--activation", "tanh", "relu", "--init", "xavier", "--optimizer", "adam", "--lr", "0.02",
             "--l2", "0.001", "--l1", "0.0005", "--batch-size", "0", "--steps", "400", "--every", "20"]
    setup_file = tmp_path / "setups" / "spiral.json"
    original = run_learn(tmp_path, "original", *flags, "--save-setup", str(setup_file), *QUICK)
    setup = load_setup(setup_file)
    assert setup == Setup(DataSettings("spiral", 160, 0.05, 0.25, 3, task="classification"),
                          NetworkSpec((6, 5), ("tanh", "relu"), "xavier", ("x1", "x2", "x1x2", "sinx1")),
                          TrainSettings("adam", 0.02, 0, 0.0005, 0.001, 4, 20), 400)
    assert setup_from_json(json.loads(setup_file.read_text())) == setup
    runs = [run_learn(tmp_path, f"again{i}", "--setup", str(setup_file), *QUICK) for i in range(2)]
    for run in runs:
        for key, value in original["final"].items():  # float64 throughout: equal, 1e-9 is the bar
            assert run["final"][key] == pytest.approx(value, abs=1e-9, rel=0)
        assert len(run["history"]) == len(original["history"]) == 21


def test_flags_given_with_a_setup_change_that_one_thing(tmp_path):
    from deepvis.cli import build_parser
    from deepvis.learn.command import setup_from

    saved = Setup(DataSettings("circle", seed=3, task="classification"),
                  NetworkSpec((5,), ("tanh",), features=("x1sq", "x2sq")), TrainSettings("adam", 0.01, seed=4), 700)
    save_setup(tmp_path / "s.json", saved)

    def parsed(*flags):
        return setup_from(build_parser().parse_args(["learn", "--setup", str(tmp_path / "s.json"), *flags]))

    assert parsed() == saved
    assert parsed("--steps", "100") == Setup(saved.data, saved.spec, saved.train, 100)
    assert parsed("--data-seed", "9").data.seed == 9 and parsed("--data-seed", "9").train.seed == 4
    reseeded = parsed("--seed", "8")  # as without a setup: --seed is the data's seed too
    assert reseeded.train.seed == 8 and reseeded.data.seed == 8
    assert parsed("--data", "plane").data.task is None  # a new set brings its own task
    assert parsed("--hidden").spec.hidden == () and parsed("--features", "x1").spec.features == ("x1",)


def test_a_csv_in_a_setup_is_found_from_the_setup_files_folder(tmp_path, monkeypatch):
    folder = tmp_path / "shared"
    folder.mkdir()
    rows = "\n".join(f"{i % 7},{i % 5},{(i % 7 > 3) ^ (i % 5 > 2):d}" for i in range(60))
    (folder / "points.csv").write_text("x1,x2,label\n" + rows + "\n")
    save_setup(folder / "run.json", Setup(DataSettings(str(folder / "points.csv")), steps=10))
    assert json.loads((folder / "run.json").read_text())["data"]["source"] == "points.csv"
    monkeypatch.chdir(tmp_path)  # elsewhere
    assert Path(load_setup("shared/run.json").data.source).resolve() == (folder / "points.csv").resolve()


def setup_text(**changes) -> str:
    value = Setup().to_json()
    for where, new in changes.items():
        section, _, key = where.partition("__")
        if key and new is None:
            del value[section][key]
        elif key:
            value[section][key] = new
        else:
            value[section] = new
    return json.dumps(value)


@pytest.mark.parametrize("text, message", [
    (setup_text(version=2), "a setup of version 2, newer than this deepvis reads (1)"),
    (setup_text(training__steps=None), 'the setup has no "training.steps"'),
    (setup_text(network__width=3), 'unknown key "network.width"'),
    (setup_text(training__learning_rate="fast"), '"training.learning_rate" must be a number, not "fast"'),
    (setup_text(network__hidden=[3, "3"]), '"network.hidden" must be a list of integers'),
    (setup_text(network__features=["x1", "x9"]), "unknown feature 'x9'"),
    (setup_text(format="something else"), "not a deepvis learn setup"),
    ("{", "not JSON"),
])
def test_a_bad_setup_file_is_one_line_naming_the_file(tmp_path, capsys, text, message):
    path = tmp_path / "setup.json"
    path.write_text(text)
    err = one_line_error(capsys, ["learn", "--setup", str(path), "--out", str(tmp_path / "out")])
    assert message in err and str(path) in err
    assert not (tmp_path / "out").exists()  # refused before any work


def test_bad_flags_and_unwritable_files_are_one_line_before_any_work(tmp_path, capsys):
    err = one_line_error(capsys, ["learn", "--features", "x1,cosx1", "--out", str(tmp_path / "out")])
    assert "unknown feature 'cosx1'" in err and "sinx1" in err
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    err = one_line_error(capsys, ["learn", "--export-code", str(blocker / "run.py"), "--out", str(tmp_path / "o")])
    assert "cannot write" in err and "run.py" in err
    err = one_line_error(capsys, ["learn", "--save-setup", str(blocker / "s.json")])
    assert "cannot write" in err
    assert not (tmp_path / "out").exists() and not (tmp_path / "o").exists()
    if os.geteuid() != 0:  # root writes into a read-only folder all the same
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        err = one_line_error(capsys, ["learn", "--export-code", str(locked / "run.py")])
        assert "cannot write" in err and "Permission denied" in err


def test_without_out_the_setup_and_the_script_are_written_and_nothing_trained(tmp_path, capsys):
    assert main(["learn", "--data", "plane", "--save-setup", str(tmp_path / "s.json"),
                 "--export-code", str(tmp_path / "run.py")]) == 0
    assert "wrote" in capsys.readouterr().out
    assert load_setup(tmp_path / "s.json").data.source == "plane"
    compile((tmp_path / "run.py").read_text(), "run.py", "exec")  # valid Python
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.py", "s.json"]


# --------------------------------------------------------------------------- the exported script


def run_script(path: Path) -> str:
    env = {**os.environ, "PYTHONPATH": ""}  # torch and numpy only: deepvis need not be importable
    done = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=300, env=env,
                          cwd=path.parent)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.parametrize("flags", [
    # SGD at 3.0 with momentum, full batch: the guard matters here.
    ["--data", "quadrants", "--points", "300", "--steps", "1500"],
    # Adam on minibatches with features, and a regression.
    ["--data", "multigauss", "--features", "x1,x2,x1sq,sinx2", "--hidden", "6", "--activation", "tanh",
     "--optimizer", "adam", "--lr", "0.03", "--batch-size", "32", "--steps", "600", "--data-seed", "2"],
], ids=["sgd-guarded", "adam-minibatch-regression"])
def test_the_exported_script_lands_within_a_point_of_deepvis(tmp_path, flags):
    script = tmp_path / "exported" / "run.py"
    metrics = run_learn(tmp_path, "run", *flags, "--export-code", str(script), *QUICK)
    text = script.read_text()
    imports = set(re.findall(r"^(?:import|from) (\w+)", text, re.M))
    assert imports <= {"math", "csv", "pathlib", "numpy", "torch"}, imports
    printed = run_script(script)
    final = metrics["final"]
    if metrics["task"] == "regression":
        found = re.search(r"train loss \(MSE\) ([\d.]+), test loss \(MSE\) ([\d.]+)", printed)
        # "Within 1 point" read for a loss as 1% of it (the script prints 6 decimals).
        assert float(found[2]) == pytest.approx(final["test_loss"], rel=0.01, abs=2e-6)
    else:
        found = re.search(r"train accuracy ([\d.]+)%, test accuracy ([\d.]+)%", printed)
        assert abs(float(found[2]) - 100 * final["test_accuracy"]) <= 1.0  # the bar: 1 point
        assert abs(float(found[1]) - 100 * final["train_accuracy"]) <= 1.0


# --------------------------------------------------------------------------- the loss landscape


def trained(name="spiral", spec=NetworkSpec((8, 8), ("tanh",), "xavier"), steps=200):
    data = make_dataset(DataSettings(name, points=200))
    trainer = Trainer(data, spec, TrainSettings("adam", 0.03, snapshot_every=20))
    return data, trainer, list(trainer.run(steps))


@pytest.mark.parametrize("name", ["spiral", "plane"])
def test_the_landscape_at_the_origin_is_the_current_loss(name):
    data, trainer, path = trained(name)
    landscape = LandscapeComputer(data, trainer.spec, grid=9, seed=0).compute(path[-1], path)
    assert landscape.loss.shape == (9, 9) and landscape.coordinates[4] == 0
    # The same float64 arithmetic as the trainer's measure, batched: equal up to rounding.
    assert landscape.loss[4, 4] == pytest.approx(path[-1].train_loss, rel=1e-12)
    assert landscape.centre_loss == pytest.approx(path[-1].train_loss, rel=1e-12)
    assert landscape.path.shape == (len(path), 2) and np.allclose(landscape.path[-1], 0)
    assert landscape.loss.max() > landscape.loss[4, 4]


def test_filter_normalization_gives_each_filter_the_weights_filter_norm():
    data, trainer, path = trained(steps=40)
    computer = LandscapeComputer(data, trainer.spec, seed=5)
    d1, d2 = computer.directions(path[-1].weights)
    net = Network(trainer.spec, dtype=torch.float64)
    for direction in (d1, d2):
        net.load(direction)
        shaped = Network(trainer.spec, dtype=torch.float64)
        shaped.load(path[-1].weights)
        for rows, weights, bias in zip(net.weights, shaped.weights, net.biases):
            assert torch.allclose(rows.norm(dim=1), weights.norm(dim=1), rtol=1e-12)
            assert torch.all(bias == 0)  # as Li et al.'s code: the biases do not move
    assert not torch.allclose(d1, d2)
    raw = torch.randn(net.n_parameters, dtype=torch.float64)
    # Only each filter's direction counts, not its length.
    assert torch.allclose(filter_normalized(raw, shaped), filter_normalized(raw * 3, shaped), rtol=1e-12)


def test_every_grid_point_is_the_network_at_those_weights_and_the_path_projects_onto_the_plane():
    data, trainer, path = trained(steps=60)
    computer = LandscapeComputer(data, trainer.spec, grid=5, seed=1)
    landscape = computer.compute(path[-1], span=0.5)
    centre = path[-1].weights.double()
    d1, d2 = computer.directions(centre)
    net = Network(trainer.spec, dtype=torch.float64)
    inputs = net.encode(torch.as_tensor(data.x_train, dtype=torch.float64))
    targets = torch.as_tensor(data.y_train, dtype=torch.float64)[:, None]
    for i, j in ((0, 0), (4, 1), (2, 3)):
        a, b = landscape.coordinates[i], landscape.coordinates[j]
        net.load(centre + a * d1 + b * d2)
        assert landscape.loss[j, i] == pytest.approx(float(net.loss(inputs, targets)), rel=1e-10)
    on_plane = torch.stack([centre + 0.3 * d1 - 0.2 * d2, centre])
    assert torch.allclose(project(on_plane, centre, d1, d2), torch.tensor([[0.3, -0.2], [0.0, 0.0]],
                                                                        dtype=torch.float64), atol=1e-9)


def test_deepvis_learn_writes_the_landscape_and_benches_it(tmp_path, capsys):
    metrics = run_learn(tmp_path, "run", "--data", "xor", "--hidden", "4", "--activation", "tanh", "--steps", "100",
                        "--frames", "0", "--grid", "16", "--landscape-grid", "11")
    landscape = metrics["landscape"]
    assert landscape["grid"] == 11 and landscape["step"] == 100 and landscape["path_points"] == 11
    assert landscape["centre_loss"] == pytest.approx(metrics["final"]["train_loss"], rel=1e-12)
    assert landscape["min_loss"] <= landscape["centre_loss"] < landscape["max_loss"]
    assert (tmp_path / "run" / "landscape.png").stat().st_size > 10000
    capsys.readouterr()
    assert main(["learn", "--bench", "landscape", "--steps", "20", "--landscape-grid", "7", "--points", "60"]) == 0
    line = capsys.readouterr().out.strip()
    report = json.loads(line)
    assert "\n" not in line and report["grid"] == "7x7" and report["seconds_1_threads"] > 0
    assert math.isclose(report["centre_loss"], report["train_loss"], rel_tol=1e-12)


def test_the_commands_default_steps_are_the_setups():
    from deepvis.learn import command, setup

    assert command.DEFAULT_STEPS == setup.DEFAULT_STEPS
