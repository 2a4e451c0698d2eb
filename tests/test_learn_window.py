"""The Learn window offscreen, what Playground brought to it: the feature checkboxes, regression's
heat map, discretize, new data, per-layer settings, a weight edited in the diagram, the setup
files and the script export, six layers of eight readable at 1440 x 900, and panes that keep their
width when their titles change."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest
import torch

from deepvis.device import one_cpu_thread
from deepvis.learn.data import DataSettings
from deepvis.learn.diagram import weight_index
from deepvis.learn.network import NetworkSpec
from deepvis.learn.setup import Setup, load_setup
from deepvis.learn.trainer import TrainSettings

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
TIMEOUT = 20000  # ms; generous for a loaded machine


@pytest.fixture(autouse=True)
def one_thread():
    with one_cpu_thread():
        yield


def open_window(qtbot, setup: Setup, size=(1280, 800)):
    from deepvis.config import Config
    from deepvis.gui.main_window import MainWindow

    window = MainWindow(Config().replace(device="cpu"), mode="learn", options={"learn": setup})
    window.resize(*size)
    window.show()
    qtbot.addWidget(window)
    mode = window.current
    qtbot.waitUntil(lambda: mode.frame is not None and mode.frame.views.step > 0, timeout=TIMEOUT)
    return window, mode


@pytest.fixture
def learn(qtbot):
    window, mode = open_window(qtbot, Setup(DataSettings(points=120), NetworkSpec(), TrainSettings()))
    yield mode
    window.shutdown()


def newest_run(mode, check=lambda frame: True):
    """True once a frame of the view model's current run is shown and passes `check`."""
    return lambda: mode.frame is not None and mode.frame.run == mode.vm.run and check(mode.frame)


def test_the_feature_checkboxes_reach_the_setup_and_the_input_column(learn, qtbot):
    mode = learn
    mode.controls.features["x1x2"].setChecked(True)
    assert mode.vm.setup.spec.features == ("x1", "x2", "x1x2")
    qtbot.waitUntil(newest_run(mode, lambda f: [m.label for m in f.views.feature_maps] == ["x1", "x2", "x1·x2"]),
                    timeout=TIMEOUT)
    assert mode.frame.views.stages[0].width == 3
    assert [item.label for item in mode.grid.landscapes[:3]] == ["x1", "x2", "x1·x2"]
    mode.controls.features["x1"].setChecked(False)
    mode.controls.features["x2"].setChecked(False)
    mode.controls.features["x1x2"].setChecked(False)  # no feature left: said, and the run goes on
    assert "at least one input feature" in mode.window().message
    assert mode.vm.setup.spec.features == ("x1x2",) and mode.controls.features["x1x2"].isChecked()


def test_regression_data_shows_a_heat_map_and_no_accuracy(learn, qtbot):
    mode = learn
    mode.controls.data_combo.setCurrentText("plane")
    # A frame after some training: the untrained network's output spans a narrow band (48-57 shades
    # at steps 0-10, 360-390 from step 60 on).
    qtbot.waitUntil(newest_run(mode, lambda f: f.views.task == "regression" and f.views.step >= 50), timeout=TIMEOUT)
    rgb = mode.frame.views.boundary_rgb.reshape(-1, 3)
    assert len(np.unique(rgb, axis=0)) > 50  # shades of a continuous prediction, not two classes
    assert len(np.unique(mode.frame.point_colours[0], axis=0)) > 50  # the points by their targets
    assert not mode.curves.acc_plot.isVisible() and "MSE" in mode.controls.stats.text()
    assert mode.controls.layers.output == "linear"
    mode.vm.set_discretize(True)  # the sign alone
    qtbot.waitUntil(lambda: len(np.unique(mode.frame.views.boundary_rgb.reshape(-1, 3), axis=0)) <= 2,
                    timeout=TIMEOUT)


def test_discretize_draws_two_classes_and_new_data_keeps_the_init(learn, qtbot):
    mode = learn
    mode.controls.discretize.setChecked(True)
    assert mode.vm.discretize
    qtbot.waitUntil(lambda: len(np.unique(mode.frame.views.boundary_rgb.reshape(-1, 3), axis=0)) == 2,
                    timeout=TIMEOUT)
    first = mode.frame.dataset
    init = mode.worker.live.timeline[0].weights.clone()
    mode.controls.regenerate_button.click()
    assert mode.controls.data_seed.value() == 1 and mode.vm.setup.train.seed == 0
    qtbot.waitUntil(newest_run(mode), timeout=TIMEOUT)
    assert not np.array_equal(mode.frame.dataset.x_train, first.x_train)
    assert torch.equal(mode.worker.live.timeline[0].weights, init)  # the same network to start from


def test_per_layer_activations_and_penalties_reach_the_setup(learn, qtbot):
    mode = learn
    layers = mode.controls.layers
    layers.add_layer()
    layers.rows[1]["activation"].setCurrentText("relu")
    layers.rows[2]["l2"].setText("0.01")
    layers.rows[2]["l2"].editingFinished.emit()
    setup = mode.vm.setup
    assert setup.spec.hidden == (3, 3, 3) and setup.spec.activations == ("sigmoid", "relu", "sigmoid")
    assert setup.train.layer_l2 == (0.0, 0.0, 0.01, 0.0) and setup.train.layer_l1 == ()
    qtbot.waitUntil(newest_run(mode, lambda f: f.views.layer_titles[1] == "layer 2 · relu"), timeout=TIMEOUT)


