"""The shell: one window that hosts the modes as tabs, with the menus and status bar they share.

The shell knows a mode only through `gui.mode.Mode`. Modes are created when
first shown; only the visible one runs its worker. File, View and Help menus, the
status bar, the help overlay, window screenshots and recording belong to the shell;
each mode adds its own menus, keys and status text.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Callable

import cv2
from PyQt6.QtCore import Qt, QTimer
from PyQt6.QtGui import QAction, QKeyEvent, QKeySequence
from PyQt6.QtWidgets import QFileDialog, QLabel, QMainWindow, QProgressBar, QTabWidget, QWidget

from deepvis.config import Config
from deepvis.encode import VideoWriter
from deepvis.files import AtomicFiles, atomic_path
from deepvis.sources import FrameSource
from deepvis.zoo import LoadedModel
from deepvis.gui import keys
from deepvis.gui.images import rgb_from_qimage
from deepvis.gui.modes import mode_class, mode_names, mode_title
from deepvis.gui.mode import Mode, ModeContext
from deepvis.gui.live.mode import LiveMode, LiveStart
from deepvis.gui.panes import HelpOverlay
from deepvis.live.share import LiveShare

log = logging.getLogger("deepvis.gui")

RECORD_FPS = 10
SHELL_KEYS = [("h", "this help"), ("Ctrl+1 … Ctrl+9", "show mode 1 … 9"), ("Esc", "close this help")]


class MainWindow(QMainWindow):
    """The deepvis window. `loaded` and `source` start the Live mode; `mode` is shown first."""

    def __init__(self, config: Config, loaded: LoadedModel | None = None, source: FrameSource | None = None,
                 layer: str | None = None, unit: int = 0, message: str | None = None,
                 model_loader: Callable[[str], LoadedModel] | None = None, camera_mode: bool | None = None,
                 mode: str = "live", options: dict | None = None):
        super().__init__()
        self.config = config
        options = dict(options or {})
        if loaded is not None and source is not None:
            options["live"] = LiveStart(loaded, source, layer, unit, message, model_loader, camera_mode)
        self.context = ModeContext(config, self.show_message, self.show_hint, self.show_mode, options,
                                   LiveShare(open_live=lambda: self.find_mode("live") or self._create_mode("live")))
        self.modes: dict[str, Mode] = {}
        self._mode_entries: dict[str, list[QAction]] = {}  # each mode's menus and shared-menu entries
        self.current: Mode | None = None
        self.recorder = None
        self.message = ""
        self._messages: dict[str, str] = {}  # each mode's last status line, shown again with it

        self.setWindowTitle("deepvis")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.tabBar().setFocusPolicy(Qt.FocusPolicy.NoFocus)  # arrows belong to the modes
        for name in mode_names():
            placeholder = QWidget()
            placeholder.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            self.tabs.addTab(placeholder, mode_title(name))
        self.setCentralWidget(self.tabs)
        self.help_overlay = HelpOverlay([], self.tabs)
        self._build_status_bar()
        self._build_menus()
        self.resize(config.window.width, config.window.height)
        self.tabs.currentChanged.connect(lambda index: self.show_mode(mode_names()[index]))
        self.show_mode(mode)

        self.status_timer = QTimer(self)
        self.status_timer.timeout.connect(self._refresh_status)
        self.status_timer.start(250)

    # ------------------------------------------------------------------ construction

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.status_label = QLabel()
        self.message_label = QLabel()
        self.message_label.setStyleSheet("color: #c9a45a;")
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(180)
        self.progress.hide()
        bar.addWidget(self.status_label)
        bar.addWidget(self.message_label, 1)
        bar.addPermanentWidget(self.progress)

    def _action(self, menu, text: str, slot, shortcut: str | None = None, checkable: bool = False) -> QAction:
        action = QAction(text, self)
        action.setCheckable(checkable)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(lambda _checked=False: slot())
        menu.addAction(action)
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        self.file_menu = bar.addMenu("&File")
        self.file_anchor = self.file_menu.addSeparator()  # modes' entries go above it
        self._action(self.file_menu, "Save screenshot of the window…", self.save_screenshot_dialog)
        self.record_action = self._action(self.file_menu, "Record the window to MP4…", self.toggle_recording,
                                          checkable=True)
        self.file_menu.addSeparator()
        self._action(self.file_menu, "Quit\tq", self.close)

        self.view_menu = bar.addMenu("&View")
        self.view_anchor = self.view_menu.addSeparator()
        modes = self.view_menu.addMenu("Modes")
        for index, name in enumerate(mode_names()):
            self._action(modes, mode_title(name), lambda name=name: self.show_mode(name),
                         shortcut=f"Ctrl+{index + 1}" if index < 9 else None)
        self.mode_menus_anchor = bar.addSeparator()  # modes' own menus go before Help
        help_menu = bar.addMenu("&Help")
        self._action(help_menu, "Keys\th", self.toggle_help)

    # ------------------------------------------------------------------ modes

    def find_mode(self, name: str) -> Mode | None:
        return self.modes.get(name)

    def show_mode(self, name: str) -> Mode:
        """Bring a mode to the front, creating it on first use; the one hidden pauses its worker."""
        if name not in mode_names():
            raise KeyError(f"no mode named {name!r} (modes: {', '.join(mode_names())})")
        mode = self.modes.get(name) or self._create_mode(name)
        if mode is self.current:
            return mode
        previous, self.current = self.current, mode
        if previous is not None:
            previous.deactivate()
            for action in self._mode_entries[previous.name]:
                action.setVisible(False)
        for action in self._mode_entries[name]:
            action.setVisible(True)
        index = mode_names().index(name)
        if self.tabs.currentIndex() != index:
            self.tabs.blockSignals(True)
            self.tabs.setCurrentIndex(index)
            self.tabs.blockSignals(False)
        self.help_overlay.rows = SHELL_KEYS + mode.key_help()
        self.show_progress(0, -1)
        # The status line is the mode's own: one mode's message does not stay in front of another.
        self.message = self._messages.get(name, "")
        self.message_label.setText(self.message)
        mode.activate()
        self._refresh_status()
        return mode

    def _create_mode(self, name: str) -> Mode:
        if name == "live" and "live" not in self.context.options:
            self.context.options["live"] = default_live_start(self.config)
        mode = mode_class(name)(self.context)
        mode.message.connect(self.show_message)
        mode.progress.connect(self.show_progress)
        index = mode_names().index(name)
        self.tabs.blockSignals(True)
        placeholder = self.tabs.widget(index)
        self.tabs.removeTab(index)
        self.tabs.insertTab(index, mode, mode_title(name))
        placeholder.deleteLater()
        self.tabs.blockSignals(False)
        entries: list[QAction] = []
        for menu, anchor in ((self.file_menu, self.file_anchor), (self.view_menu, self.view_anchor)):
            for action in mode.shared_actions(menu.title().replace("&", "")):
                if action is None:
                    action = QAction(self)
                    action.setSeparator(True)
                menu.insertAction(anchor, action)
                entries.append(action)
        for menu in mode.add_menus(self.menuBar()):
            action = menu.menuAction()
            self.menuBar().removeAction(action)
            self.menuBar().insertAction(self.mode_menus_anchor, action)
            entries.append(action)
        for action in entries:
            action.setVisible(False)
        self._mode_entries[name] = entries
        self.modes[name] = mode
        return mode

    @property
    def live(self) -> LiveMode:
        return self.modes.get("live") or self.show_mode("live")

    # ------------------------------------------------------------------ status bar

    def show_message(self, text: str) -> None:
        """A status line, kept as the line of the mode in front (shown again when it comes back)."""
        self.message = text
        self.message_label.setText(text)
        if self.current is not None:
            self._messages[self.current.name] = text
        if text:
            log.info(text)

    def show_hint(self, text: str | None) -> None:
        self.message_label.setText(self.message if text is None else text)

    def show_progress(self, done: int, total: int) -> None:
        """(0, 0): busy; total < 0: hidden; else a bar at done/total."""
        if total < 0:
            self.progress.hide()
            return
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        self.progress.show()

    def status_text(self) -> str:
        text = self.current.status_text() if self.current is not None else ""
        return text + (" | REC" if self.recorder is not None else "")

    def _refresh_status(self) -> None:
        self.status_label.setText(self.status_text())

    # ------------------------------------------------------------------ keys

    def keyPressEvent(self, event: QKeyEvent) -> None:
        name = keys.key_name(event.key(), event.text())
        if name == "h" or (name == "Esc" and self.help_overlay.isVisible()):
            self.toggle_help()
        elif name == "q":
            self.close()
        elif self.current is None or not self.current.handle_key(name):
            super().keyPressEvent(event)
            return
        event.accept()

    def toggle_help(self) -> None:
        self.help_overlay.setGeometry(self.tabs.rect())
        self.help_overlay.setVisible(not self.help_overlay.isVisible())
        self.help_overlay.raise_()

    # ------------------------------------------------------------------ screenshots and recording

    def save_screenshot(self, path: str | Path, pane: str | None = None) -> Path:
        """The window, or one pane of the Live mode, as PNG."""
        if pane is not None:
            return self.live.save_pane(path, pane)
        path = Path(path).with_suffix(".png")
        with atomic_path(path) as partial:
            if not self.grab().save(str(partial), "PNG"):
                raise OSError(f"cannot write {path}")
        return path

    def save_screenshot_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save a screenshot", "deepvis-window.png", "PNG images (*.png)")
        if path:
            try:
                self.show_message(f"saved {self.save_screenshot(path)}")
            except OSError as error:
                self.show_message(str(error))

    def toggle_recording(self) -> None:
        if self.recorder is not None:
            self.stop_recording()
            return
        path, _ = QFileDialog.getSaveFileName(self, "Record the window", "deepvis.mp4", "MP4 video (*.mp4)")
        if path:
            self.start_recording(path)
        else:
            self.record_action.setChecked(False)

    def start_recording(self, path: str | Path) -> None:
        path = Path(path).with_suffix(".mp4")
        size = (self.width() // 2 * 2, self.height() // 2 * 2)
        files = AtomicFiles()  # recorded under a temporary name, renamed to path when stopped
        try:
            writer = VideoWriter(files.path(path), RECORD_FPS, size)
        except OSError as error:
            files.discard()
            self.show_message(f"cannot record to {path}: {error}")
            self.record_action.setChecked(False)
            return
        self.recorder = (writer, size, path, files)
        self._record_start, self._frames_recorded = time.perf_counter(), 0
        self.record_timer = QTimer(self)
        self.record_timer.timeout.connect(self._record_frame)
        self.record_timer.start(1000 // RECORD_FPS)
        self.record_action.setChecked(True)
        self.show_message(f"recording to {path} ({writer.codec})")

    def _record_frame(self) -> None:
        """Write the window as often as wall time asks: the video plays at the real rate even when a
        grab takes longer than a frame."""
        writer, size = self.recorder[:2]
        rgb = rgb_from_qimage(self.grab().toImage())
        if (rgb.shape[1], rgb.shape[0]) != size:
            rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        due = int((time.perf_counter() - self._record_start) * RECORD_FPS) + 1
        for _ in range(max(due - self._frames_recorded, 1 if self._frames_recorded == 0 else 0)):
            writer.write(rgb)
            self._frames_recorded += 1

    def stop_recording(self) -> Path | None:
        if self.recorder is None:
            return None
        self.record_timer.stop()
        writer, _, path, files = self.recorder
        writer.close()
        self.recorder = None
        self.record_action.setChecked(False)
        try:
            files.commit()
        except OSError as error:
            files.discard()
            self.show_message(f"cannot write {path}: {error.strerror or error}")
            return None
        self.show_message(f"recorded {path}")
        return path

    # ------------------------------------------------------------------ shutdown

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self.help_overlay.isVisible():
            self.help_overlay.setGeometry(self.tabs.rect())

    def shutdown(self) -> None:
        """Stop every thread of every mode; safe to call twice."""
        self.status_timer.stop()
        self.stop_recording()
        for mode in self.modes.values():
            mode.shutdown()

    def closeEvent(self, event) -> None:
        self.shutdown()
        super().closeEvent(event)


def default_live_start(config: Config) -> LiveStart:
    """The Live mode's start when the window was opened on another mode: the configured model
    and source (the sample video when no camera answers)."""
    from deepvis.session import open_model
    from deepvis.sources import open_source_with_fallback

    source, message = open_source_with_fallback(config.source, config.camera_index)
    loaded = open_model(config)
    return LiveStart(loaded, source, config.layer, 0, message or loaded.message,
                     camera_mode=message is not None or None)
