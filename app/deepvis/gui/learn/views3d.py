"""3-D views for the Learn mode: points with a separating plane, and a neuron's surface.

With OpenGL (a real display, Xvfb included) they are pyqtgraph.opengl GLViewWidgets. Where
Qt has no OpenGL (QT_QPA_PLATFORM=offscreen, or PyOpenGL missing) the same interface is
drawn by QPainter with a small software projection: rotatable with the mouse too, and
labelled as the fallback it is. `make_scene()` picks one.
"""

from __future__ import annotations

import logging
import math
import os

import cv2
import numpy as np
from PyQt6.QtCore import QPointF, QSize, Qt
from PyQt6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPen, QPolygonF, QWheelEvent
from PyQt6.QtWidgets import QSizePolicy, QVBoxLayout, QWidget

from deepvis.gui.panes import painted_pane
from deepvis.gui.theme import MUTED, PANEL, TEXT

log = logging.getLogger("deepvis.gui")

AZIMUTH, ELEVATION, DISTANCE = -58.0, 22.0, 5.2
BOX_EDGES = np.array([[a, b] for a in range(8) for b in range(a + 1, 8) if bin(a ^ b).count("1") == 1])
BOX_CORNERS = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], dtype=np.float32)
AXIS_LABELS = np.array([[1.2, -1.0, -1.0], [-1.0, 1.2, -1.0], [-1.0, -1.0, 1.15]], dtype=np.float32)
PLANE_RGBA = (0.72, 0.75, 0.82, 0.22)
PLANE_EDGE_RGBA = (0.85, 0.87, 0.92, 0.8)
NO_GL_PLATFORMS = ("offscreen", "minimal", "vnc", "linuxfb")

_gl_problem: str | None | bool = False  # False: not checked yet


def opengl_problem() -> str | None:
    """Why OpenGL views cannot be used here, or None when they can (checked once)."""
    global _gl_problem
    if _gl_problem is not False:
        return _gl_problem
    from PyQt6.QtGui import QGuiApplication, QOpenGLContext

    platform = QGuiApplication.platformName()
    if os.environ.get("DEEPVIS_NO_OPENGL"):
        _gl_problem = "DEEPVIS_NO_OPENGL is set"
    elif platform in NO_GL_PLATFORMS:
        _gl_problem = f"Qt's {platform} platform has no OpenGL"
    else:
        try:
            from deepvis.jobs import preload

            # Mesa's software OpenGL (llvmpipe) brings its own LLVM, and so does triton, which torch
            # imports with torch._dynamo (an optimizer's first step does). Triton loaded after the
            # first GL context crashed the process (a segfault, in Digits after Learn); loaded
            # before it, the two coexist.
            preload(("torch._dynamo", "pyqtgraph.opengl"))  # pyqtgraph.opengl needs PyOpenGL
            context = QOpenGLContext()
            _gl_problem = None if context.create() else "no OpenGL context could be created"
        except Exception as error:  # PyOpenGL missing or broken
            _gl_problem = f"pyqtgraph.opengl is unavailable ({type(error).__name__}: {error})"
    if _gl_problem:
        log.info("Learn: software 3-D views (%s)", _gl_problem)
    return _gl_problem


def make_scene(parent: QWidget | None = None) -> "GLScene | SoftScene":
    return SoftScene(opengl_problem(), parent) if opengl_problem() else GLScene(parent)