def test_a_weight_edited_in_the_diagram_changes_the_next_steps_loss_and_is_in_the_timeline(learn, qtbot):
    from PyQt6.QtCore import Qt

    mode = learn
    mode.set_playing(False)
    mode.vm.set_view("diagram")
    qtbot.waitUntil(lambda: not mode.worker.playing and mode.frame.live and not mode.frame.playing, timeout=TIMEOUT)
    before = mode.frame.views.snapshot
    edge = next(e for e in mode.diagram._edges if e.layer == 3)  # a weight into the output
    index = weight_index(mode.vm.setup.spec.sizes, edge.layer, edge.target, edge.source)
    value = -8.0 if edge.weight > 0 else 8.0  # the opposite sign, large: the loss must rise
    mode.diagram.ask_value = lambda _edge: value
    qtbot.mouseClick(mode.diagram, Qt.MouseButton.LeftButton, pos=mode.diagram.edge_rect(edge).toPoint())
    qtbot.waitUntil(lambda: float(mode.frame.views.snapshot.weights[index]) == value, timeout=TIMEOUT)
    edited = mode.frame.views.snapshot
    assert edited.step == before.step and edited.train_loss > before.train_loss * 1.5
    assert float(mode.worker.live.timeline.latest.weights[index]) == value  # a moment of the timeline
    assert "edited" in mode.timeline_label.text() and "set to" in mode.controls.stats.text()
    mode.vm.step()
    qtbot.waitUntil(lambda: mode.frame.views.step == before.step + 10, timeout=TIMEOUT)
    after = float(mode.frame.views.snapshot.weights[index])
    # The guard took the edit as its baseline: training goes on from it (ten steps move it a
    # little, nowhere near back to where it was) instead of undoing it.
    assert abs(after - value) < abs(after - float(before.weights[index]))
    assert mode.frame.views.snapshot.train_loss < edited.train_loss


def test_a_setup_saved_from_the_menu_opens_again_and_the_script_export_writes_a_file(learn, qtbot, tmp_path):
    mode = learn
    mode.controls.features["sinx1"].setChecked(True)
    mode.controls.layers.change_width(0, 2)
    saved = mode.save_setup_dialog(tmp_path / "run.json")
    assert load_setup(saved).to_json() == mode.vm.setup.to_json()  # the file names the task the window left implied
    wanted = mode.vm.setup
    mode.controls.features["sinx1"].setChecked(False)
    mode.controls.data_combo.setCurrentText("xor")
    assert mode.vm.setup != wanted
    assert mode.open_setup_dialog(saved)
    assert mode.vm.setup == load_setup(saved)
    assert mode.controls.features["sinx1"].isChecked() and mode.controls.layers.widths == [5, 3]
    assert mode.controls.data_combo.currentText() == "quadrants"
    qtbot.waitUntil(newest_run(mode, lambda f: len(f.views.feature_maps) == 3), timeout=TIMEOUT)
    script = mode.export_script_dialog(tmp_path / "run.py")
    text = script.read_text()
    assert "def main():" in text and 'FEATURES = ["x1", "x2", "sinx1"]' in text and "HIDDEN = [5, 3]" in text
    (tmp_path / "bad.json").write_text("{\"format\": \"deepvis-learn-setup\", \"version\": 9}")
    assert not mode.open_setup_dialog(tmp_path / "bad.json")
    assert "newer than this deepvis reads" in mode.window().message


def test_six_layers_of_eight_are_readable_and_clickable_at_1440_by_900(qtbot):
    from PyQt6.QtCore import QRectF, Qt

    setup = Setup(DataSettings("spiral", points=200), NetworkSpec((8,) * 6, ("tanh",), "xavier",
                                                                  ("x1", "x2", "sinx1", "sinx2")),
                  TrainSettings("adam", 0.03))
    window, mode = open_window(qtbot, setup, (1440, 900))
    try:
        mode.set_playing(False)
        grid = mode.grid
        rects = [grid.tile_rect(i) for i in range(len(grid.landscapes))]
        assert len(rects) == 4 + 6 * 8 + 1
        # 24 px or more: a map's shape and its name inside it can be read (names are about 20 px wide).
        assert min(r.width() for r in rects) >= 24
        assert all(QRectF(grid.rect()).contains(r) for r in rects)
        assert not any(a.intersects(b) for i, a in enumerate(rects) for b in rects[i + 1:])
        qtbot.mouseClick(grid, Qt.MouseButton.LeftButton, pos=rects[-2].center().toPoint())
        assert mode.vm.neuron == len(rects) - 2 and "NEURON 6:7" in mode.surface_title.text()
        mode.vm.set_view("diagram")
        diagram = mode.diagram
        qtbot.waitUntil(lambda: len(diagram._nodes) == len(rects), timeout=TIMEOUT)
        nodes = [QRectF(n.x, n.y, n.size, n.size) for n in diagram._nodes]
        assert min(n.width() for n in nodes) >= 24 and all(QRectF(diagram.rect()).contains(n) for n in nodes)
        node = diagram._nodes[10]
        qtbot.mouseClick(diagram, Qt.MouseButton.LeftButton, pos=nodes[10].center().toPoint())
        assert mode.vm.selected_unit().label == f"{node.layer}:{node.unit}"
    finally:
        window.shutdown()


def test_panes_and_buttons_keep_their_width_when_titles_change(learn, qtbot):
    mode = learn
    qtbot.wait(100)
    panes = mode.panes.splitter.sizes()
    play = mode.controls.play_button.width()
    mode.stage_title.setText("DATA AT STAGE " + "A VERY LONG NAME " * 20)
    mode.surface_title.setText("NEURON " + "x" * 400)
    mode.landscape_title.setText("LOSS " * 100)
    mode.timeline_label.setText("step 1,234,567 of 9,999,999 · edited")
    mode.controls.set_playing(not mode.playing)
    qtbot.wait(100)
    assert mode.panes.splitter.sizes() == panes and mode.controls.play_button.width() == play
