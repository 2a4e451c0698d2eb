"""The Live mode's frame source: what plays (a camera, or files), the user's pause, and switching
to another source off the GUI thread (a camera can take seconds to answer)."""

from __future__ import annotations

from typing import Callable

from PyQt6.QtCore import QEvent, QObject, QTimer, pyqtSignal
from PyQt6.QtWidgets import QFileDialog, QInputDialog, QWidget

from deepvis.config import Config
from deepvis.gui.background import BackgroundCall, keep_until_done
from deepvis.paths import SAMPLE_IMAGES
from deepvis.sources import CameraSource, FrameSource, open_source, open_source_with_fallback

FILE_FILTER = ("Images and videos (*.png *.jpg *.jpeg *.bmp *.webp *.tif *.tiff *.mp4 *.avi *.mov *.mkv "
               "*.webm *.m4v);;All files (*)")


class SourceSwitch(QObject):
    """Owns the running source. While the mode is hidden the source is paused, and the user's own
    pause (space) is kept aside for when it is shown again."""

    switched = pyqtSignal(object)  # the new FrameSource, for the worker

    def __init__(self, source: FrameSource, camera_mode: bool | None, config: Config,
                 show_message: Callable[[str], None], parent: QWidget):
        super().__init__(parent)
        self.source = source
        camera = isinstance(source, CameraSource)
        self.file_spec: str | None = None if camera else getattr(source, "path", None)
        self.camera_mode = camera if camera_mode is None else camera_mode
        self.config = config
        self.user_paused = source.paused
        self.visible = True
        self._warnings_seen = 0  # of the current source's warnings
        self._show_message = show_message
        self._calls: set[BackgroundCall] = set()

    def dialog_parent(self) -> QWidget:
        return self.parent()

    # -- the mode shown and hidden ------------------------------------------------------------

    def resume(self) -> None:
        self.visible = True
        self.source.paused = self.user_paused

    def pause_hidden(self) -> None:
        self.visible = False
        self.user_paused = self.source.paused
        self.source.paused = True

    def stop(self) -> None:
        self.source.stop()

    def new_warning(self) -> str | None:
        """The newest warning of the source not said yet (a corrupt frame, a skipped file)."""
        warnings = self.source.warnings
        if len(warnings) <= self._warnings_seen:
            return None
        self._warnings_seen = len(warnings)
        return warnings[-1]

    # -- what the user asks -------------------------------------------------------------------

    def toggle_pause(self) -> None:
        self.source.paused = not self.source.paused
        self.user_paused = self.source.paused
        self._show_message("source paused (space)" if self.source.paused else "source running")

    def open_path(self, path: str) -> None:
        self._switch(lambda: open_source(path).start(), file_spec=path)

    def open_camera(self, index: int) -> None:
        self._switch(lambda: open_source_with_fallback("camera", index), camera=True)

    def toggle_camera(self) -> None:
        if self.camera_mode:
            self.open_path(str(self.file_spec or SAMPLE_IMAGES))
        else:
            self.open_camera(self.config.camera_index)

    def open_file_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.dialog_parent(), "Open an image or a video", "", FILE_FILTER)
        if path:
            self.open_path(path)

    def open_folder_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(self.dialog_parent(), "Open a folder of images")
        if path:
            self.open_path(path)

    def choose_camera(self) -> None:
        index, ok = QInputDialog.getInt(self.dialog_parent(), "Camera", "Camera index:", self.config.camera_index,
                                        0, 64)
        if ok:
            self.config = self.config.replace(camera_index=index)
            self.open_camera(index)

    def accept_drops(self, widget: QWidget) -> None:
        """A file or folder dropped on the widget opens (the first one, when several are)."""
        widget.setAcceptDrops(True)
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind in (QEvent.Type.DragEnter, QEvent.Type.DragMove) and event.mimeData().hasUrls():
            event.acceptProposedAction()
            return True
        if kind == QEvent.Type.Drop:
            paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
            if paths:
                self.open_path(paths[0])
                event.acceptProposedAction()
                return True
        return super().eventFilter(watched, event)

    # -- switching ----------------------------------------------------------------------------

    def _switch(self, opener, file_spec: str | None = None, camera: bool = False) -> None:
        """Open a source off the GUI thread, then swap it in."""
        def run():
            result = opener()
            source, message = result if isinstance(result, tuple) else (result, None)
            return source, message, file_spec, camera

        call = BackgroundCall(run, "source opener", self)
        call.done.connect(self._opened)  # methods, not closures: see gui.jobs
        call.failed.connect(self._failed)
        keep_until_done(call, self._calls)

    def _failed(self, message: str) -> None:
        self._show_message(message)

    def _opened(self, opened: tuple[FrameSource, str | None, str | None, bool]) -> None:
        source, message, file_spec, camera = opened
        old, self.source = self.source, source
        self.user_paused = False
        self._warnings_seen = 0
        if not self.visible:
            source.paused = True
        self.camera_mode = camera
        self.switched.emit(source)
        if file_spec is not None:
            self.file_spec = file_spec
        self._show_message(message or f"showing {source.name}")
        QTimer.singleShot(0, lambda: old.stop(timeout=2.0))
