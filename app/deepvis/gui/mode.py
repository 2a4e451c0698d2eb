"""What the shell knows of a mode: a widget with a title, menus, keys, status text and a worker
that runs only while the mode is visible.

A mode is one capability (Live, Learn, Digits, Dream, Tabular, Weights). The shell
owns the window, the File/View/Help menus and the status bar; a mode fills its tab,
adds its own menus, handles its own keys and says what the status bar shows for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import QMenuBar, QWidget

from deepvis.config import Config
from deepvis.live.share import LiveShare


@dataclass
class ModeContext:
    """What every mode is given by the shell."""

    config: Config
    show_message: Callable[[str], None]  # one line in the shared status bar (logged too)
    show_hint: Callable[[str | None], None]  # a passing line (hover read-outs); None brings the message back
    show_mode: Callable[[str], "Mode"]  # bring another mode to the front (created if needed) and return it
    options: dict[str, Any] = field(default_factory=dict)  # start-up options by mode name (from the command line)
    live: LiveShare = field(default_factory=LiveShare)  # Live's model, frame and selection for the other modes


class Mode(QWidget):
    """Base class of the modes. Subclasses set `name` and `title` and override what they need."""

    name = ""  # the id used on the command line (`snapshot --mode NAME`) and by show_mode
    title = ""  # the tab's text

    message = pyqtSignal(str)  # a line for the shared status bar
    progress = pyqtSignal(int, int)  # (done, total) for the shared progress bar; (0, 0): busy; total -1: hide

    def __init__(self, context: ModeContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.context = context
        self.active = False

    # -- what the shell asks of a mode -------------------------------------------------------

    def add_menus(self, menu_bar: QMenuBar) -> list:
        """Add this mode's menus to the bar and return them; the shell shows them only while the
        mode is visible."""
        return []

    def shared_actions(self, menu: str) -> list:
        """QActions (None for a separator) this mode adds to a shared menu ("File" or "View");
        the shell shows them only while the mode is visible."""
        return []

    def handle_key(self, name: str) -> bool:
        """A key the shell did not handle, by its name (a character, or Left/Right/Up/Down/PgUp/
        PgDown/Esc/Space). True when the mode used it."""
        return False

    def key_help(self) -> list[tuple[str, str]]:
        """(keys, what they do) for the help overlay."""
        return []

    def status_text(self) -> str:
        """The permanent left part of the status bar while this mode is visible (polled 4x/s)."""
        return ""

    def activate(self) -> None:
        """The mode became visible: start or resume its worker."""
        self.active = True

    def deactivate(self) -> None:
        """Another mode became visible: pause the worker (only the visible mode's worker runs)."""
        self.active = False

    def ready(self) -> bool:
        """True once the mode shows what it is meant to (what `snapshot --mode` waits for)."""
        return True

    def shutdown(self) -> None:
        """Stop every thread the mode started; safe to call twice."""


class WorkerMode(Mode):
    """A mode with one worker thread (a QThread with set_active(bool) and stop()) that runs only
    while the mode is visible. Subclasses create `self.worker` in __init__ and override shown()."""

    worker: Any

    def __init__(self, context: ModeContext, parent: QWidget | None = None):
        super().__init__(context, parent)
        self._shown_before = False
        self._stopped = False  # shut down: nothing starts again

    def activate(self) -> None:
        super().activate()
        if self._stopped:
            return
        if not self.worker.isRunning():
            self.worker.start()
        self.worker.set_active(True)
        first, self._shown_before = not self._shown_before, True
        self.shown(first)

    def shown(self, first: bool) -> None:
        """The mode became visible and its worker runs (`first`: for the first time); a mode
        starts here what a newcomer should see at once."""

    def deactivate(self) -> None:
        super().deactivate()
        self.worker.set_active(False)  # a job waits at its next checkpoint

    def shutdown(self) -> None:
        self._stopped = True
        self.worker.stop()
        self.worker.wait(60000)  # a QThread destroyed while it runs aborts the process
