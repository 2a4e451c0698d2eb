"""The Tabular window offscreen: it trains when first shown, a click shows a neuron, a row colours
the network, a hidden mode pauses training, a CSV file is named and its columns take a kind."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path

import numpy as np
import pytest

from deepvis.device import one_cpu_thread

TIMEOUT = 15000  # ms
MIXED = """size,colour,weight,price
1.0,red,10,cheap
2.0,blue,,cheap
3.5,,12,dear
4.0,red,14,dear
"""


@pytest.fixture(autouse=True)
def one_thread():
    """Networks this small run fastest on one thread, and a loaded machine punishes a team."""
    with one_cpu_thread():
        yield


def write(tmp_path, text: str, name: str = "t.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.fixture
def mode(qtbot):
    from deepvis.config import Config
    from deepvis.gui.mode import ModeContext
    from deepvis.gui.tabular.mode import TabularMode

    hints = []
    context = ModeContext(Config(), lambda text: None, hints.append, lambda name: None)
    widget = TabularMode(context)
    widget.hints = hints
    widget.epochs_box.setValue(25)
    widget.resize(1200, 800)
    widget.show()
    qtbot.addWidget(widget)
    yield widget
    widget.shutdown()


def neuron_point(widget, layer: int, neuron: int):
    """Where a neuron is drawn, in the network view's viewport coordinates."""
    from PyQt6.QtCore import QPointF

    net = widget.network
    scene = net.getViewBox().mapViewToScene(QPointF(layer + 1, float(net.positions[layer + 1][neuron])))
    return net.mapFromScene(scene)


def test_the_mode_trains_then_a_click_shows_a_neuron_and_a_row_colours_the_network(mode, qtbot):
    from PyQt6.QtCore import Qt

    progress = []
    mode.progress.connect(lambda done, total: progress.append((done, total)))
    assert not mode.ready()
    mode.activate()  # trains the default table at once
    qtbot.waitUntil(mode.ready, timeout=TIMEOUT)
    vm = mode.vm
    result = vm.result
    assert result.table.name == "wine" and result.sizes == [13, 16, 8, 3]
    assert any(total == 25 and done > 0 for done, total in progress) and progress[-1] == (0, -1)
    assert mode.worker.isRunning() and mode.neuron_panel.bars.order  # a neuron is shown at once

    mode.network.repaint()
    qtbot.mouseClick(mode.network.viewport(), Qt.MouseButton.LeftButton, pos=neuron_point(mode, 1, 5))
    qtbot.waitUntil(lambda: (vm.layer, vm.neuron) == (1, 5), timeout=3000)
    summary = result.layers[1]
    assert "h2[5]" in mode.neuron_panel.title.text()
    assert sorted(mode.neuron_panel.bars.order) == sorted(result.table.variables)
    # Sorted by the mean |attribution|, which a signed mean can only fall short of (effects cancel).
    assert np.all(result.layers[1].mean_abs + 1e-9 >= np.abs(result.layers[1].mean))
    assert mode.neuron_panel.bars.order[0] == result.layers[1].variables[int(np.argmax(result.layers[1].mean_abs[5]))]
    top = [int(mode.neuron_panel.top_table.item(i, 1).text()) for i in range(mode.neuron_panel.top_table.rowCount())]
    assert len(top) == 9 and np.allclose(summary.values[top, 5], np.sort(summary.values[:, 5])[::-1][:9])

    mode.rows_view.selectRow(7)
    qtbot.waitUntil(lambda: vm.row == 7, timeout=3000)
    colours = mode.network._colors
    assert [len(c) for c in colours] == [13, 16, 8, 3]
    high = int(np.argmax(summary.values[:, 5]))
    vm.select_row(high)  # the row that excites h2[5] most gives it the top colour
    assert tuple(mode.network._colors[2][5]) == (255, 170, 0)
    mode.neuron_panel.row_bars_box.setChecked(True)
    assert vm.show_row_bars
    assert "row" in mode.neuron_panel.title.text()
    before = vm.result.layers[1].mean[5].copy()
    mode.method_box.setCurrentText("ablation")  # explained again, without retraining, the selection kept
    qtbot.waitUntil(lambda: vm.result.method == "ablation", timeout=TIMEOUT)
    assert (vm.layer, vm.neuron, vm.row) == (1, 5, high) and vm.result.table is result.table
    assert not np.allclose(vm.result.layers[1].mean[5], before)
    assert mode.handle_key("Down") and vm.neuron == 6
    assert mode.handle_key("Right") and vm.layer == 2
    assert "wine" in mode.status_text()
    # An output neuron is named by its class.
    assert mode.neuron_panel.title.text().startswith("<b>out[2]</b> · the logit of class 'class_2'")

    # Another table: nothing of wine's stays beside it while it trains.
    mode._on_table_chosen(mode.table_box.findText("diabetes"))  # as the combo does
    assert vm.result is None and mode.neuron_panel.bars.order == [] and mode.rows_model.rowCount() == 0
    assert mode.neuron_panel.top_table.rowCount() == 0 and "diabetes" in mode.summary.text()
    qtbot.waitUntil(mode.ready, timeout=TIMEOUT)
    assert vm.result.table.name == "diabetes" and mode.rows_model.rowCount() == len(vm.result.table)
    assert "predicted progression" in [label.toPlainText() for label in mode.network.labels]


