"""The per-unit panel: the selected unit's activation-maximization images, its top-9 patches
and their deconvs, read from the unit store off the GUI thread, the best moments seen live (this
session's and the saved ones), and the progress of a unit's compute (gui.live.unit_jobs).

The seen-live block sits below the stored images at a fixed place: whatever the store holds for a
unit, it does not move."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from PyQt6.QtCore import QObject, QRunnable, Qt, QThreadPool, pyqtSignal
from PyQt6.QtGui import QImage
from PyQt6.QtWidgets import (QHBoxLayout, QLabel, QProgressBar, QPushButton, QSizePolicy, QStackedWidget,
                             QVBoxLayout, QWidget)

from deepvis import DeepvisError
from deepvis.gui.controls import section_title
from deepvis.gui.live.thumbs import ImageCache, ThumbGrid, hint_label, qimage_of

log = logging.getLogger("deepvis.gui")


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
                       for kind in ("optimized", "patches", "deconvs", "live")}
        except Exception as error:  # a damaged store must not take the window down
            log.warning("cannot read unit images for %s:%s: %s", *self.key, error)
            return
        self.relay.loaded.emit(self.key, self.serial, images, decoded)


def _section(title: str) -> QLabel:
    # A title never widens the panel: the panes keep their geometry whatever the text.
    return section_title(title.upper(), elastic=True)


def command_lines(command: str, *flags: str) -> str:
    """A command for a hint, one line per flag with its value, continued with backslashes as a
    shell reads it: the lines are short enough for the panel, so none wraps in the middle of a
    flag (a line breaks after a hyphen when it must wrap), and a copied command still runs."""
    return " \\\n  ".join((command, *flags))


@dataclass(frozen=True)
class LiveMoment:
    """One crop of the seen-live block: this session's, or saved in the store by an earlier one."""

    value: float
    image: QImage
    caption: str
    name: str  # the store's file name for its crop (a saved one and the same crop seen now are one)


