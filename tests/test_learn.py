"""Learn: the 2-D data sets and CSV errors, the hand-written backward against autograd, the
trainer (seeded, NaN), probes, views, the timeline, `deepvis learn`, the mode offscreen, and
the OpenGL views under a virtual display."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import json
import math
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from deepvis import DeepvisError
from deepvis.learn.data import DATASETS, DataSettings, make_dataset
from deepvis.learn.network import ACTIVATIONS, Network, NetworkSpec
from deepvis.learn.probe import fit_probes
from deepvis.learn.timeline import Timeline
from deepvis.learn.trainer import Trainer, TrainSettings
from deepvis.learn.views import ViewComputer, plane_polygon
from support.xvfb import xvfb_environment
from deepvis.device import one_cpu_thread

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
TIMEOUT = 20000  # ms


@pytest.fixture(autouse=True)
def one_thread():
    with one_cpu_thread():  # restored after each test: later test files keep torch's own count
        yield


# --------------------------------------------------------------------------- data


@pytest.mark.parametrize("name", DATASETS)
def test_every_data_set_is_seeded_two_class_and_in_the_square(name):
    a = make_dataset(DataSettings(name, points=200, seed=3))
    b = make_dataset(DataSettings(name, points=200, seed=3))
    c = make_dataset(DataSettings(name, points=200, seed=4))
    assert np.array_equal(a.x_train, b.x_train) and not np.array_equal(a.x_train, c.x_train)
    assert len(a.y_train) + len(a.y_test) == 200 and len(a.y_test) == 60
    for x, y in ((a.x_train, a.y_train), (a.x_test, a.y_test)):
        assert x.dtype == np.float32 and x.shape[1] == 2 and np.abs(x).max() <= 1
        assert set(np.unique(y)) == {0.0, 1.0}


def test_quadrants_follow_the_sign_rule_with_few_points_near_the_centre():
    data = make_dataset(DataSettings("quadrants", points=2000))
    x = np.concatenate([data.x_train, data.x_test])
    y = np.concatenate([data.y_train, data.y_test])
    assert np.array_equal(y, (np.sign(x[:, 0]) == np.sign(x[:, 1])).astype(np.float32))
    near = (np.hypot(x[:, 0], x[:, 1]) < 0.25).mean()
    assert near < 0.25 * np.pi * 0.25 ** 2 / 4  # a uniform square would put 4.9% there
    noisy = make_dataset(DataSettings("quadrants", points=2000, noise=0.3))
    rule = (np.sign(noisy.x_train[:, 0]) == np.sign(noisy.x_train[:, 1]))
    assert 0.6 < (rule == noisy.y_train).mean() < 0.99  # noise moves points, not labels


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_a_csv_with_named_columns_is_rescaled_to_the_square(tmp_path):
    rows = "\n".join(f"{i},{i * 10},{i % 2},x" for i in range(20))
    path = write(tmp_path / "mine.csv", "a,b,cls,note\n" + rows + "\n\n")
    data = make_dataset(DataSettings(str(path), columns=("a", "b"), label="cls"))
    x = np.concatenate([data.x_train, data.x_test])
    assert data.name == "mine.csv" and len(x) == 20
    assert x.min() == -1 and x.max() == 1


@pytest.mark.parametrize("text, message", [
    ("", "is empty"),
    ("x1,x2\n1,2\n", "has no column 'label' (its columns: x1, x2)"),
    ("x1,x2,label\n1,2,0\n1,abc,1\n", "line 3: column 'x2' is 'abc', not a number"),
    ("x1,x2,label\n1,2,1\n3,4,1\n5,6,1\n7,8,1\n", "only one class"),
    ("x1,x2,label\n1,2,0\n1,2,2\n", "line 3: label 'label' is '2', not 0 or 1"),
    ("x1,x2,label\n", "has a header but no rows"),
    ("x1,x2,label\n1,nan,0\n", "not a finite number"),
])
def test_a_bad_csv_is_one_line_naming_the_problem(tmp_path, text, message):
    path = write(tmp_path / "bad.csv", text)
    with pytest.raises(DeepvisError) as error:
        make_dataset(DataSettings(str(path)))
    assert message in str(error.value) and "\n" not in str(error.value)


def test_the_cli_prints_a_bad_csv_as_one_line_and_exits_2(tmp_path, capsys):
    from deepvis.cli import main

    path = write(tmp_path / "bad.csv", "x1,x2,label\n1,2,1\n3,4,1\n")
    assert main(["learn", "--data", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "only one class" in err
    assert main(["learn", "--data", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "o")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_a_folder_given_as_the_data_is_called_a_folder(tmp_path, capsys):
    from deepvis.cli import main

    (tmp_path / "points.csv").mkdir()
    for folder in (tmp_path / "points.csv", tmp_path):
        assert main(["learn", "--data", str(folder), "--out", str(tmp_path / "out")]) == 2
        err = capsys.readouterr().err.strip()
        assert f"{folder}: a folder, not a CSV file" in err and "no such file" not in err and "\n" not in err


# --------------------------------------------------------------------------- network and trainer


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_the_hand_written_gradient_matches_autograd(activation):
    spec = NetworkSpec((4, 3), (activation,), "xavier")
    net = Network(spec)
    net.initialize(1)
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(33, 2, generator=gen) * 2 - 1
    y = (torch.rand(33, 1, generator=gen) > 0.5).float()
    net.backward(x, y, l1=0.01, l2=0.02)
    flat = net.flat.clone().requires_grad_(True)
    reference = Network(spec)
    reference.flat = flat
    offset, weights, biases = 0, [], []
    for a, b in zip(spec.sizes[:-1], spec.sizes[1:]):
        weights.append(flat[offset:offset + a * b].view(b, a))
        biases.append(flat[offset + a * b:offset + a * b + b])
        offset += a * b + b
    reference.weights, reference.biases = weights, biases
    mask = net.weight_mask
    loss = reference.loss(x, y) + 0.01 * (flat * mask).abs().sum() + 0.02 * (flat * flat * mask).sum()
    loss.backward()
    assert torch.allclose(net.grad, flat.grad, atol=1e-6)


def test_training_is_deterministic_for_a_seed_with_minibatches_too():
    data = make_dataset(DataSettings("circle", points=200))
    runs = []
    for _ in range(2):
        trainer = Trainer(data, NetworkSpec((5,), ("tanh",), "xavier"),
                          TrainSettings("adam", 0.03, batch_size=32, seed=7))
        trainer.train(60)
        runs.append(trainer.network.state())
    other = Trainer(data, NetworkSpec((5,), ("tanh",), "xavier"), TrainSettings("adam", 0.03, batch_size=32, seed=8))
    other.train(60)
    assert torch.equal(runs[0], runs[1]) and not torch.equal(runs[0], other.network.state())


def test_a_loss_that_becomes_nan_stops_training_and_keeps_the_last_finite_snapshot():
    # Minibatches: full-batch steps are guarded and never diverge (next test).
    data = make_dataset(DataSettings("gauss", points=100))
    trainer = Trainer(data, NetworkSpec((8, 8), ("relu",), "normal"),
                      TrainSettings("sgd", 1e300, batch_size=16, snapshot_every=5))
    snapshots = list(trainer.run(1000))
    assert trainer.failure and "became" in trainer.failure and "lower learning rate" in trainer.failure
    assert trainer.failure.count("\n") == 0
    assert snapshots and all(s.finite for s in snapshots) and snapshots[-1].step < 1000
    assert torch.isfinite(trainer.network.flat).all()
    assert torch.equal(trainer.network.flat, snapshots[-1].weights)
    assert trainer.advance(5) is None  # stays stopped until the settings change
    trainer.update_settings(TrainSettings("sgd", 0.01, snapshot_every=5))
    assert trainer.advance(5) is not None


@pytest.mark.parametrize("optimizer, rate", [("sgd", 1e12), ("adam", 1e6)])
def test_full_batch_steps_never_raise_the_objective_even_at_an_absurd_learning_rate(optimizer, rate):
    data = make_dataset(DataSettings("gauss", points=100))
    for every in (1, 7):
        trainer = Trainer(data, NetworkSpec((8, 8), ("relu",), "normal"), TrainSettings(optimizer, rate))
        losses = [s.train_loss for s in trainer.run(300, every=every)]
        assert trainer.failure is None and all(math.isfinite(loss) for loss in losses)
        assert all(later <= earlier for earlier, later in zip(losses, losses[1:]))  # exactly: no margin needed
        assert losses[-1] < 0.9 * losses[0]


def test_run_yields_every_n_steps_and_stops_on_request():
    data = make_dataset(DataSettings("xor", points=100))
    trainer = Trainer(data, NetworkSpec(), TrainSettings(snapshot_every=25))
    steps = []
    for snapshot in trainer.run(1000):
        steps.append(snapshot.step)
        if snapshot.step == 100:
            trainer.stop()
    assert steps == [0, 25, 50, 75, 100]


def test_the_articles_network_learns_the_quadrants_and_its_last_hidden_layer_separates_them():
    """2-3-3-1 sigmoid with the defaults, seeds 0-9: 100% training accuracy by step 2500 (the
    slowest seed needs 550, so a 4.5x margin) and still 100% at every later measure up to 5000;
    then a plane separates the classes after the second hidden layer's sigmoid."""
    for seed in range(10):
        data = make_dataset(DataSettings("quadrants", seed=seed))
        trainer = Trainer(data, NetworkSpec(), TrainSettings(seed=seed))
        reached = None
        for snapshot in trainer.run(5000, every=50):
            if reached is None and snapshot.train_accuracy == 1.0:
                reached = snapshot.step
            assert reached is None or snapshot.train_accuracy == 1.0, \
                f"seed {seed}: 100% at step {reached}, {snapshot.train_accuracy:.1%} at {snapshot.step}"
        assert reached is not None and reached <= 2500, f"seed {seed}: {snapshot.train_accuracy:.1%} at 5000"
        views = ViewComputer(data, NetworkSpec(), grid=16, probe_iterations=40).compute(snapshot)
        hidden = {s.name: s for s in views.stages}["2 sigmoid"]
        assert hidden.probe_accuracy == 1.0 and hidden.plane is not None
        assert views.stages[0].probe_accuracy < 0.75  # the input is not linearly separable


