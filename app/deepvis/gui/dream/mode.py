"""The Dream mode: DeepDream on Live's frame or any image, octave by octave beside the original, and a
gallery of class images from noise with their probabilities.

From the Live tab, `context.show_mode("dream").dream_from_live()` sends the current frame (Live pauses:
only the visible mode runs); `dream_from_live(use_unit=True)` also takes Live's selected layer and
unit. All torch work runs on the mode's own worker thread, cancellable between steps.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from pathlib import Path

import cv2
import numpy as np
from PyQt6.QtCore import Qt, QTimer
from PyQt6.QtGui import QAction
from PyQt6.QtWidgets import (QComboBox, QDoubleSpinBox, QFileDialog, QHBoxLayout, QLabel, QLineEdit, QMenuBar,
                             QPushButton, QSpinBox, QSplitter, QTabWidget, QVBoxLayout, QWidget)

from deepvis import DeepvisError
from deepvis.jobstate import JobState
from deepvis.dream.keys import KEYS
from deepvis.gui.dream.jobs import ClassesShown, DreamShown, classes_job, dream_job
from deepvis.gui.jobs import JobWorker
from deepvis.gui.mode import ModeContext, WorkerMode
from deepvis.gui.panes import ImagePane

MAX_SIDE = 400  # an opened image is shrunk to this longer side: a dream of it takes seconds, not minutes
SAMPLE = "chelsea.png"  # what the mode dreams when first shown with nothing sent to it
DEFAULT_LAYER = "default"  # the combo's entry for the model's own dream layer


def shrink(rgb: np.ndarray, side: int = MAX_SIDE) -> np.ndarray:
    """The image with its longer side at most `side`, aspect kept."""
    height, width = rgb.shape[:2]
    scale = side / max(height, width)
    if scale >= 1:
        return rgb
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


class DreamMode(WorkerMode):
    name = "dream"
    title = "Dream"

    def __init__(self, context: ModeContext, parent: QWidget | None = None):
        super().__init__(context, parent)
        self.original: np.ndarray | None = None
        self.original_name = ""
        self.state = JobState("dream")  # the job, and what the shown dream and gallery belong to
        self.octave_lines: list[str] = []
        self._started = False  # something was sent or asked for: no sample dream
        self._model_key: tuple | None = None
        self._model_future: Future | None = None  # a copy of Live's model, made between its frames
        self._own_model = None  # loaded from the config when there is no Live mode
        self._own_lock = threading.Lock()
        self.worker = JobWorker("dream", self)
        self._build()
        self.state.changed.connect(self._state_changed)

    @property
    def shown_dream(self) -> DreamShown | None:
        return self.state.result("dream")

    @property
    def classes(self) -> ClassesShown | None:
        return self.state.result("classes")

    # ------------------------------------------------------------------ construction

    def _build(self) -> None:
        self.layer = QComboBox()
        self.layer.setEditable(True)  # a module path may be typed
        self.layer.addItem(DEFAULT_LAYER)
        self.layer.setMinimumWidth(130)
        self.unit = _spin(-1, 100_000, -1)
        self.unit.setSpecialValueText("whole layer")
        self.octaves = _spin(1, 10, 4)
        self.steps = _spin(1, 200, 10)
        self.lr = QDoubleSpinBox()
        self.lr.setRange(0.01, 50.0)
        self.lr.setValue(1.5)
        self.class_name = QLineEdit("daisy")
        self.class_name.setPlaceholderText("class name or index")
        self.class_name.setMaximumWidth(160)
        self.seeds = _spin(1, 32, 4)
        self.class_steps = _spin(1, 4096, 512)
        dream_bar = QHBoxLayout()
        for label, widget in (("layer", self.layer), ("unit", self.unit), ("octaves", self.octaves),
                              ("steps", self.steps), ("lr", self.lr)):
            dream_bar.addWidget(QLabel(label))
            dream_bar.addWidget(widget)
        self.buttons = {}
        for key, text, slot in (("o", "Open…", self.open_dialog), ("f", "Live frame", self.dream_from_live),
                                ("d", "Dream", self.start_dream), ("x", "Stop", self.stop),
                                ("s", "Save…", self.save_dialog)):
            dream_bar.addWidget(self._button(key, text, slot))
        dream_bar.addStretch(1)
        class_bar = QHBoxLayout()
        for label, widget in (("class", self.class_name), ("seeds", self.seeds), ("steps", self.class_steps)):
            class_bar.addWidget(QLabel(label))
            class_bar.addWidget(widget)
        class_bar.addWidget(self._button("c", "Classes from noise", self.start_classes))
        class_bar.addStretch(1)
        for widget in (self.layer, self.unit, self.octaves, self.steps, self.lr, self.class_name, self.seeds,
                       self.class_steps):
            widget.setFocusPolicy(Qt.FocusPolicy.ClickFocus)  # keys belong to the mode until a field is clicked
        self.class_name.returnPressed.connect(self.start_classes)

        self.original_pane = ImagePane("original", smooth=True, placeholder="open an image (o) or send Live's "
                                                                             "frame (f)")
        self.dream_pane = ImagePane("dream", smooth=True, placeholder="the dream appears here octave by octave")
        self.octave_label = QLabel("")
        self.octave_label.setObjectName("emptyState")
        self.octave_label.setWordWrap(True)
        panes = QSplitter(Qt.Orientation.Horizontal)
        panes.addWidget(self.original_pane)
        panes.addWidget(self.dream_pane)
        dream_view = QWidget()
        column = QVBoxLayout(dream_view)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(panes, 1)
        column.addWidget(self.octave_label, 0)

        self.sheet_pane = ImagePane("class images from noise", smooth=True,
                                    placeholder="type a class (e.g. daisy, tabby, 985) and press Classes (c)")
        self.classes_label = QLabel("")
        self.classes_label.setObjectName("emptyState")
        self.classes_label.setWordWrap(True)
        classes_view = QWidget()
        column = QVBoxLayout(classes_view)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.sheet_pane, 1)
        column.addWidget(self.classes_label, 0)

        self.views = QTabWidget()
        self.views.tabBar().setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.views.addTab(dream_view, "DeepDream")
        self.views.addTab(classes_view, "Classes from noise")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(dream_bar)
        layout.addLayout(class_bar)
        layout.addWidget(self.views, 1)

    def _button(self, key: str, text: str, slot) -> QPushButton:
        button = QPushButton(text)
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        button.setToolTip(f"key {key}")
        button.clicked.connect(lambda _checked=False: slot())
        self.buttons[key] = button
        return button

    def add_menus(self, menu_bar: QMenuBar) -> list:
        menu = menu_bar.addMenu("&Dream")
        entries = [("Dream this frame", "f", self.dream_from_live),
                   ("Dream this frame at Live's layer and unit", "u", lambda: self.dream_from_live(use_unit=True)),
                   ("Dream again", "d", self.start_dream), ("Open image…", "o", self.open_dialog),
                   ("Class images from noise", "c", self.start_classes), ("Stop", "x", self.stop),
                   ("Save dream as PNG…", "s", self.save_dialog), ("Back to Live", "l", self.back_to_live)]
        self.menu_actions = {}
        for text, key, slot in entries:
            action = QAction(f"{text}\t{key}", self)
            action.triggered.connect(lambda _checked=False, slot=slot: slot())
            menu.addAction(action)
            self.menu_actions[text] = action
        return [menu]

    def shared_actions(self, menu: str) -> list:
        if menu != "File":
            return []
        action = QAction("Save dream as PNG…", self)
        action.triggered.connect(lambda _checked=False: self.save_dialog())
        return [action]

    # ------------------------------------------------------------------ the model

    def _model_getter(self):
        """A function for the worker that returns the model to dream with: a copy of Live's when
        there is a Live mode (the one the user is looking at), else one loaded from the config."""
        live = self.context.live
        if live.loaded is not None:
            key = (id(live.loaded), live.loaded.name)
            if key != self._model_key or self._model_future is None:
                self._model_key, self._model_future = key, live.model_copy()
            future = self._model_future
            return lambda: future.result(timeout=60)
        config = self.context.config

        def own():
            from deepvis.session import open_model

            with self._own_lock:
                if self._own_model is None:
                    self._own_model = open_model(config)
                return self._own_model
        return own

    # ------------------------------------------------------------------ jobs

    def dream_from_live(self, use_unit: bool = False) -> bool:
        """Dream Live's current frame (the model's input as shown), with Live's model; with use_unit,
        amplify Live's selected layer and unit rather than the model's dream layer. Call it from the
        Live tab as `context.show_mode("dream").dream_from_live()`."""
        self._started = True
        live = self.context.live
        frame = live.frame
        if frame is None:
            self.context.show_message("dream: no Live frame yet")
            return False
        self.set_original(frame.rgb.copy(), f"Live frame · {frame.model_name}")
        self._offer_layers(live.layer_names())
        if use_unit:
            self.layer.setCurrentText(live.layer)
            self.unit.setValue(live.unit)
        else:
            self.layer.setCurrentText(DEFAULT_LAYER)
            self.unit.setValue(-1)
        self.start_dream()
        return True

    def dream_unit_from_live(self) -> bool:
        return self.dream_from_live(use_unit=True)

    def set_original(self, rgb: np.ndarray, name: str) -> None:
        self.original, self.original_name = shrink(rgb), name
        height, width = self.original.shape[:2]
        self.original_pane.title = f"original · {name} · {width}×{height}"
        self.original_pane.set_array(self.original)

    def open_image(self, path: str) -> bool:
        from deepvis.sources import read_image

        self._started = True
        try:
            rgb = read_image(path)
        except DeepvisError as error:
            self.context.show_message(f"dream: {error}")
            return False
        self.set_original(rgb, Path(path).name)
        self.start_dream()
        return True

    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Dream on an image", "",
                                              "Images (*.png *.jpg *.jpeg *.bmp *.webp *.tif *.tiff)")
        if path:
            self.open_image(path)

    def dream_settings(self):
        from deepvis.dream.deepdream import DreamSettings

        return DreamSettings(octaves=self.octaves.value(), steps=self.steps.value(), lr=self.lr.value())

    def start_dream(self) -> None:
        from deepvis.dream.deepdream import pixel_steps

        self._started = True
        if self.original is None:
            self.context.show_message("dream: open an image (o) or send Live's frame (f) first")
            return
        layer = self.layer.currentText().strip()
        unit = self.unit.value()
        settings = self.dream_settings()
        self.views.setCurrentIndex(0)
        self.octave_lines = []
        self.octave_label.setText("")
        self.dream_pane.title = "dream"
        self.state.start("dream", f"dreaming {self.original_name} (the smallest octave comes first)",
                         self.original_name)
        # Pixel-steps, as the job reports them (an image here is at most MAX_SIDE a side: well within
        # the bar's 32-bit range).
        self.progress.emit(0, pixel_steps(*self.original.shape[:2], settings))
        self.worker.submit(dream_job(self._model_getter(), self.original, self.original_name,
                                     None if layer in ("", DEFAULT_LAYER) else layer,
                                     None if unit < 0 else unit, settings))

    def start_classes(self) -> None:
        self._started = True
        name = self.class_name.text().strip()
        if not name:
            self.context.show_message("dream: type a class name or index first")
            return
        seeds, steps = self.seeds.value(), self.class_steps.value()
        self.views.setCurrentIndex(1)
        self.classes_label.setText("")
        self.state.start("classes", f"optimizing '{name}' from noise for {seeds} seeds", name)
        self.progress.emit(0, steps * seeds)
        self.worker.submit(classes_job(self._model_getter(), name, seeds, steps))

    def stop(self) -> None:
        """Cancel the job: nothing more of it is shown, and the panes say it stopped."""
        if self.state.stop():
            self.worker.cancel()
            self.progress.emit(0, -1)

    def back_to_live(self) -> None:
        self.context.show_mode("live")  # Live resumes: only the visible mode runs

    def save_result(self, path: str | Path) -> Path:
        """The dream as a PNG (and its figures beside it as JSON)."""
        from deepvis.dream.files import write_dream

        shown = self.shown_dream
        if shown is None:
            raise DeepvisError("no dream to save yet")
        path = Path(path)
        if path.suffix.lower() != ".png":
            path = path.with_suffix(".png")
        write_dream(shown.result, path, shown.model, shown.input_name)
        return path

    def save_dialog(self) -> None:
        if self.shown_dream is None:
            self.context.show_message("dream: no dream to save yet")
            return
        path, _ = QFileDialog.getSaveFileName(self, "Save the dream", "dream.png", "PNG (*.png)")
        if path:
            try:
                self.context.show_message(f"dream: saved {self.save_result(path)}")
            except DeepvisError as error:
                self.context.show_message(f"dream: {error}")

    # ------------------------------------------------------------------ results

    def job_progressed(self, done: int, total: int) -> None:
        self.progress.emit(done, total)

    def job_yielded(self, item) -> None:
        kind = item[0]
        if kind == "start":
            _, model, layer, names = item
            self._offer_layers(names)
            self.dream_pane.title = f"dream · {model} · {layer}"
        elif kind == "octave":
            _, index, records, image = item
            total = self.octaves.value()
            self.octave_lines = [f"octave {i + 1}: {r.size[0]}×{r.size[1]}, objective "
                                 f"{r.objective_start:.3g} → {r.objective_end:.3g}" for i, r in enumerate(records)]
            record = records[-1]
            self.dream_pane.title = f"dream · octave {index + 1}/{total} · {record.size[0]}×{record.size[1]}"
            self.dream_pane.set_array(image)
            self.octave_label.setText(" · ".join(self.octave_lines))
        elif kind == "classes":
            _, label, seeds = item
            self.sheet_pane.set_placeholder(f"optimizing '{label}' from noise for {seeds} seeds…")

    def job_idle(self) -> None:
        self.progress.emit(0, -1)

    def job_returned(self, result) -> None:
        if isinstance(result, ClassesShown):
            g = result.gallery
            self.state.finish(result, f"dream: '{g.label}' from noise: top-1 in {g.top1_share:.0%} of "
                                      f"{len(g.seeds)} seeds")
            self._show_classes(result)
        else:
            r = result.result
            self.state.finish(result, f"dream: {result.input_name} done, objective ×{r.ratio:.2f} over "
                                      f"{len(r.octaves)} octaves")
            self._show_dream(result)

    def _state_changed(self, state: JobState) -> None:
        """Every transition: the status line, and what a pane without a new picture says."""
        self.context.show_message(state.message)
        for kind, pane in (("dream", self.dream_pane), ("classes", self.sheet_pane)):
            text = state.placeholder(kind)
            if text is not None:
                pane.set_placeholder(text)

    def _show_dream(self, shown: DreamShown) -> None:
        result = shown.result
        if shown.layers:
            self._offer_layers(list(shown.layers))
        unit = "" if result.unit is None else f" unit {result.unit}"
        self.dream_pane.title = f"dream · {shown.model} · {result.layer}{unit} · objective ×{result.ratio:.2f}"
        self.dream_pane.set_array(result.image)

    def _show_classes(self, shown: ClassesShown) -> None:
        gallery = shown.gallery
        self.sheet_pane.title = (f"'{gallery.label}' ({gallery.target}) from noise · {shown.model} · "
                                 f"{gallery.settings.steps} steps")
        self.sheet_pane.set_array(shown.sheet)
        seeds = " · ".join(
            f"seed {s}: p {m.probability:.2f} (#{m.rank}{'' if m.rank == 1 else ', top ' + m.top_label})"
            for s, m in zip(gallery.seeds, gallery.measures))
        self.classes_label.setText(f"top-1 in {gallery.top1_share:.0%} of seeds, median probability "
                                   f"{gallery.median_probability:.2f} (each PNG re-read and classified)\n{seeds}")

    def job_failed(self, message: str) -> None:
        self.progress.emit(0, -1)
        self.state.fail(message)  # e.g. a misspelt class: said on its pane, not "optimizing…" forever

    def _offer_layers(self, names: list[str]) -> None:
        current = self.layer.currentText()
        wanted = [DEFAULT_LAYER, *names]
        if [self.layer.itemText(i) for i in range(self.layer.count())] != wanted:
            self.layer.blockSignals(True)
            self.layer.clear()
            self.layer.addItems(wanted)
            self.layer.setCurrentText(current)
            self.layer.blockSignals(False)

    def _dream_sample(self) -> None:
        """Something to look at when the mode is first shown with nothing sent to it."""
        from deepvis.paths import SAMPLE_IMAGES

        if self._started or not self.active or not (SAMPLE_IMAGES / SAMPLE).exists():
            return
        self.open_image(str(SAMPLE_IMAGES / SAMPLE))

    # ------------------------------------------------------------------ the shell's interface

    def handle_key(self, name: str) -> bool:
        return KEYS.run(name, self)

    def key_help(self) -> list[tuple[str, str]]:
        return KEYS.help()

    def status_text(self) -> str:
        if self.state.busy:
            return f"dream: {self.state.job.text} | working…"
        if self.state.phase in ("stopped", "failed"):
            return self.state.message
        if self.views.currentIndex() == 1 and self.classes is not None:
            g = self.classes.gallery
            return f"dream: '{g.label}' from noise | top-1 {g.top1_share:.0%} | median p {g.median_probability:.2f}"
        if self.shown_dream is not None:
            r = self.shown_dream.result
            unit = "" if r.unit is None else f" unit {r.unit}"
            return f"dream: {self.shown_dream.input_name} | {r.layer}{unit} | objective ×{r.ratio:.2f}"
        return f"dream: {self.original_name or 'no image'}"

    def shown(self, first: bool) -> None:
        if not self._started:
            QTimer.singleShot(0, self._dream_sample)  # after a caller's dream_from_live(), which wins

    def ready(self) -> bool:
        return self.shown_dream is not None or self.classes is not None


def _spin(low: int, high: int, value: int) -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(low, high)
    spin.setValue(value)
    return spin