class UnitPanel(QWidget):
    """Shows the stored images of the selected unit, or how to compute them, and the best moments
    seen live."""

    compute_requested = pyqtSignal()
    images_shown = pyqtSignal(object)  # the (layer, unit) now displayed

    def __init__(self, store_root: Path, parent: QWidget | None = None):
        super().__init__(parent)
        self.store_root = Path(store_root)
        self.store = None
        self.model_name, self.weights = "", None
        self.store_error: str | None = None
        self.key: tuple[str, int] | None = None
        self.unit_name = ""  # how the title calls the unit (fc:281 · tabby)
        self.shown_key: tuple[str, int] | None = None
        self._load_serial = 0  # each read of the store is numbered; only the latest one is shown
        self.current_images = None
        self.cache = ImageCache()
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(2)
        self._relay = _Relay()
        self._relay.loaded.connect(self._on_loaded)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.live_off = False
        self._saved_live: list[LiveMoment] = []
        self._session_live: list[LiveMoment] = []
        self._session_marker = None
        self.accenting = False  # the optimized images' place shows an accentuation of the frame

        self.title = QLabel("unit")
        self.title.setObjectName("sectionTitle")
        self.info = QLabel("")
        self.info.setObjectName("sectionTitle")
        for label in (self.title, self.info):
            label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.optimized = ThumbGrid(3, 1, fit=True)
        self.patches = ThumbGrid(3, 3)
        self.deconvs = ThumbGrid(3, 3)
        self.live_grid = ThumbGrid(3, 3)
        self.live_title = _section("seen live")
        self.pages = QStackedWidget()  # 0: the stored images; 1: none stored, how to compute them
        self.pages.addWidget(self._images_page())
        self.pages.addWidget(self._empty_page())
        # Sized by stretch alone, not by what a page holds: the seen-live block below never moves.
        self.pages.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Ignored)
        self.progress = QProgressBar()
        policy = self.progress.sizePolicy()
        policy.setRetainSizeWhenHidden(True)  # its row stays: showing it moves nothing
        self.progress.setSizePolicy(policy)
        self.progress.hide()

        outer = QVBoxLayout(self)
        outer.setContentsMargins(8, 4, 8, 8)
        outer.setSpacing(4)
        self.info.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        header = QHBoxLayout()  # the labels ignore their texts' widths: they share the row by stretch
        header.addWidget(self.title, 3)
        header.addWidget(self.info, 2)
        outer.addLayout(header)
        outer.addWidget(self.pages, 7)
        outer.addWidget(self.live_title)
        outer.addWidget(self.live_grid, 3)
        outer.addWidget(self.progress)

    def _images_page(self) -> QWidget:
        """The optimized image(s) large, then the top-9 patches beside their deconvs, or why there
        are none and how to fill them."""
        self.scan_hint = hint_label(small=True)
        grids = QWidget()
        row = QHBoxLayout(grids)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(8)
        row.addWidget(self.patches, 1)
        row.addWidget(self.deconvs, 1)
        self.scan_pages = QStackedWidget()  # 0: the grids; 1: no scan of this layer, how to make one
        self.scan_pages.addWidget(grids)
        self.scan_pages.addWidget(self.scan_hint)
        titles = QHBoxLayout()
        titles.setSpacing(8)
        titles.addWidget(_section("top-9 patches"), 1)
        titles.addWidget(_section("top-9 deconvs"), 1)
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        self.optimized_title = _section("activation maximization")
        layout.addWidget(self.optimized_title)
        layout.addWidget(self.optimized, 4)
        layout.addLayout(titles)
        layout.addWidget(self.scan_pages, 3)
        return page

    def _empty_page(self) -> QWidget:
        self.empty_text = hint_label()
        self.compute_button = QPushButton("Compute now  (x)")
        self.compute_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.compute_button.clicked.connect(self.compute_requested)
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.empty_text, 1)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.compute_button)
        row.addStretch(1)
        layout.addLayout(row)
        layout.addStretch(0)
        return page

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

    def show_unit(self, layer: str, unit: int, force: bool = False, name: str | None = None) -> None:
        """Show a unit's images; `name`: how the title calls it (fc:281 · tabby), else layer:unit."""
        key = (layer, unit)
        if key == self.key and not force:
            return
        if key != self.key:  # a re-read of the same unit keeps its moments until the new ones come
            self._saved_live, self._session_live, self._session_marker = [], [], None
            self._show_live()
        self.key = key
        self.unit_name = name or f"{layer}:{unit}"
        self.title.setText(f"IMAGES OF {self.unit_name}")
        if self.store is None:
            self._show_empty()
            self.images_shown.emit(key)
            return
        self._load_serial += 1
        self.pool.start(_LoadJob(self.store, key, self._load_serial, self.cache, self._relay))

    def refresh(self) -> None:
        if self.key is not None:
            self.show_unit(*self.key, force=True, name=self.unit_name)

    def _on_loaded(self, key, serial: int, images, decoded) -> None:
        if key != self.key or serial != self._load_serial:
            return  # a newer selection or re-read is on its way: an older read must not overwrite it
        self.current_images = images
        self.shown_key = key
        self._saved_live = [
            LiveMoment(value, image, f"saved {date[:10] or 'earlier'}: max {value:.3g}", path.name)
            for value, image, date, path in zip(images.live_values, decoded["live"], images.live_dates,
                                                images.live)]
        self._show_live()
        if not (images.optimized or images.patches or self.accenting):
            self._show_empty()
        else:
            if not self.accenting:
                names = [optimized_caption(path.name) for path in images.optimized]
                self.optimized.set_images(decoded["optimized"], names, names)
                self.optimized_title.setText("ACTIVATION MAXIMIZATION")
                self.optimized_title.setToolTip("")
                self.optimized.set_placeholder("no optimized image yet: x computes it")
            self.patches.set_images(decoded["patches"], _patch_captions(images.info.get("topk")))
            self.deconvs.set_images(decoded["deconvs"])
            self.deconvs.set_placeholder("no deconvs in this scan")
            self.scan_hint.setText(self._scan_message())
            self.scan_pages.setCurrentIndex(0 if images.patches else 1)
            self.info.setText(_summary(images.info))
            self.pages.setCurrentIndex(0)
        self.images_shown.emit(key)

    def _show_empty(self) -> None:
        self.info.setText("")
        if self.accenting:
            return  # the accentuation keeps its place
        if self.store_error:
            self.empty_text.setText(self.store_error)
            self.compute_button.setEnabled(False)
        else:
            self.empty_text.setText(self._empty_message(computing=False))
        self.pages.setCurrentIndex(1)

    def show_problem(self, text: str) -> None:
        """Why this unit's images cannot be computed (a read-only store), where the hint to compute
        them would be; the next unit shown gets the hint back."""
        if self.pages.currentIndex() == 1:
            self.empty_text.setText(text)
        self.compute_button.setEnabled(False)

    def set_compute_enabled(self, enabled: bool) -> None:
        """Whether x would compute the unit now (the unit jobs know: a full compute running, a store
        that cannot be written)."""
        self.compute_button.setEnabled(enabled and self.store is not None)

    def _model_flags(self) -> list[str]:
        return [f"--model {self.model_name}", *([f"--weights {self.weights}"] if self.weights else [])]

    def _empty_message(self, computing: bool) -> str:
        layer, unit = self.key if self.key else ("LAYER", 0)
        first = (f"Computing the optimized image of {layer}:{unit} in the background…" if computing
                 else f"No images for {layer}:{unit} yet.")
        optimize = command_lines("deepvis precompute optimize", *self._model_flags(), f"--layers {layer}")
        topk = command_lines("deepvis precompute topk", *self._model_flags(), f"--layers {layer}", "--images FOLDER")
        return (f"{first}\n\nCompute the layer offline with\n{optimize}\n{topk}\n\n"
                f"or this unit now, with the preset's full steps:")

    def _scan_message(self) -> str:
        """Why a unit shows no top-9 patches, and the two ways to fill the boxes."""
        layer = self.key[0] if self.key else "LAYER"
        topk = command_lines("deepvis precompute topk", *self._model_flags(), f"--layers {layer}", "--images FOLDER")
        return (f"No top-9 of {layer}: no folder of images has been scanned for this layer yet. "
                f"Scan one:\n{topk}\nor save what the camera showed: Unit → Save the top-9 seen live.")

    # -- an accentuation of the frame, in the optimized images' place -----------------------------

    def show_accentuation(self, title: str, detail: str, result, frame_label: str = "the frame") -> None:
        """The frame, the frame accentuated for the unit, and that faded where the unit's gradient was
        small, in place of the optimized images; `result` None: none yet (starting or failed)."""
        self.accenting = True
        images = [] if result is None else [qimage_of(result.frame), qimage_of(result.image),
                                            qimage_of(result.faded())]
        self.optimized.set_images(images, ["the frame", f"accentuated {detail}", "where the unit looks"],
                                  [frame_label, "accentuated", "where it looks"])
        self.optimized.set_placeholder(detail)
        self.optimized_title.setText(title.upper())
        self.optimized_title.setToolTip(detail)
        self.pages.setCurrentIndex(0)

    def hide_accentuation(self) -> None:
        """The optimized images again."""
        if self.accenting:
            self.accenting = False
            self.optimized.set_images([])  # nothing of the accentuation stays while the store is read
            self.optimized_title.setText("ACTIVATION MAXIMIZATION")
            self.optimized_title.setToolTip("")
            self.refresh()

    # -- the best moments seen live ---------------------------------------------------------------

    def set_live_off(self) -> None:
        """The top-9 seen live is not kept (config live_top_frames): say so where it would show."""
        self.live_off = True
        self._show_live()

    def set_live_frames(self, key: tuple[str, int], frames) -> None:
        """The selected unit's top-9 seen in this session (a UnitTopFrames, or None: not tracked)."""
        if key != self.key:
            return
        from deepvis.unitvis.store import live_file_name

        marker = None if frames is None else (key, tuple(frames.frames.tolist()))
        if marker == self._session_marker:
            return  # nothing new: keep the decoded images
        self._session_marker = marker
        self._session_live = [] if frames is None else [
            LiveMoment(float(value), qimage_of(crop), f"seen live: max {value:.3g} in frame {frame} of this source",
                       live_file_name(crop))
            for crop, value, frame in zip(frames.crops, frames.values, frames.frames)]
        self._show_live()

    def _show_live(self) -> None:
        """The nine best of this session's moments and the saved ones (a crop saved and still in this
        session's top-9 counts once)."""
        saved = {moment.name for moment in self._saved_live}
        moments = self._saved_live + [m for m in self._session_live if m.name not in saved]
        best = sorted(moments, key=lambda moment: -moment.value)[:9]
        self.live_grid.set_images([m.image for m in best], [m.caption for m in best])
        self.live_grid.set_placeholder("" if self.live_off else "nothing seen yet")
        text = "seen live" + (" · off (config live_top_frames)" if self.live_off else "")
        if best:
            text += f" · max {best[0].value:.3g}"
        if self._saved_live:
            text += f" · {len(self._saved_live)} saved"
        self.live_title.setText(text.upper())

    # -- progress of an on-demand compute ---------------------------------------------------------

    def show_progress(self, step: int, total: int, text: str = "", key: tuple[str, int] | None = None) -> None:
        """A compute's progress bar; on the empty page of the unit it computes, the text says so."""
        if key is not None and key == self.key and self.pages.currentIndex() == 1 and not self.store_error:
            self.empty_text.setText(self._empty_message(computing=True))
        self.progress.show()
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(step)
        self.progress.setFormat(text or f"computing… {step}/{total}")

    def hide_progress(self) -> None:
        if self.pages.currentIndex() == 1 and not self.store_error:
            self.empty_text.setText(self._empty_message(computing=False))
        self.progress.hide()


def optimized_caption(file_name: str) -> str:
    """What an optimized image is, from its name: its preset (opt_lucid.png: lucid), and MACO's image
    faded by its transparency (opt_maco_alpha.png: where the unit looks)."""
    from deepvis.unitvis.store import ALPHA_SUFFIX

    stem = Path(file_name).stem.removeprefix("opt_")
    if stem.endswith(ALPHA_SUFFIX):
        return f"{stem.removesuffix(ALPHA_SUFFIX)}: where it looks"
    return stem


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
        if key == "topk_live":
            continue  # the seen-live block's title says it
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            parts.append(f"{key} {value:.3g}")
        elif isinstance(value, dict):
            for sub, sub_value in value.items():
                if isinstance(sub_value, (int, float)) and not isinstance(sub_value, bool):
                    parts.append(f"{sub} {sub_value:.3g}")
        if len(parts) >= 3:
            break
    return "  ·  ".join(parts[:3])
