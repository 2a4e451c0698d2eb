"""A dark theme: Fusion with a dark palette and a few style rules."""

from __future__ import annotations

from PyQt6.QtGui import QColor, QFont, QPalette
from PyQt6.QtWidgets import QApplication

BACKGROUND = QColor(24, 25, 28)
PANEL = QColor(32, 34, 38)
TEXT = QColor(222, 224, 228)
MUTED = QColor(140, 145, 155)
ACCENT = QColor(255, 170, 0)  # the selection colour, as the grid's outline
ACCENT_SOFT = QColor(255, 170, 0, 60)

STYLE = """
QMainWindow, QWidget#central { background: #18191c; }
QStatusBar { background: #111214; color: #dedfe4; font-family: "DejaVu Sans Mono", monospace; }
QStatusBar QLabel { color: #dedfe4; padding: 0 6px; }
QMenuBar { background: #111214; color: #dedfe4; }
QMenuBar::item:selected { background: #2e3035; }
QMenu { background: #202226; color: #dedfe4; border: 1px solid #33363c; }
QMenu::item:selected { background: #3a3d44; }
QMenu::item:disabled { color: #6b6f78; }
QSplitter::handle { background: #18191c; }
QPushButton { background: #2e3035; color: #dedfe4; border: 1px solid #44474f; border-radius: 4px; padding: 5px 12px; }
QPushButton:hover { background: #3a3d44; }
QPushButton:disabled { color: #6b6f78; }
QProgressBar { background: #202226; border: 1px solid #33363c; border-radius: 3px; color: #dedfe4;
               text-align: center; max-height: 14px; }
QProgressBar::chunk { background: #c98a10; }
QLabel#sectionTitle { color: #8c919b; font-size: 8.5pt; letter-spacing: 1px; }
QLabel#emptyState { color: #a9adb6; }
QToolTip { background: #202226; color: #dedfe4; border: 1px solid #44474f; }
"""


def apply_theme(app: QApplication) -> None:
    app.setStyle("Fusion")
    palette = QPalette()
    for role, color in (
        (QPalette.ColorRole.Window, BACKGROUND), (QPalette.ColorRole.Base, PANEL),
        (QPalette.ColorRole.AlternateBase, BACKGROUND), (QPalette.ColorRole.Text, TEXT),
        (QPalette.ColorRole.WindowText, TEXT), (QPalette.ColorRole.Button, PANEL),
        (QPalette.ColorRole.ButtonText, TEXT), (QPalette.ColorRole.Highlight, QColor(201, 138, 16)),
        (QPalette.ColorRole.HighlightedText, QColor(0, 0, 0)), (QPalette.ColorRole.ToolTipBase, PANEL),
        (QPalette.ColorRole.ToolTipText, TEXT),
    ):
        palette.setColor(role, color)
    app.setPalette(palette)
    font = QFont(app.font())
    font.setPointSizeF(max(font.pointSizeF(), 10.0))
    app.setFont(font)
    app.setStyleSheet(STYLE)
