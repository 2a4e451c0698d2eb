"""`deepvis` / `deepvis INPUT`: the live window."""

from __future__ import annotations

import logging
import sys
import time

from deepvis import DeepvisError
from deepvis.gui.display import display_problem

log = logging.getLogger("deepvis.gui")


def make_application():
    from PyQt6.QtWidgets import QApplication

    from deepvis.gui.theme import apply_theme

    app = QApplication.instance()
    if app is None:
        from PyQt6.QtCore import QCoreApplication, Qt

        # pyqtgraph.opengl compiles its shaders once per process: every GL view must share one context
        # group, or a second window's views fail (GLError: invalid value).
        QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)
        app = QApplication(sys.argv[:1])
        app.setApplicationName("deepvis")
    apply_theme(app)
    return app


def first_frame_shown(mode) -> bool:
    """The shown mode displays what it is for: Live a frame, the others what they show first."""
    return mode.frames_displayed > 0 if mode.name == "live" else mode.ready()


def exit_at_first_frame(app, window) -> None:
    """`gui --exit-at-first-frame`: print the wall-clock time of the first frame, then quit; what
    `deepvis bench --startup` times (it counts from the process's start, not to its exit)."""
    from PyQt6.QtCore import QTimer

    timer = QTimer(window)

    def check() -> None:
        if window.current is not None and first_frame_shown(window.current):
            timer.stop()
            print(f"{time.time():.6f}", flush=True)
            app.quit()

    timer.timeout.connect(check)
    timer.start(5)


def _let_python_run() -> None:
    """A timer's slot that does nothing: its only work is to return to the interpreter."""


def quit_on_signals(window) -> dict:
    """Ctrl-C (SIGINT) or SIGTERM in the terminal that runs the window closes it as File → Quit does,
    with no traceback; the returned dict then holds the signal. Python runs signal handlers only
    between bytecodes, and Qt's event loop waits in C++: a timer hands control back to Python a
    few times a second so that the handler runs promptly."""
    import signal

    from PyQt6.QtCore import QTimer

    received: dict = {}

    def handler(signum, _frame) -> None:
        received["signal"] = signum
        QTimer.singleShot(0, window.close)

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, handler)
    timer = QTimer(window)
    timer.timeout.connect(_let_python_run)
    timer.start(200)
    return received


def run_app(args, config) -> int:
    problem = display_problem()
    if problem:  # before Qt, which would abort the process from C++
        raise DeepvisError(problem)
    from deepvis.session import open_model, pick_layer
    from deepvis.gui.jobs import keep_gui_thread_single_threaded
    from deepvis.sources import open_source_with_fallback

    keep_gui_thread_single_threaded()  # before the model loads here

    from deepvis.gui.modes import mode_names

    mode = getattr(args, "mode", None) or "live"
    if mode not in mode_names():
        raise DeepvisError(f"--mode {mode}: no such mode (modes: {', '.join(mode_names())})")
    if mode != "live":  # the Live mode opens its source and model when first shown
        app = make_application()
        from deepvis.gui.main_window import MainWindow

        window = MainWindow(config, mode=mode)
    else:
        spec = getattr(args, "input", None) or config.source
        source, message = open_source_with_fallback(spec, config.camera_index)
        try:
            log.info("loading %s…", config.model)
            loaded = open_model(config)
            layer = pick_layer(loaded, config.layer)
            app = make_application()
            from deepvis.gui.main_window import MainWindow

            window = MainWindow(config, loaded, source, layer=layer.name, unit=getattr(args, "unit", 0) or 0,
                                message=message or loaded.message, camera_mode=message is not None or None)
        except BaseException:
            source.stop()
            raise
    window.show()
    if getattr(args, "exit_at_first_frame", False):
        exit_at_first_frame(app, window)
    received = quit_on_signals(window)
    try:
        code = app.exec()
    finally:
        window.shutdown()
    if received:
        log.info("closed by signal %d", received["signal"])
        return 128 + received["signal"]  # 130 for Ctrl-C, 143 for SIGTERM, as a shell reports them
    return code