def surface_grid(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """A landscape (row 0 at x2 = +1) as heights in [-1, 1], indexed [x1, x2] as GL surfaces are."""
    heights = (values - low) / max(high - low, 1e-12) * 2 - 1
    return np.clip(heights, -1, 1)[::-1].T.astype(np.float32)


class GLScene(QWidget):
    """A pyqtgraph.opengl view of the cube [-1, 1]^3: points, a plane, or a surface."""

    software = False

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        import pyqtgraph.opengl as gl

        self.gl = gl
        self.view = gl.GLViewWidget()
        self.view.setBackgroundColor(PANEL)
        self.view.setCameraPosition(distance=DISTANCE, elevation=ELEVATION, azimuth=AZIMUTH)
        self.view.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        box = BOX_CORNERS[BOX_EDGES.reshape(-1)]
        self.box = gl.GLLinePlotItem(pos=box, mode="lines", color=(0.55, 0.57, 0.62, 0.55), antialias=True)
        self.view.addItem(self.box)
        self.scatter = gl.GLScatterPlotItem(pos=np.zeros((1, 3)), size=7, pxMode=True)
        self.scatter.setGLOptions("translucent")
        self.view.addItem(self.scatter)
        self.plane: object | None = None
        self.plane_edge: object | None = None
        self.surface: object | None = None
        self.labels = [gl.GLTextItem(pos=p, text="", color=(190, 194, 202, 255))
                       for p in AXIS_LABELS]
        for label in self.labels:
            self.view.addItem(label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)

    def sizeHint(self) -> QSize:
        return QSize(360, 300)

    def _axes(self, names) -> None:
        for label, name in zip(self.labels, names):
            label.setData(text=name)

    def set_points(self, points: np.ndarray, colours: np.ndarray, polygon: np.ndarray | None,
                   axes: tuple[str, str, str]) -> None:
        """points (N, 3), colours (N, 4) floats in 0-1, the plane as a (K, 3) polygon or None."""
        self._drop_surface()
        self.scatter.setData(pos=points, color=colours, size=7)
        self.scatter.setVisible(True)
        self._axes(axes)
        if polygon is not None and len(polygon) >= 3:
            faces = np.array([[0, i, i + 1] for i in range(1, len(polygon) - 1)])
            outline = np.concatenate([polygon, polygon[:1]])
            if self.plane is None:
                self.plane = self.gl.GLMeshItem(vertexes=polygon, faces=faces, color=PLANE_RGBA, smooth=False,
                                                glOptions="translucent")
                self.plane_edge = self.gl.GLLinePlotItem(pos=outline, mode="line_strip", color=PLANE_EDGE_RGBA,
                                                         width=1.5, antialias=True)
                self.view.addItem(self.plane)
                self.view.addItem(self.plane_edge)
            else:
                self.plane.setMeshData(vertexes=polygon, faces=faces, color=PLANE_RGBA)
                self.plane_edge.setData(pos=outline)
            self.plane.setVisible(True)
            self.plane_edge.setVisible(True)
        elif self.plane is not None:
            self.plane.setVisible(False)
            self.plane_edge.setVisible(False)

    def set_surface(self, values: np.ndarray, rgb: np.ndarray, low: float, high: float,
                    axes: tuple[str, str, str] = ("x1", "x2", "")) -> None:
        """A landscape as a surface over the input square, coloured as in the grid."""
        self.scatter.setVisible(False)
        if self.plane is not None:
            self.plane.setVisible(False)
            self.plane_edge.setVisible(False)
        heights = surface_grid(values, low, high)
        colours = np.concatenate([rgb[::-1].transpose(1, 0, 2) / 255.0,
                                  np.ones(rgb.shape[:2] + (1,))], axis=2).astype(np.float32)
        g = heights.shape[0]
        axis = (-1 + (2 * np.arange(g) + 1) / g).astype(np.float32)
        if self.surface is None:
            self.surface = self.gl.GLSurfacePlotItem(x=axis, y=axis, z=heights, colors=colours.reshape(-1, 4),
                                                     smooth=False, computeNormals=False)
            self.view.addItem(self.surface)
        else:
            self.surface.setData(x=axis, y=axis, z=heights, colors=colours.reshape(-1, 4))
        self.surface.setVisible(True)
        self._axes(axes)

    def _drop_surface(self) -> None:
        if self.surface is not None:
            self.surface.setVisible(False)

    def grab_rgb(self) -> np.ndarray:
        from deepvis.gui.images import rgb_from_qimage

        return rgb_from_qimage(self.view.grabFramebuffer())


class SoftScene(QWidget):
    """The same views drawn with QPainter: an orthographic projection with a little
    perspective, points sorted by depth, the surface as depth-sorted quads. Drag to turn."""

    software = True
    SURFACE_CELLS = 24

    def __init__(self, reason: str | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.reason = reason or ""
        self.azimuth, self.elevation, self.zoom = AZIMUTH, ELEVATION, 1.0
        self.points: np.ndarray | None = None
        self.colours: np.ndarray | None = None
        self.polygon: np.ndarray | None = None
        self.surface: tuple[np.ndarray, np.ndarray] | None = None
        self.axes = ("", "", "")
        self._drag: QPointF | None = None
        painted_pane(self, (160, 140))
        self.setToolTip(f"software 3-D view: {self.reason}" if self.reason else "software 3-D view")

    def sizeHint(self) -> QSize:
        return QSize(360, 300)

    def set_points(self, points, colours, polygon, axes) -> None:
        self.points, self.colours, self.polygon, self.axes = points, colours, polygon, axes
        self.surface = None
        self.update()

    def set_surface(self, values, rgb, low, high, axes=("x1", "x2", "")) -> None:
        step = max(1, values.shape[0] // self.SURFACE_CELLS)
        heights = surface_grid(values, low, high)[::step, ::step]
        colours = rgb[::-1].transpose(1, 0, 2)[::step, ::step]
        self.surface = (heights, colours)
        self.points = None
        self.polygon = None
        self.axes = axes
        self.update()

    # -- projection ---------------------------------------------------------------------

    def project(self, xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(screen x, y) and depth (larger is nearer) for (N, 3) points."""
        a, e = math.radians(self.azimuth), math.radians(self.elevation)
        x, y, z = xyz[:, 0], xyz[:, 1], xyz[:, 2]
        # Turn about z by the azimuth, then tip the view up by the elevation (z stays up on screen).
        u = -x * math.sin(a) + y * math.cos(a)
        w = x * math.cos(a) + y * math.sin(a)
        v = z * math.cos(e) - w * math.sin(e)
        depth = w * math.cos(e) + z * math.sin(e)
        side = min(self.width(), self.height()) * 0.25 * self.zoom
        perspective = DISTANCE / (DISTANCE - depth)
        sx = self.width() / 2 + u * side * perspective
        sy = self.height() / 2 - v * side * perspective
        return np.stack([sx, sy], 1), depth

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), PANEL)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        screen, _ = self.project(BOX_CORNERS)
        painter.setPen(QPen(QColor(140, 145, 155, 140), 1))
        for a, b in BOX_EDGES:
            painter.drawLine(QPointF(*screen[a]), QPointF(*screen[b]))
        if self.surface is not None:
            self._paint_surface(painter)
        if self.polygon is not None and len(self.polygon) >= 3:
            poly, _ = self.project(self.polygon)
            painter.setPen(QPen(QColor(215, 220, 228, 150), 1))
            painter.setBrush(QColor(190, 196, 208, 70))
            painter.drawPolygon(QPolygonF([QPointF(*p) for p in poly]))
        if self.points is not None and len(self.points):
            self._paint_points(painter)
        painter.setPen(TEXT)
        ends, _ = self.project(AXIS_LABELS)
        for name, p in zip(self.axes, ends):
            if name:
                painter.drawText(QPointF(*p), name)
        painter.setPen(MUTED)
        painter.drawText(self.rect().adjusted(6, 4, -6, 0), Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignRight,
                         "software 3-D · drag to turn")
        painter.end()

    def _paint_points(self, painter: QPainter) -> None:
        """One drawPoints call per colour (round pens): per-point calls would hold the GIL
        that the trainer's thread needs, for milliseconds a frame."""
        import pyqtgraph as pg

        screen, _ = self.project(self.points)
        keys = np.round(np.clip(self.colours, 0, 1) * 255).astype(int)
        for colour in np.unique(keys, axis=0):
            mine = np.all(keys == colour, axis=1)
            pen = QPen(QColor(*(int(c) for c in colour)), 6.5)
            pen.setCapStyle(Qt.PenCapStyle.RoundCap)
            painter.setPen(pen)
            painter.drawPoints(pg.functions.arrayToQPolygonF(screen[mine, 0], screen[mine, 1]))

    def _paint_surface(self, painter: QPainter) -> None:
        """Depth-sorted quads filled by OpenCV into one image (far ones first)."""
        heights, colours = self.surface
        n = heights.shape[0]
        axis = np.linspace(-1, 1, n, dtype=np.float32)
        gx, gy = np.meshgrid(axis, axis, indexing="ij")
        screen, depth = self.project(np.stack([gx.ravel(), gy.ravel(), heights.ravel()], 1))
        screen = np.round(screen.reshape(n, n, 2) * 4).astype(np.int32)  # 2 bits of sub-pixel precision
        depth = depth.reshape(n, n)
        cell_depth = (depth[:-1, :-1] + depth[1:, 1:]) / 2
        image = np.zeros((self.height(), self.width(), 4), np.uint8)
        corners = np.stack([screen[:-1, :-1], screen[1:, :-1], screen[1:, 1:], screen[:-1, 1:]], 2)
        fills = colours[:-1, :-1].astype(int)
        for flat in np.argsort(cell_depth, axis=None):
            i, j = divmod(int(flat), n - 1)
            r, g, b = fills[i, j]
            cv2.fillConvexPoly(image, corners[i, j], (int(b), int(g), int(r), 255), cv2.LINE_AA, 2)
            cv2.polylines(image, [corners[i, j]], True, (28, 25, 24, 255), 1, cv2.LINE_AA, 2)
        qimage = QImage(image.data, image.shape[1], image.shape[0], image.strides[0],
                        QImage.Format.Format_ARGB32)
        painter.drawImage(0, 0, qimage)

    # -- the mouse turns the view -------------------------------------------------------

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self._drag = event.position()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._drag is None:
            return
        delta = event.position() - self._drag
        self._drag = event.position()
        self.azimuth -= delta.x() * 0.5
        self.elevation = max(-89.0, min(89.0, self.elevation + delta.y() * 0.5))
        self.update()

    def mouseReleaseEvent(self, _event) -> None:
        self._drag = None

    def wheelEvent(self, event: QWheelEvent) -> None:
        self.zoom = max(0.4, min(3.0, self.zoom * (1.1 if event.angleDelta().y() > 0 else 1 / 1.1)))
        self.update()

    def grab_rgb(self) -> np.ndarray:
        from deepvis.gui.images import rgb_from_qimage

        return rgb_from_qimage(self.grab().toImage())