def test_a_weight_set_by_hand_is_where_training_goes_on_from():
    """The full-batch guard takes the edited weights as its baseline: a step from them that
    lowers the objective is kept, not undone back to the weights before the edit."""
    data = make_dataset(DataSettings("quadrants", points=200))
    trainer = Trainer(data, NetworkSpec(), TrainSettings())
    trainer.train(300)
    before = trainer.measure()
    index = trainer.network.n_parameters - 2  # a weight into the output
    edited = trainer.set_weight(index, -float(before.weights[index]) * 3)
    assert edited.step == before.step and edited.train_loss > before.train_loss  # the edit shows at once
    assert torch.equal(trainer.network.flat, edited.weights)
    after = trainer.advance(20)
    assert after.train_loss < edited.train_loss  # it trains on from the edit...
    moved = abs(float(after.weights[index]) - float(edited.weights[index]))
    assert moved < abs(float(after.weights[index]) - float(before.weights[index]))  # ...not back to before it
    with pytest.raises(IndexError):
        trainer.set_weight(trainer.network.n_parameters, 1.0)


def test_per_layer_penalties_weigh_each_layer_and_equal_ones_are_the_plain_penalty():
    data = make_dataset(DataSettings("circle", points=200))
    spec = NetworkSpec((5, 4), ("tanh",), "xavier")
    plain = Trainer(data, spec, TrainSettings("sgd", 1.0, l1=0.001, l2=0.002))
    same = Trainer(data, spec, TrainSettings("sgd", 1.0, layer_l1=(0.001,) * 3, layer_l2=(0.002,) * 3))
    plain.train(100)
    same.train(100)
    # Equal per-layer values are the one penalty, summed in another order: rounding alone differs.
    assert torch.allclose(plain.network.flat, same.network.flat, atol=1e-12)
    only_first = Trainer(data, spec, TrainSettings("sgd", 1.0, layer_l2=(1.0, 0.0, 0.0)))
    free = Trainer(data, spec, TrainSettings("sgd", 1.0))
    for trainer in (only_first, free):
        trainer.train(100)
    first, free_first = only_first.network.weights[0].norm(), free.network.weights[0].norm()
    assert first < 0.5 * free_first  # a strong L2 on layer 1 shrinks its weights (to well under half)...
    assert only_first.objective() > only_first.network.loss(only_first.x_train, only_first.y_train)  # ...and counts
    with pytest.raises(DeepvisError, match="one L1 per weight layer"):
        Trainer(data, spec, TrainSettings(layer_l1=(0.1, 0.1)))


