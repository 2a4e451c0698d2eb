"""Tabular: tables and their errors, training, attributions for every neuron at once (completeness,
the same numbers as one neuron at a time), the commands' files and figures. The window's tests
are in test_tabular_window.py, its view model's in test_tabular_view_model.py."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import json
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from deepvis import DeepvisError
from deepvis.tabular.data import load_csv, load_table
from deepvis.tabular.explain import (
    TrainedTable, ablation, attribute_layer, explain_layer, integrated_gradients,
    integrated_gradients_one_neuron, mean_jacobian, open_trained,
)
from deepvis.tabular.train import Trainer, TrainSpec
from deepvis.device import one_cpu_thread

TIMEOUT = 15000  # ms


@pytest.fixture(autouse=True)
def one_thread():
    """Networks this small run fastest on one thread, and a loaded machine punishes a team."""
    with one_cpu_thread():
        yield


@pytest.fixture(scope="module")
def wine() -> TrainedTable:
    torch.set_num_threads(1)
    trainer = Trainer(load_table(data="wine"), TrainSpec(epochs=40))
    trainer.train()
    return TrainedTable(trainer.model, trainer.table, trainer.encoding, trainer.train_rows, trainer.test_rows)


def write(tmp_path, text: str, name: str = "t.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


MIXED = """size,colour,weight,price
1.0,red,10,cheap
2.0,blue,,cheap
3.5,,12,dear
4.0,red,14,dear
1.5,green,9,cheap
3.0,blue,13,dear
2.5,red,11,cheap
4.5,green,NA,dear
"""


# --------------------------------------------------------------------------- data


@pytest.mark.parametrize("name,task,rows,variables", [
    ("wine", "classification", 178, 13), ("breast_cancer", "classification", 569, 30),
    ("diabetes", "regression", 442, 10), ("iris", "classification", 150, 4)])
def test_bundled_tables(name, task, rows, variables):
    table = load_table(data=name)
    assert (table.task, len(table), len(table.variables)) == (task, rows, variables)


def test_categorical_columns_are_one_group_and_missing_values_follow_the_rules(tmp_path):
    table = load_csv(str(write(tmp_path, MIXED)), "price")
    assert table.kinds == {"size": "numeric", "colour": "categorical", "weight": "numeric"}
    assert table.task == "classification" and table.classes == ["cheap", "dear"]
    trainer = Trainer(table, TrainSpec(epochs=1, test_fraction=0.25))
    enc = trainer.encoding
    assert enc.columns == ["size", "colour=(missing)", "colour=blue", "colour=green", "colour=red", "weight"]
    assert enc.groups == {"size": [0], "colour": [1, 2, 3, 4], "weight": [5]}
    x = enc.encode(table)
    assert np.allclose(x[:, 1:5].sum(1), 1.0)  # one category per row, "(missing)" included
    weight = enc.variables[2]
    train_weights = table.values["weight"][trainer.train_rows]
    assert weight.fill == np.median(train_weights[~np.isnan(train_weights)])
    assert np.allclose(x[trainer.train_rows, 0].mean(), 0, atol=1e-6)  # standardized on the training rows
    assert table.row(7)["weight"] is None and table.row(2)["colour"] is None


@pytest.mark.parametrize("text,target,task,message", [
    (MIXED, "cost", "auto", "--target cost: no such column"),
    (MIXED, "price", "regression", "is not numeric"),
    ("", "y", "auto", "empty"),
    ("a,y\n", "y", "auto", "no data rows"),
    ("a,b,y\n1,5,0\n2,5,1\n3,5,0\n4,5,1\n", "y", "auto", "column 'b' has the same value in every row"),
    ("a,y\n1,0\n2,1,3\n", "y", "auto", "data row 2 has 3 fields"),
    ("a,y\n1.5,0\n2.5,1\n3.1,0.5\n", "y", "classification", "fractional"),
    ("a,y\n1,0\n2,0\n", "y", "auto", "one class"),
])
def test_a_bad_table_is_one_line_naming_it(tmp_path, text, target, task, message):
    with pytest.raises(DeepvisError) as info:
        load_table(csv_path=str(write(tmp_path, text)), target=target, task=task)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_one_word_in_a_numeric_column_is_named_with_its_row(tmp_path):
    rows = [f"{i * 1.5},{i % 2}" for i in range(30)]
    rows[16] = "abc,0"  # data row 17, line 18 of the file
    path = write(tmp_path, "a,y\n" + "\n".join(rows) + "\n")
    with pytest.raises(DeepvisError) as info:
        load_csv(str(path), "y")
    message = str(info.value)
    assert "column 'a'" in message and "data row 17" in message and "'abc'" in message
    assert "an id" not in message and "\n" not in message


def test_unreadable_files_and_names(tmp_path):
    binary = tmp_path / "x.csv"
    binary.write_bytes(bytes(range(256)) * 4)
    for call in (lambda: load_table(csv_path=str(binary), target="y"),
                 lambda: load_table(csv_path=str(tmp_path / "none.csv"), target="y"),
                 lambda: load_table(data="titanic")):
        with pytest.raises(DeepvisError):
            call()


def test_a_folder_given_as_the_csv_is_called_a_folder(tmp_path, capsys):
    from deepvis.cli import main

    assert main(["tabular", "train", "--csv", str(tmp_path), "--target", "y", "--out", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err.strip()
    assert f"{tmp_path}: a folder, not a CSV file" in err and "no such file" not in err and "\n" not in err


def test_the_cli_prints_a_bad_table_as_one_line_and_exits_2(tmp_path, capsys):
    from deepvis.cli import main

    path = write(tmp_path, MIXED)
    assert main(["tabular", "train", "--csv", str(path), "--target", "nope", "--out", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("deepvis: error: --target nope") and "\n" not in err


def regression_csv(tmp_path, a, y) -> Path:
    """Columns a (given), b (noise) and the target y (given), one row each."""
    rng = np.random.default_rng(0)
    rows = [f"{float(av)!r},{float(rng.normal())!r},{float(yv)!r}" for av, yv in zip(a, y)]
    return write(tmp_path, "a,b,y\n" + "\n".join(rows) + "\n")


ORDINARY = np.linspace(1.0, 9.0, 40)


@pytest.mark.filterwarnings("error::RuntimeWarning")
@pytest.mark.parametrize("a, y, named", [
    (ORDINARY * 1e300, ORDINARY, "column 'a'"),  # the statistics overflow
    (np.r_[ORDINARY[:-1], 1e300], ORDINARY, "column 'a'"),  # one value far outside the rest
    (ORDINARY, ORDINARY * 1e300, "the target 'y'"),
])
def test_values_that_overflow_the_scaler_are_refused_before_training(tmp_path, capsys, a, y, named):
    out = tmp_path / "m"
    assert tabular(["tabular", "train", "--csv", str(regression_csv(tmp_path, a, y)), "--target", "y",
                    "--epochs", "2", "--quiet", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("deepvis: error:") and "\n" not in err and named in err
    assert not out.exists()


def test_a_score_that_is_not_a_number_is_null_in_valid_json(tmp_path):
    out = tmp_path / "m"  # one test row: its R^2 is 0/0
    assert tabular(["tabular", "train", "--csv", str(regression_csv(tmp_path, ORDINARY, ORDINARY ** 2)),
                    "--target", "y", "--test-fraction", "0.01", "--epochs", "2", "--quiet", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text(), parse_constant=lambda name: pytest.fail(name))
    assert metrics["test_r2"] is None and "test_r2 (nan)" in metrics["note"]
    assert metrics["test_rmse"] >= 0


# --------------------------------------------------------------------------- training


def test_training_reaches_its_bound_quickly_and_repeats_for_a_seed():
    table = load_table(data="wine")
    start = time.perf_counter()
    first = Trainer(table, TrainSpec(epochs=40, seed=3))
    last = first.train()
    assert last.test_score >= 0.9 and time.perf_counter() - start < 10
    again = Trainer(table, TrainSpec(epochs=40, seed=3))
    again.train()
    for a, b in zip(first.model.parameters(), again.model.parameters()):
        assert torch.equal(a, b)


def test_a_regressor_for_a_numeric_target():
    trainer = Trainer(load_table(data="diabetes"), TrainSpec(epochs=30))
    assert trainer.train().test_score > 0.3  # R^2
    assert trainer.model.sizes[-1] == 1 and "test_rmse" in trainer.metrics()


def test_a_diverging_run_stops_and_keeps_the_last_good_weights():
    trainer = Trainer(load_table(data="iris"), TrainSpec(epochs=20, lr=1e30))
    trainer.train()
    assert trainer.diverged and "diverged" in trainer.diverged and "\n" not in trainer.diverged
    assert trainer.epoch < 20
    assert all(torch.isfinite(p).all() for p in trainer.model.parameters())
    assert trainer.metrics()["stopped"] == trainer.diverged


# --------------------------------------------------------------------------- attributions


@pytest.mark.parametrize("layer", ["h1", "h2", "out"])
def test_completeness_every_row_and_neuron_to_one_percent(wine, layer):
    test = torch.from_numpy(wine.test_rows)
    result = attribute_layer(wine.model, layer, wine.x[test], wine.baseline(), wine.groups, "ig")
    change = result.values - result.baseline_values[None]
    gap = np.abs(result.per_row.sum(-1) - change)
    assert result.completeness_error() < 0.01  # the bound of the README; measured 2.7e-5 (wine h1)
    assert np.all(gap <= 0.01 * np.abs(change) + 1e-3 * np.abs(change).mean(0))


@pytest.mark.parametrize("activation", ["softplus", "relu", "tanh"])
def test_every_neuron_at_once_equals_one_neuron_at_a_time(activation):
    torch.manual_seed(0)
    from deepvis.tabular.model import TabularMLP

    model = TabularMLP([7, 16, 8, 3], activation).eval().requires_grad_(False)
    x, baseline = torch.randn(20, 7), torch.randn(7) * 0.3
    for layer in range(3):
        batched = integrated_gradients(model, layer, x, baseline, 32)
        loop = torch.stack([integrated_gradients_one_neuron(model, layer, x, baseline, j, 32)
                            for j in range(model.sizes[layer + 1])], 1)
        assert (batched - loop).abs().max() < 1e-5  # measured 1.2e-7-1.8e-7: float32 rounding, 50x under
        # the Jacobian itself against autograd's
        point = x[:3].clone().requires_grad_(True)
        auto = torch.autograd.functional.jacobian(lambda p: model(p, upto=layer).sum(0), point)  # H x 3 x D
        assert torch.allclose(mean_jacobian(model, layer, x[None, :3]), auto.permute(1, 0, 2), atol=1e-5)


def test_ablation_sets_one_variable_to_the_baseline():
    from deepvis.tabular.model import TabularMLP

    torch.manual_seed(1)
    model = TabularMLP([5, 6, 2]).eval().requires_grad_(False)
    x, baseline = torch.randn(4, 5), torch.zeros(5)
    groups = {"a": [0], "b": [1, 2, 3], "c": [4]}
    result = ablation(model, 0, x, baseline, groups)
    x_b = x.clone()
    x_b[:, [1, 2, 3]] = 0.0
    assert torch.allclose(result[:, :, 1], model(x, upto=0) - model(x_b, upto=0))


def test_a_one_hot_variable_counts_once_and_top_rows_excite_most(tmp_path):
    table = load_csv(str(write(tmp_path, MIXED)), "price")
    trainer = Trainer(table, TrainSpec(epochs=5, hidden=(4,), test_fraction=0.25))
    trainer.train()
    trained = TrainedTable(trainer.model, table, trainer.encoding, trainer.train_rows, trainer.test_rows)
    report = explain_layer(trained, "h1", k=3)
    assert report["variables"] == ["size", "colour", "weight"]
    neuron = report["neurons"][2]
    assert set(neuron["attributions"]) == {"size", "colour", "weight"}
    values = trained.all_values()[0][:, 2]
    assert [r["row"] for r in neuron["top_rows"]] == np.argsort(-values)[:3].tolist()
    assert neuron["top_rows"][0]["values"]["colour"] in ("red", "blue", "green", None)


# --------------------------------------------------------------------------- commands


def tabular(argv: list[str]) -> int:
    """`deepvis tabular ...` through the command's own parser and runner (the CLI's wiring is
    tested above), with a DeepvisError as the CLI turns it: exit status 2."""
    import argparse

    from deepvis.tabular import command

    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    try:
        return command.run(parser.parse_args(argv[1:]))
    except DeepvisError as error:
        print(f"deepvis: error: {error}", file=__import__("sys").stderr)
        return 2


def test_train_then_explain_write_their_files(tmp_path, capsys):
    main = tabular
    model_dir, out = tmp_path / "model", tmp_path / "explained"
    assert main(["tabular", "train", "--data", "wine", "--epochs", "30", "--hidden", "6", "4", "--quiet",
                 "--out", str(model_dir)]) == 0
    meta = json.loads((model_dir / "model.json").read_text())
    assert meta["sizes"] == [13, 6, 4, 3] and meta["activation"] == "softplus"
    assert meta["groups"]["alcohol"] == [0] and len(meta["variables"]) == 13
    metrics = json.loads((model_dir / "metrics.json").read_text())
    assert metrics["test_accuracy"] > 0.8  # measured 1.0 (36 test rows): the bound allows 7 misses
    assert main(["tabular", "explain", str(model_dir), "--layer", "h1", "--top-k", "4", "--out", str(out)]) == 0
    report = json.loads((out / "neurons.json").read_text())
    assert report["layer"] == "h1" and len(report["neurons"]) == 6
    neuron = report["neurons"][0]
    assert neuron["index"] == 0 and len(neuron["attributions"]) == 13 and len(neuron["top_rows"]) == 4
    assert set(neuron["top_rows"][0]["values"]) == set(report["variables"]) | {"class"}
    assert report["completeness_error"] < 0.01
    assert (out / "neurons.png").stat().st_size > 20000
    assert open_trained(model_dir).model.sizes == [13, 6, 4, 3]
    assert main(["tabular", "explain", str(model_dir), "--layer", "h7"]) == 2
    assert "no such layer" in capsys.readouterr().err


def test_an_id_column_is_named_in_one_warning_that_says_to_drop_it(tmp_path, capsys):
    rng = np.random.default_rng(0)
    rows = [f"{1000 + i},{x:.4f},{int(x > 0)}" for i, x in enumerate(rng.normal(size=40))]
    path = write(tmp_path, "customer,x,y\n" + "\n".join(rows) + "\n")
    argv = ["tabular", "train", "--csv", str(path), "--target", "y", "--epochs", "2", "--quiet", "--out"]
    assert tabular(argv + [str(tmp_path / "m")]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "column 'customer'" in warnings[0] and "like an id" in warnings[0]
    assert "--drop customer" in warnings[0]
    assert tabular(argv + [str(tmp_path / "m2"), "--drop", "customer"]) == 0
    assert "warning" not in capsys.readouterr().err
    # Whole numbers that repeat, or few rows, are not ids: none of the bundled tables warns.
    assert all(not load_table(data=name).id_like for name in ("wine", "breast_cancer", "diabetes", "iris"))
    assert not load_csv(str(write(tmp_path, MIXED)), "price").id_like  # 8 rows: weights 9..14 all differ


def test_a_bundled_table_takes_categorical_and_dropped_columns_and_keeps_them_for_explain(tmp_path):
    table = load_table(data="diabetes", categorical=["age"], drop=["bmi", "s1_tc"])
    assert "bmi" not in table.variables and table.kinds["age"] == "categorical" and table.values["age"][0] == "59"
    assert table.columns[:3] == ["age", "sex", "bmi"]  # every column, the dropped ones too, in order
    with pytest.raises(DeepvisError, match="--drop weight: no such column in wine"):
        load_table(data="wine", drop=["weight"])
    model = tmp_path / "m"
    assert tabular(["tabular", "train", "--data", "diabetes", "--drop", "bmi", "--epochs", "2", "--quiet",
                    "--out", str(model)]) == 0
    assert "bmi" not in open_trained(model).table.variables


def test_output_neurons_are_named_by_their_class_or_the_predicted_target(wine, tmp_path, capsys):
    report = explain_layer(wine, "out", steps=8)
    assert [n["label"] for n in report["neurons"]] == ["class_0", "class_1", "class_2"]
    assert report["output_value"] == "logit" and "label" not in explain_layer(wine, "h2", steps=8)["neurons"][0]
    trainer = Trainer(load_table(data="diabetes"), TrainSpec(epochs=2, hidden=(4,)))
    trainer.save(tmp_path / "d")
    assert tabular(["tabular", "explain", str(tmp_path / "d"), "--layer", "out", "--steps", "8"]) == 0
    assert "neuron 0 predicted progression (rank 1)" in capsys.readouterr().out
    report = json.loads((tmp_path / "d" / "neurons.json").read_text())
    assert report["neurons"][0]["label"] == "predicted progression"
    assert report["output_value"] == "standardized prediction"


def texts_outside(fig) -> list[str]:
    """The titles whose extent leaves the figure, and "tight bbox" when anything drawn does (tick
    labels, variable names): matplotlib's tight bbox holds every drawn artist. Half a pixel of
    rounding is allowed."""
    fig.canvas.draw()
    renderer, box = fig.canvas.get_renderer(), fig.bbox
    out = []
    for text in [fig.get_suptitle() and fig._suptitle] + [ax.title for ax in fig.axes if ax.axison]:
        e = text.get_window_extent(renderer) if text else None
        if e is not None and (e.x0 < box.x0 - 0.5 or e.y0 < box.y0 - 0.5 or e.x1 > box.x1 + 0.5
                              or e.y1 > box.y1 + 0.5):
            out.append(text.get_text())
    tight, whole, pixel = fig.get_tightbbox(renderer), fig.bbox_inches, 0.5 / fig.dpi
    if (tight.x0 < whole.x0 - pixel or tight.y0 < whole.y0 - pixel or tight.x1 > whole.x1 + pixel
            or tight.y1 > whole.y1 + pixel):
        out.append("tight bbox")
    return out


def test_no_text_of_neurons_png_is_clipped(wine, tmp_path):
    from deepvis.tabular.plots import neuron_figure

    diabetes = Trainer(load_table(data="diabetes"), TrainSpec(epochs=2, hidden=(3,)))
    long_names = [f"{c},{v},{'a remarkably long class name' if c > 0 else 'short'}"
                  for c, v in zip(np.linspace(-1, 1, 30), np.random.default_rng(0).normal(size=30))]
    long_table = load_csv(str(write(tmp_path, "some_rather_long_variable_name,b,kind\n" + "\n".join(long_names))),
                          "kind")
    named = Trainer(long_table, TrainSpec(epochs=2, hidden=(2,)))
    cases = {"wine out": (wine, "out")}
    for name, trainer in (("diabetes", diabetes), ("long names", named)):
        cases[f"{name} out"] = (TrainedTable(trainer.model, trainer.table, trainer.encoding, trainer.train_rows,
                                             trainer.test_rows), "out")
    for case, (trained, layer) in cases.items():
        fig = neuron_figure(explain_layer(trained, layer, steps=8))
        assert texts_outside(fig) == [], case
        title = fig.get_suptitle()
        assert "what drives each neuron" in title.replace("\n", " "), case
