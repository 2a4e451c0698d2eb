"""The loss landscape in 3-D (Li et al. 2018): the training loss over a plane through the weights
as a surface, the training path drawn on it and the moment shown as a point that moves while the
network trains. Height and colour are the loss on a log scale (low: dark blue, high: yellow).

Built on the Learn mode's scenes (views3d.py): pyqtgraph.opengl where Qt has OpenGL, the
software projection elsewhere.
"""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QPointF
from PyQt6.QtGui import QColor, QPainter, QPen, QPolygonF

from deepvis.gui.learn.live_landscape import log_range
from deepvis.gui.learn.views3d import GLScene, SoftScene, opengl_problem
from deepvis.gui.theme import TEXT

AXES = ("direction 1", "direction 2", "log loss")
LIFT = 0.03  # the path and the point float this far above the surface, so the surface never hides them
PATH_RGBA = (1.0, 1.0, 1.0, 0.95)
POINT_RGBA = (1.0, 0.27, 0.2, 1.0)


def surface_colours(t: np.ndarray) -> np.ndarray:
    """(…, 3) uint8 from t in [0, 1]: viridis, dark blue (low loss) to yellow (high)."""
    import pyqtgraph as pg

    return pg.colormap.get("viridis").map(np.clip(t, 0, 1).ravel(), mode="byte")[:, :3].reshape(*t.shape, 3)


def landscape_surface(landscape) -> tuple[np.ndarray, np.ndarray, float, float]:
    """(values, rgb, low, high) in the scenes' surface convention (row 0 at the top of the plane):
    log10 of the loss over the grid, and its colours."""
    low, high = log_range(landscape)
    values = np.log10(np.clip(landscape.loss, 1e-9, None))[::-1]  # row 0: direction 2 = +span
    values = np.clip(values, low, high).astype(np.float32)
    rgb = surface_colours((values - low) / (high - low))
    return np.ascontiguousarray(values), np.ascontiguousarray(rgb), low, high


def path_points(landscape, point: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    """The path (T, 3) and the moment shown (3,) in the cube's coordinates, above the surface."""
    low, high = log_range(landscape)
    span = landscape.span

    def lifted(ab: np.ndarray, loss: np.ndarray) -> np.ndarray:
        z = (np.log10(np.clip(loss, 1e-9, None)) - low) / (high - low) * 2 - 1
        return np.column_stack([ab[:, 0] / span, ab[:, 1] / span, np.clip(z, -1, 1) + LIFT]).astype(np.float32)

    path = lifted(landscape.path, landscape.path_loss) if len(landscape.path) else np.zeros((0, 3), np.float32)
    shown = None
    if point is not None:
        shown = lifted(np.asarray(point[None, :2]), np.asarray(point[2:3]))[0]
        shown[:2] = np.clip(shown[:2], -1.0, 1.0)  # the plane of an older landscape may not reach it
    return path, shown


class LandscapeGLScene(GLScene):
    def __init__(self, parent=None):
        super().__init__(parent)
        gl = self.gl
        self.path = gl.GLLinePlotItem(pos=np.zeros((2, 3)), mode="line_strip", color=PATH_RGBA, width=2.0,
                                      antialias=True)
        self.marker = gl.GLScatterPlotItem(pos=np.zeros((1, 3)), color=POINT_RGBA, size=12, pxMode=True)
        # Drawn last and over the surface: from most angles the valley's walls would hide them.
        from OpenGL import GL

        on_top = {GL.GL_DEPTH_TEST: False, GL.GL_BLEND: True, GL.GL_CULL_FACE: False,
                  "glBlendFunc": (GL.GL_SRC_ALPHA, GL.GL_ONE_MINUS_SRC_ALPHA)}
        for item in (self.path, self.marker):
            item.setGLOptions(on_top)
            item.setDepthValue(10)
            self.view.addItem(item)
        self.path.setVisible(False)
        self.marker.setVisible(False)
        self.landscape = None

    def set_landscape(self, landscape, point: np.ndarray | None) -> None:
        """The surface (when it is a new landscape), its path and the moment shown."""
        if landscape is not self.landscape:
            self.landscape = landscape
            values, rgb, low, high = landscape_surface(landscape)
            self.set_surface(values, rgb, low, high, AXES)
        path, shown = path_points(landscape, point)
        self.path.setVisible(len(path) > 1)
        if len(path) > 1:
            self.path.setData(pos=path)
        self.marker.setVisible(shown is not None)
        if shown is not None:
            self.marker.setData(pos=shown[None])


class LandscapeSoftScene(SoftScene):
    def __init__(self, reason: str | None = None, parent=None):
        super().__init__(reason, parent)
        self.landscape = None
        self.path = np.zeros((0, 3), np.float32)
        self.shown: np.ndarray | None = None

    def set_landscape(self, landscape, point: np.ndarray | None) -> None:
        if landscape is not self.landscape:
            self.landscape = landscape
            values, rgb, low, high = landscape_surface(landscape)
            self.set_surface(values, rgb, low, high, AXES)
        self.path, self.shown = path_points(landscape, point)
        self.update()

    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if len(self.path) > 1:
            screen, _ = self.project(self.path)
            painter.setPen(QPen(QColor(255, 255, 255, 235), 2))
            painter.drawPolyline(QPolygonF([QPointF(*p) for p in screen]))
        if self.shown is not None:
            (x, y), = self.project(self.shown[None])[0]
            painter.setPen(QPen(TEXT, 1))
            painter.setBrush(QColor(255, 70, 50))
            painter.drawEllipse(QPointF(x, y), 6, 6)
        painter.end()


def make_landscape_scene(parent=None) -> LandscapeGLScene | LandscapeSoftScene:
    problem = opengl_problem()
    return LandscapeSoftScene(problem, parent) if problem else LandscapeGLScene(parent)