def test_the_landscape_computed_a_chunk_at_a_time_is_the_landscape_of_the_engine():
    from deepvis.gui.learn.live_landscape import LiveLandscape
    from deepvis.learn.landscape import LandscapeComputer

    data = make_dataset(DataSettings("xor", points=120))
    trainer = Trainer(data, NetworkSpec((4,), ("tanh",)), TrainSettings("adam", 0.03))
    path = list(trainer.run(200, every=20))
    live = LiveLandscape(data, trainer.spec, seed=3)
    live.CHUNK_SECONDS = 1e-5  # the smallest chunks: the landscape comes in many pieces
    live.start(path[-1], path, grid=15)
    pieces = 0
    while (landscape := live.work(1e-5)) is None:
        pieces += 1
    whole = LandscapeComputer(data, trainer.spec, grid=15, seed=3).compute(path[-1], path)
    assert pieces > 3 and landscape.span == whole.span
    assert np.allclose(landscape.loss, whole.loss, rtol=1e-9) and np.allclose(landscape.path, whole.path)
    a, b, loss = live.place(path[-1])  # the newest weights sit at the plane's centre
    assert abs(a) < 1e-9 and abs(b) < 1e-9 and loss == pytest.approx(whole.centre_loss, rel=1e-9)


def test_per_layer_penalties_are_kept_in_the_setup_file_and_the_exported_script(tmp_path):
    from deepvis.learn.export_code import write_script
    from deepvis.learn.setup import Setup, load_setup, save_setup

    setup = Setup(DataSettings("circle", points=200, task="classification"), NetworkSpec((5, 4), ("tanh", "relu")),
                  TrainSettings("adam", 0.03, l2=0.001, layer_l1=(0.0, 0.002, 0.0), layer_l2=(0.001, 0.0, 0.003)),
                  steps=200)
    assert load_setup(save_setup(tmp_path / "run.json", setup)) == setup
    plain = Setup(setup.data, setup.spec, TrainSettings("adam", 0.03), steps=200)
    assert "layer_l1" not in save_setup(tmp_path / "plain.json", plain).read_text()  # older readers still read it
    trainer = Trainer(make_dataset(setup.data), setup.spec, setup.train)
    final = list(trainer.run(200))[-1]
    script = write_script(tmp_path / "run.py", setup)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    # The script prints 6 digits; autograd's rounding against the hand-written backward is all that differs.
    assert f"train loss {final.train_loss:.6f}" in out.stdout, out.stdout
    with pytest.raises(DeepvisError, match="one L1 per weight layer"):
        Setup(setup.data, NetworkSpec((5,)), setup.train)  # three layers' penalties for two weight layers