def test_the_mode_pauses_training_while_hidden(mode, qtbot):
    mode._started = True  # no automatic training on activate
    mode.activate()
    mode.epochs_box.setValue(5000)
    vm = mode.vm
    vm.choose_data("wine")
    qtbot.waitUntil(lambda: len(vm.history) > 2, timeout=TIMEOUT)
    mode.deactivate()
    qtbot.wait(200)
    count = len(vm.history)
    qtbot.wait(300)
    assert len(vm.history) <= count + 1 and vm.training
    mode.activate()
    qtbot.waitUntil(lambda: len(vm.history) > count + 3, timeout=TIMEOUT)
    mode.handle_key("Esc")
    qtbot.waitUntil(mode.ready, timeout=TIMEOUT)
    assert vm.result.stopped == "stopped" and vm.result.progress.epoch < 5000


def test_a_bad_csv_in_the_mode_is_one_message(mode, qtbot, tmp_path):
    messages = []
    mode.message.connect(messages.append)
    mode._started = True
    mode.activate()
    mode.use_csv(str(write(tmp_path, MIXED)), "nope")
    qtbot.waitUntil(lambda: bool(messages) and "no such column" in messages[-1], timeout=TIMEOUT)
    assert not mode.vm.training and mode.vm.result is None


def shop_csv(tmp_path) -> Path:
    """40 rows: an id (1..40), a size, a count of 0-3 that could be a category, the class."""
    rng = np.random.default_rng(1)
    rows = [f"{i + 1},{size:.3f},{i % 4},{'dear' if size > 2 else 'cheap'}"
            for i, size in enumerate(rng.uniform(0, 4, 40))]
    return write(tmp_path, "id,size,count,price\n" + "\n".join(rows) + "\n", "shop.csv")


def choose_kind(qtbot, column_list, column: str, kind: str) -> None:
    """Pick a kind in a column's combo box as a user does: open it, click the item."""
    from PyQt6.QtCore import Qt

    row = [name for name, _, _ in column_list.shown].index(column)
    box = column_list.cellWidget(row, 1)
    box.showPopup()
    view = box.view()
    index = view.model().index(box.findText(kind), 0)
    view.scrollTo(index)
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.visualRect(index).center())


def test_the_window_names_the_file_and_its_columns_take_a_kind(mode, qtbot, tmp_path):
    messages = []
    mode.message.connect(messages.append)
    mode._started = True
    mode.activate()
    path = shop_csv(tmp_path)
    mode.use_csv(str(path), "price")
    assert mode.table_box.currentText() == "shop.csv" and mode.table_box.toolTip() == str(path)
    assert mode.column_list.kind("id") == "unread"  # listed from the header before the file loads
    qtbot.waitUntil(mode.ready, timeout=TIMEOUT)
    vm = mode.vm
    assert "shop.csv" in mode.columns_title.text() and "shop.csv" in mode.summary.text()
    assert [mode.column_list.kind(c) for c in ("price", "id", "size", "count")] == [
        "target", "numeric", "numeric", "numeric"]
    assert "id?" in mode.column_list.item(1, 0).text()
    assert any("column 'id'" in m and "like an id" in m and "dropped" in m for m in messages)

    choose_kind(qtbot, mode.column_list, "id", "dropped")
    qtbot.waitUntil(lambda: mode.ready() and "id" not in vm.result.table.variables, timeout=TIMEOUT)
    assert mode.column_list.kind("id") == "dropped" and vm.result.columns == ["size", "count"]
    assert "id?" not in mode.column_list.item(1, 0).text()
    choose_kind(qtbot, mode.column_list, "count", "categorical")
    qtbot.waitUntil(lambda: mode.ready() and "count=3" in vm.result.columns, timeout=TIMEOUT)
    assert vm.result.columns == ["size", "count=0", "count=1", "count=2", "count=3"]
    assert mode.column_list.kind("count") == "categorical" and mode.table_box.currentText() == "shop.csv"


def test_typed_keys_in_a_focused_table_reach_the_window(qtbot):
    """q, t, b... typed while a table has the focus go to the window's keys, not the table's search."""
    from PyQt6.QtCore import Qt

    from deepvis.config import Config
    from deepvis.gui.main_window import MainWindow

    window = MainWindow(Config().replace(device="cpu"), mode="tabular")
    qtbot.addWidget(window)
    window.show()
    mode = window.current
    try:
        qtbot.waitUntil(mode.ready, timeout=TIMEOUT)
        mode.rows_view.setFocus()
        assert not mode.vm.show_row_bars
        qtbot.keyClick(mode.rows_view, "b")
        assert mode.vm.show_row_bars  # the mode's key, from the focused table
        qtbot.keyClick(mode.rows_view, Qt.Key.Key_Down)  # the table keeps its own navigation
        qtbot.keyClick(mode.rows_view, "q")
        assert not window.isVisible()  # q quits from anywhere, as File > Quit
    finally:
        window.shutdown()
