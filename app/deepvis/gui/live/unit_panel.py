"""The per-unit panel: the selected unit's activation-maximization images, its top-9 patches
and their deconvs, read from the unit store off the GUI thread, with the progress of a unit's compute
(gui.live.unit_jobs)."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from pathlib import Path

from PyQt6.QtCore import QObject, QPointF, QRectF, QRunnable, QSize, Qt, QThreadPool, pyqtSignal
from PyQt6.QtGui import QImage, QMouseEvent, QPainter
from PyQt6.QtWidgets import (QHBoxLayout, QLabel, QProgressBar, QPushButton, QSizePolicy, QStackedWidget,
                             QToolTip, QVBoxLayout, QWidget)

from deepvis import DeepvisError
from deepvis.gui.panes import fit_rect
from deepvis.gui.theme import PANEL
from deepvis.gui.controls import section_title

log = logging.getLogger("deepvis.gui")


class ImageCache:
    """A thread-safe LRU of decoded images, keyed by path and modification time."""

    def __init__(self, max_items: int = 256):
        self.max_items = max_items
        self._items: OrderedDict[tuple[str, int], QImage] = OrderedDict()
        self._lock = threading.Lock()

    def load(self, path: Path) -> QImage:
        try:
            key = (str(path), path.stat().st_mtime_ns)
        except OSError:
            return QImage()
        with self._lock:
            image = self._items.get(key)
            if image is not None:
                self._items.move_to_end(key)
                return image
        image = QImage(str(path))  # QImage (not QPixmap) may be decoded on any thread
        with self._lock:
            self._items[key] = image
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)
        return image

    def __len__(self) -> int:
        return len(self._items)


class _Relay(QObject):
    loaded = pyqtSignal(object, int, object, object)  # key, serial, UnitImages, {"optimized": [...], ...}


class _LoadJob(QRunnable):
    def __init__(self, store, key: tuple[str, int], serial: int, cache: ImageCache, relay: _Relay):
        super().__init__()
        self.store, self.key, self.serial, self.cache, self.relay = store, key, serial, cache, relay

    def run(self) -> None:
        try:
            images = self.store.unit_images(*self.key)
            decoded = {kind: [self.cache.load(p) for p in getattr(images, kind)]
                       for kind in ("optimized", "patches", "deconvs")}
        except Exception as error:  # a damaged store must not take the window down
            log.warning("cannot read unit images for %s:%s: %s", *self.key, error)
            return
        self.relay.loaded.emit(self.key, self.serial, images, decoded)


class ThumbGrid(QWidget):
    """A few images in a grid of square cells, smoothly scaled; hovering a cell shows its caption."""

    GAP = 3

    def __init__(self, columns: int, rows: int, parent: QWidget | None = None):
        super().__init__(parent)
        self.columns, self.rows = columns, rows
        self.images: list[QImage] = []
        self.captions: list[str] = []
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(60, 60 * rows // columns)
        self.setMouseTracking(True)

    def sizeHint(self) -> QSize:
        return QSize(240, 240 * self.rows // self.columns)

    def set_images(self, images: list[QImage], captions: list[str] | None = None) -> None:
        """captions: one line per image (where it came from, its value), or None."""
        kept = [i for i, im in enumerate(images) if not im.isNull()]
        self.images = [images[i] for i in kept]
        self.captions = [captions[i] for i in kept] if captions and len(captions) == len(images) else []
        self.update()

    def cell_rect(self, index: int) -> QRectF:
        gap = self.GAP
        cell = min((self.width() - gap * (self.columns - 1)) / self.columns,
                   (self.height() - gap * (self.rows - 1)) / self.rows)
        x0 = (self.width() - (cell * self.columns + gap * (self.columns - 1))) / 2
        row, col = divmod(index, self.columns)
        return QRectF(x0 + col * (cell + gap), row * (cell + gap), cell, cell)

    def cell_at(self, pos: QPointF) -> int | None:
        return next((i for i in range(len(self.images)) if self.cell_rect(i).contains(pos)), None)

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        # Only the images there are (a top-k of k < 9 leaves cells empty); empty cells only when none.
        for i in range(len(self.images) if self.images else self.columns * self.rows):
            rect = self.cell_rect(i)
            if i < len(self.images):
                image = self.images[i]
                painter.drawImage(fit_rect(rect, image.width(), image.height()), image)
            else:
                painter.fillRect(rect, PANEL.darker(115))
        painter.end()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        cell = self.cell_at(event.position())
        if cell is not None and cell < len(self.captions):
            QToolTip.showText(event.globalPosition().toPoint(), self.captions[cell], self)
        else:
            QToolTip.hideText()


def _qimage(rgb) -> QImage:
    """A QImage owning a copy of an H x W x 3 uint8 array."""
    height, width = rgb.shape[:2]
    return QImage(rgb.tobytes(), width, height, 3 * width, QImage.Format.Format_RGB888).copy()


def _section(title: str) -> QLabel:
    # A title never widens the panel: the panes keep their geometry whatever the text.
    return section_title(title.upper(), elastic=True)


class UnitPanel(QWidget):
    """Shows the stored images of the selected unit, or how to compute them."""

    compute_requested = pyqtSignal()
    images_shown = pyqtSignal(object)  # the (layer, unit) now displayed

    def __init__(self, store_root: Path, parent: QWidget | None = None):
        super().__init__(parent)
        self.store_root = Path(store_root)
        self.store = None
        self.model_name, self.weights = "", None
        self.store_error: str | None = None
        self.key: tuple[str, int] | None = None
        self.shown_key: tuple[str, int] | None = None
        self._load_serial = 0  # each read of the store is numbered; only the latest one is shown
        self.current_images = None
        self.cache = ImageCache()
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(2)
        self._relay = _Relay()
        self._relay.loaded.connect(self._on_loaded)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)

        self.title = QLabel("unit")
        self.title.setObjectName("sectionTitle")
        self.info = QLabel("")
        self.info.setObjectName("sectionTitle")
        for label in (self.title, self.info):
            label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.optimized = ThumbGrid(3, 1)
        self.patches = ThumbGrid(3, 3)
        self.deconvs = ThumbGrid(3, 3)
        # The top-9 seen in this session's frames, beside the stored top-9 (and on the empty page).
        self.live_grid, self.live_grid_empty = ThumbGrid(3, 3), ThumbGrid(3, 3)
        self.live_title, self.live_title_empty = _section("seen live"), _section("seen live")
        self.live_key: tuple[str, int] | None = None
        self._live_frames = None
        images_page = QWidget()
        layout = QVBoxLayout(images_page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(_section("activation maximization"))
        layout.addWidget(self.optimized, 1)
        columns = QHBoxLayout()
        columns.setSpacing(8)
        for column in ((("top-9 patches", self.patches), ("top-9 deconvs", self.deconvs)),
                       ((self.live_title, self.live_grid), (None, None))):
            stack = QVBoxLayout()
            stack.setSpacing(4)
            for title, widget in column:
                if title is None:
                    stack.addStretch(1)
                    continue
                stack.addWidget(_section(title) if isinstance(title, str) else title)
                stack.addWidget(widget, 1)
            columns.addLayout(stack, 1)
        layout.addLayout(columns, 6)

        self.empty_text = QLabel()
        self.empty_text.setObjectName("emptyState")
        self.empty_text.setWordWrap(True)
        self.empty_text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.empty_text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        # Its wrapped height must not size the panel (a long hint would push the panes above it).
        self.empty_text.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.compute_button = QPushButton("Compute now  (x)")
        self.compute_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.compute_button.clicked.connect(self.compute_requested)
        empty_page = QWidget()
        empty_layout = QVBoxLayout(empty_page)
        empty_layout.addStretch(1)
        empty_layout.addWidget(self.empty_text)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.compute_button)
        row.addStretch(1)
        empty_layout.addLayout(row)
        empty_layout.addStretch(1)
        empty_layout.addWidget(self.live_title_empty)
        empty_layout.addWidget(self.live_grid_empty, 2)

        self.pages = QStackedWidget()
        self.pages.addWidget(images_page)
        self.pages.addWidget(empty_page)
        self.progress = QProgressBar()
        policy = self.progress.sizePolicy()
        policy.setRetainSizeWhenHidden(True)  # its row stays: showing it moves nothing
        self.progress.setSizePolicy(policy)
        self.progress.hide()

        outer = QVBoxLayout(self)
        outer.setContentsMargins(8, 4, 8, 8)
        outer.setSpacing(4)
        header = QHBoxLayout()
        header.addWidget(self.title)
        header.addStretch(1)
        header.addWidget(self.info)
        outer.addLayout(header)
        outer.addWidget(self.pages, 1)
        outer.addWidget(self.progress)

    def hasHeightForWidth(self) -> bool:
        # Wrapped texts inside must not size the panel: the column shares its height by stretch,
        # so the panes above keep their geometry whatever the panel shows.
        return False

    # -- model and selection ----------------------------------------------------------------

    def set_model(self, model_name: str, fingerprint: str | None = None, weights: str | None = None) -> None:
        """The model whose images are shown: its store (by name and weights fingerprint) over the
        shipped images; `weights` is the local file it came from, for the hint's commands."""
        self.model_name, self.weights = model_name, weights
        self.store, self.store_error = None, None
        try:
            from deepvis.paths import SHIPPED_UNITS
            from deepvis.unitvis.store import UnitStore

            self.store = UnitStore(self.store_root, model_name, fingerprint, shipped=SHIPPED_UNITS)
        except ImportError:
            self.store_error = "the unit store is not available in this installation"
        except DeepvisError as error:
            self.store_error = str(error)
        self.shown_key = None
        if self.key is not None:
            self.show_unit(*self.key, force=True)

    def show_unit(self, layer: str, unit: int, force: bool = False) -> None:
        key = (layer, unit)
        if key == self.key and not force:
            return
        self.key = key
        self.title.setText(f"IMAGES OF {layer}:{unit}")
        self._live_frames = None
        for grid in (self.live_grid, self.live_grid_empty):
            grid.set_images([])
        if self.store is None:
            self._show_empty()
            self.images_shown.emit(key)
            return
        self._load_serial += 1
        self.pool.start(_LoadJob(self.store, key, self._load_serial, self.cache, self._relay))

    def refresh(self) -> None:
        if self.key is not None:
            self.show_unit(*self.key, force=True)

    def _on_loaded(self, key, serial: int, images, decoded) -> None:
        if key != self.key or serial != self._load_serial:
            return  # a newer selection or re-read is on its way: an older read must not overwrite it
        self.current_images = images
        self.shown_key = key
        if images.empty:
            self._show_empty()
        else:
            self.optimized.set_images(decoded["optimized"])
            self.patches.set_images(decoded["patches"], _patch_captions(images.info.get("topk")))
            self.deconvs.set_images(decoded["deconvs"])
            self.info.setText(_summary(images.info))
            self.pages.setCurrentIndex(0)
        self.images_shown.emit(key)

    def _show_empty(self) -> None:
        layer, unit = self.key if self.key else ("LAYER", 0)
        self.info.setText("")
        if self.store_error:
            self.empty_text.setText(self.store_error)
            self.compute_button.setEnabled(False)
        else:
            self.empty_text.setText(self._empty_message(computing=False))
            self.compute_button.setEnabled(True)
        self.pages.setCurrentIndex(1)

    def show_problem(self, text: str) -> None:
        """Why this unit's images cannot be computed (a read-only store), where the hint to compute
        them would be; the next unit shown gets the hint back."""
        if self.pages.currentIndex() == 1:
            self.empty_text.setText(text)
            self.compute_button.setEnabled(False)

    def _empty_message(self, computing: bool) -> str:
        layer, unit = self.key if self.key else ("LAYER", 0)
        model = f"--model {self.model_name}" + (f" --weights {self.weights}" if self.weights else "")
        first = (f"Computing the optimized image of {layer}:{unit} in the background…" if computing
                 else f"No images for {layer}:{unit} yet.")
        return (f"{first}\n\nCompute the layer offline with\n"
                f"deepvis precompute optimize {model} --layers {layer}\n"
                f"deepvis precompute topk {model} --layers {layer} --images FOLDER\n\n"
                f"or this unit now, with the preset's full steps:")

    # -- the live top-9 -------------------------------------------------------------------------

    def set_live_off(self) -> None:
        """The top-9 seen live is not kept (config live_top_frames): say so where it would show."""
        for title in (self.live_title, self.live_title_empty):
            title.setText("SEEN LIVE · OFF (CONFIG LIVE_TOP_FRAMES)")

    def set_live_frames(self, key: tuple[str, int], frames) -> None:
        """The selected unit's top-9 seen in this session (a UnitTopFrames, or None: not tracked)."""
        if key != self.key:
            return
        marker = None if frames is None else (key, tuple(frames.frames.tolist()))
        if marker == self._live_frames:
            return  # nothing new: keep the decoded images
        self._live_frames = marker
        images = [] if frames is None else [_qimage(crop) for crop in frames.crops]
        captions = [] if frames is None else [f"seen live: max {value:.3g} in frame {frame} of this source"
                                              for value, frame in zip(frames.values, frames.frames)]
        for grid in (self.live_grid, self.live_grid_empty):
            grid.set_images(images, captions)
        text = "seen live" if not images else f"seen live · max {frames.values[0]:.3g}"
        for title in (self.live_title, self.live_title_empty):
            title.setText(text.upper())

    # -- progress of an on-demand compute ---------------------------------------------------------

    def show_progress(self, step: int, total: int, text: str = "", key: tuple[str, int] | None = None) -> None:
        """A compute's progress bar; on the empty page of the unit it computes, the text says so."""
        if key is not None and key == self.key and self.pages.currentIndex() == 1 and not self.store_error:
            self.empty_text.setText(self._empty_message(computing=True))
        self.progress.show()
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(step)
        self.progress.setFormat(text or f"computing… {step}/{total}")
        self.compute_button.setEnabled(False)

    def hide_progress(self) -> None:
        if self.pages.currentIndex() == 1 and not self.store_error:
            self.empty_text.setText(self._empty_message(computing=False))
        self.progress.hide()
        self.compute_button.setEnabled(self.store is not None)


def _patch_captions(topk: dict | None) -> list[str] | None:
    """'image: activation' for each stored top-k patch, from the scan's record (None without one)."""
    if not isinstance(topk, dict):
        return None
    names, values = topk.get("images") or [], topk.get("activations") or []
    if len(names) != len(values):
        return None
    return [f"{name}: activation {value:.3g}" for name, value in zip(names, values)]


def _summary(info: dict) -> str:
    """A short line of the unit's recorded figures (numbers only, at most three)."""
    parts = []
    for key, value in info.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            parts.append(f"{key} {value:.3g}")
        elif isinstance(value, dict):
            for sub, sub_value in value.items():
                if isinstance(sub_value, (int, float)) and not isinstance(sub_value, bool):
                    parts.append(f"{sub} {sub_value:.3g}")
        if len(parts) >= 3:
            break
    return "  ·  ".join(parts[:3])