# --------------------------------------------------------------------------- probes, views, timeline


def test_probes_find_a_plane_where_there_is_one_and_not_where_there_is_none():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(300, 3, generator=gen) * 2 - 1
    separable = (x @ torch.tensor([1.0, -0.5, 0.3]) > 0.1).float()
    plane, one_dim, xor = fit_probes([x, x[:, :1], x[:, :2]], separable)
    assert plane.accuracy == 1.0 and plane.separates
    score = x @ plane.weight + plane.bias
    assert torch.equal((score > 0).float(), separable)  # the plane is in the features' own coordinates
    assert one_dim.accuracy < 1.0
    xor_labels = ((x[:, 0] * x[:, 1]) > 0).float()
    assert fit_probes([x[:, :2]], xor_labels)[0].accuracy < 0.7


def test_views_cover_every_neuron_and_stage_and_keep_pca_signs_steady():
    data = make_dataset(DataSettings("spiral", points=200))
    spec = NetworkSpec((6, 3), ("tanh", "sigmoid"), "xavier")
    trainer = Trainer(data, spec, TrainSettings("adam", 0.03))
    computer = ViewComputer(data, spec, grid=24)
    first = computer.compute(trainer.advance(0))
    assert [l.label for l in first.landscapes] == [f"1:{i}" for i in range(6)] + ["2:0", "2:1", "2:2", "3:0"]
    assert first.boundary.shape == (24, 24) and first.boundary_rgb.shape == (24, 24, 3)
    # The boundary is the network's output over the grid, row 0 at x2 = +1.
    net = Network(spec)
    net.load(first.snapshot.weights)
    top_left = torch.sigmoid(net.logits(torch.tensor([[-1 + 1 / 24, 1 - 1 / 24]]))).item()
    assert first.boundary[0, 0] == pytest.approx(top_left, abs=1e-5)
    names = [s.name for s in first.stages]
    assert names == ["input", "1 Wx+b", "1 tanh", "2 Wx+b", "2 sigmoid", "out Wx+b", "out sigmoid"]
    wide = first.stages[1]
    assert wide.projected and wide.dims == 3 and wide.points.shape == (len(data.y_train), 3)
    assert first.stages[0].dims == 2 and np.all(first.stages[0].points[:, 2] == 0)
    assert first.stages[-1].dims == 1 and first.stages[-1].axes[0] == "output"
    trainer.train(5)  # a small change must not flip the projection's axes
    second = computer.compute(trainer.measure())
    a, b = first.stages[2].points, second.stages[2].points
    assert np.mean(np.sum(a * b, 1) > 0) > 0.9


def test_one_stage_alone_is_that_stage_of_every_stage():
    data = make_dataset(DataSettings("spiral", points=200))
    spec = NetworkSpec((6, 3), ("tanh", "sigmoid"), "xavier")
    snapshot = Trainer(data, spec, TrainSettings("adam", 0.03)).advance(50)
    every = ViewComputer(data, spec, grid=12).compute(snapshot)
    for index in (0, 1, 4, 6):
        alone = ViewComputer(data, spec, grid=12).compute(snapshot, only_stage=index)
        assert alone.stage_offset == index and len(alone.stages) == 1
        mine, theirs = alone.stages[0], every.stages[index]
        assert mine.name == theirs.name and np.array_equal(mine.points, theirs.points)
        assert mine.probe_accuracy == theirs.probe_accuracy
    assert every.stage_offset == 0 and len(every.stages) == 7


def test_the_plane_cut_to_the_cube_is_an_ordered_polygon():
    square = plane_polygon(np.array([0.0, 0.0, 1.0, -0.5]))
    assert square.shape == (4, 3) and np.allclose(square[:, 2], 0.5)
    hexagon = plane_polygon(np.array([1.0, 1.0, 1.0, 0.0]))
    assert len(hexagon) == 6
    assert len(plane_polygon(np.array([1.0, 0.0, 0.0, -5.0]))) == 0  # outside the cube


def test_the_timeline_keeps_the_whole_run_within_its_limit_and_rewinds():
    data = make_dataset(DataSettings("gauss", points=60))
    trainer = Trainer(data, NetworkSpec((2,)), TrainSettings(snapshot_every=1))
    timeline = Timeline(limit=50)
    for snapshot in trainer.run(200, every=1):
        timeline.append(snapshot)
    steps = [s.step for s in timeline.snapshots()]
    assert len(timeline) <= 50 and steps[0] == 0 and steps[-1] == 200 and steps == sorted(steps)
    assert timeline[timeline.index_of_step(101)].step in (100, 101, 102, 104)
    curves = timeline.curves()
    assert list(curves["step"]) == steps and curves["train_loss"].shape == (len(steps),)
    index = timeline.index_of_step(100)
    timeline.truncate(index)
    trainer.restore(timeline[index])
    assert trainer.step_count == timeline.latest.step
    assert torch.equal(trainer.network.flat, timeline.latest.weights)
    timeline.append(trainer.advance(1))
    assert timeline.latest.step == timeline[index].step + 1


# --------------------------------------------------------------------------- the command


def test_deepvis_learn_writes_metrics_pictures_and_a_video(tmp_path, capsys):
    from deepvis.cli import main

    out = tmp_path / "run"
    assert main(["learn", "--data", "xor", "--hidden", "4", "--activation", "tanh", "--steps", "300",
                 "--points", "120", "--grid", "24", "--frames", "6", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["final"]) == {"step", "train_loss", "test_loss", "train_accuracy", "test_accuracy"}
    assert metrics["final"]["step"] == 300 and metrics["history"][-1] == metrics["final"]
    assert [h["step"] for h in metrics["history"]][:3] == [0, 10, 20]
    assert [s["name"] for s in metrics["stages"]] == ["input", "1 Wx+b", "1 tanh", "out Wx+b", "out sigmoid"]
    assert [s["width"] for s in metrics["stages"]] == [2, 4, 4, 1, 1]
    assert all(0 <= s["probe_accuracy"] <= 1 for s in metrics["stages"])
    for name in ("boundary.png", "landscapes.png", "stages.png"):
        image = cv2.imread(str(out / name))
        assert image is not None and image.shape[0] > 200 and image.std() > 10
    video = cv2.VideoCapture(str(out / "training.mp4"))
    frames = 0
    while video.read()[0]:
        frames += 1
    assert frames == 6
    assert "test accuracy" in capsys.readouterr().out


def test_deepvis_learn_bench_prints_one_json_line(capsys):
    from deepvis.cli import main

    assert main(["learn", "--bench", "--bench-seconds", "0.6", "--points", "100"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.count("\n") == 0
    report = json.loads(line)
    assert report["network"] == "2-3-3-1 sigmoid" and report["train_steps_per_s"] > 0
    assert 0 < report["ratio"] and report["view_updates_per_s"] > 0


# --------------------------------------------------------------------------- the mode, offscreen


@pytest.fixture
def learn_window(qtbot):
    from deepvis.config import Config
    from deepvis.gui.main_window import MainWindow
    from deepvis.learn.setup import Setup

    setup = Setup(DataSettings(points=120), NetworkSpec(), TrainSettings())
    window = MainWindow(Config().replace(device="cpu"), mode="learn", options={"learn": setup})
    window.resize(1280, 800)
    window.show()
    qtbot.addWidget(window)
    mode = window.current
    qtbot.waitUntil(lambda: mode.frame is not None and mode.frame.views.step > 0, timeout=TIMEOUT)
    yield window, mode
    window.shutdown()


def test_the_mode_is_the_tab_after_live_and_trains_at_once(learn_window):
    window, mode = learn_window
    assert [window.tabs.tabText(i) for i in range(2)] == ["Live", "Learn"]
    assert mode.name == "learn" and mode.playing
    assert mode.scene.software and mode.surface.software  # offscreen: no OpenGL
    assert mode.gl_note.isVisibleTo(mode) and "offscreen" in mode.gl_note.text()
    assert "2-3-3-1 sigmoid" in mode.status_text()
    assert dict(mode.key_help())["Space"] == "train / pause"


def test_pause_step_and_play(learn_window, qtbot):
    _window, mode = learn_window
    assert mode.handle_key("Space") and not mode.playing
    qtbot.waitUntil(lambda: mode.frame is not None and not mode.frame.playing, timeout=TIMEOUT)
    qtbot.wait(200)
    paused = mode.worker.live.trainer.step_count
    qtbot.wait(200)
    assert mode.worker.live.trainer.step_count == paused and "paused" in mode.status_text()
    mode.handle_key("s")
    qtbot.waitUntil(lambda: mode.frame.views.step == paused + 10, timeout=TIMEOUT)
    assert mode.controls.play_button.text().endswith("Play")
    mode.handle_key("Space")
    qtbot.waitUntil(lambda: mode.frame.views.step > paused + 100, timeout=TIMEOUT)


def test_stage_slider_and_neuron_click_change_the_3d_views(learn_window, qtbot):
    _window, mode = learn_window
    assert [s.name for s in mode.frame.views.stages] == ["2 sigmoid"]  # training: the stage shown alone
    mode.set_playing(False)
    # Paused: every stage.
    qtbot.waitUntil(lambda: not mode.frame.playing and len(mode.frame.views.stages) == 7, timeout=TIMEOUT)
    assert mode.stage_slider.value() == 4  # the second hidden layer's sigmoid
    mode.stage_slider.setValue(0)
    assert "INPUT" in mode.stage_title.text()
    assert np.array_equal(mode.scene.points, mode.frame.views.stages[0].points)
    mode.handle_key("Up")
    assert mode.stage_slider.value() == 1 and "1 WX+B" in mode.stage_title.text()
    from PyQt6.QtCore import Qt

    rect = mode.grid.tile_rect(3)  # the grid starts with the input features x1 and x2
    qtbot.mouseClick(mode.grid, Qt.MouseButton.LeftButton, pos=rect.center().toPoint())
    assert mode.vm.neuron == 3 and "NEURON 1:1" in mode.surface_title.text()
    assert mode.scene_tabs.currentIndex() == 1 and mode.surface.surface is not None
    qtbot.mouseClick(mode.grid, Qt.MouseButton.LeftButton, pos=mode.grid.tile_rect(0).center().toPoint())
    assert "INPUT FEATURE x1 · input" in mode.surface_title.text()


def test_the_timeline_moves_every_view_to_an_earlier_moment(learn_window, qtbot):
    _window, mode = learn_window
    qtbot.waitUntil(lambda: mode.frame.count > 20, timeout=TIMEOUT)
    mode.timeline.setValue(0)
    assert not mode.playing
    qtbot.waitUntil(lambda: mode.frame.views.step == 0 and not mode.frame.live, timeout=TIMEOUT)
    assert "earlier" in mode.status_text() and "of" in mode.timeline_label.text()
    first = mode.worker.live.timeline[0]
    assert mode.frame.views.snapshot is first
    mode.handle_key("Right")
    qtbot.waitUntil(lambda: mode.frame.index == 1, timeout=TIMEOUT)
    count = mode.frame.count
    mode.vm.train_from_here()  # drops the later moments and trains on from step 10
    qtbot.waitUntil(lambda: mode.frame.live and mode.frame.views.step > 10, timeout=TIMEOUT)
    assert mode.worker.live.timeline[1].step == 10 and mode.frame.count < count + 50


def test_settings_start_a_new_run_and_a_bad_csv_keeps_the_old_one(learn_window, qtbot, tmp_path):
    window, mode = learn_window
    run = mode.worker.run_id
    mode.controls.layers.remove_layer()
    mode.controls.layers.change_width(0, 1)
    mode.controls.activation.setCurrentText("tanh")
    qtbot.waitUntil(lambda: mode.frame.run > run and len(mode.frame.views.landscapes) == 5
                    and mode.frame.views.layer_titles[0].endswith("tanh"), timeout=TIMEOUT)
    assert mode.frame.views.stages[0].name == "1 tanh" and mode.stage_slider.maximum() == 4
    run = mode.worker.run_id
    mode.controls.set_csv(str(write(tmp_path / "bad.csv", "x1,x2,label\n1,2,1\n3,4,1\n")))
    qtbot.waitUntil(lambda: "only one class" in window.message, timeout=TIMEOUT)
    assert mode.worker.run_id == run
    mode.handle_key("r")
    qtbot.waitUntil(lambda: mode.worker.run_id == run + 1 or "only one class" in window.message, timeout=TIMEOUT)


def test_a_hidden_mode_does_not_train(learn_window, qtbot):
    _window, mode = learn_window
    mode.deactivate()
    qtbot.wait(150)
    steps = mode.worker.live.trainer.step_count
    qtbot.wait(300)
    assert mode.worker.live.trainer.step_count == steps
    mode.activate()
    qtbot.waitUntil(lambda: mode.worker.live.trainer.step_count > steps, timeout=TIMEOUT)


def test_snapshot_of_the_learn_mode(tmp_path, capsys):
    from deepvis.cli import main

    out = tmp_path / "learn.png"
    assert main(["snapshot", "--mode", "learn", "--out", str(out), "--size", "1100x700"]) == 0
    image = cv2.imread(str(out))
    assert image.shape[:2] == (700, 1100) and image.std() > 20


# --------------------------------------------------------------------------- OpenGL under Xvfb


def test_the_opengl_views_render_under_xvfb(tmp_path):
    with xvfb_environment() as env:
        script = Path(__file__).parent / "support" / "learn_gl_check.py"
        result = subprocess.run([sys.executable, str(script), str(tmp_path)],
                                env=env, capture_output=True, text=True, timeout=180)
    report = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    assert result.returncode == 0, f"{report}\n{result.stderr[-3000:]}"
    details = json.loads(report)
    assert details["opengl_problem"] is None and details["software"] == [False, False, False]
    for name in ("gl_stage.png", "gl_surface.png", "gl_landscape.png"):
        image = cv2.imread(str(tmp_path / name))
        assert image is not None and image.std() > 5


def test_play_after_a_nan_says_what_to_do(learn_window, qtbot):
    window, mode = learn_window
    mode.controls.activation.blockSignals(True)
    mode.controls.activation.setCurrentText("linear")
    mode.controls.activation.blockSignals(False)
    mode.controls.learning_rate.setValue(100.0)
    mode.controls.batch.setValue(10)  # minibatches: full-batch steps are guarded and never diverge
    mode.reset()  # a linear network at SGD 100: the loss overflows within a few hundred steps
    # The frame that carries the failure can be drawn just before the stop's message arrives.
    qtbot.waitUntil(lambda: mode.frame.run == mode.worker.run_id and mode.frame.failure is not None
                    and "became" in window.message, timeout=TIMEOUT)
    assert not mode.playing and "became" in window.message
    mode.set_playing(True)
    assert not mode.playing and "change the learning rate" in window.message
    mode.controls.learning_rate.setValue(0.01)
    mode.apply_controls()
    qtbot.waitUntil(lambda: mode.worker.live.trainer.failure is None, timeout=TIMEOUT)
    mode.set_playing(True)
    assert mode.playing
