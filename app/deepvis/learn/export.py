"""`deepvis learn`'s pictures and video, drawn without a display.

boundary.png, landscapes.png, stages.png and landscape.png are drawn with matplotlib's Agg
backend (mplot3d for the 3-D views); training.mp4's frames are composed with OpenCV, which is
fast enough for a frame per snapshot shown.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Iterable

import cv2
import numpy as np

from deepvis.files import atomic_files, atomic_path
from deepvis.learn.data import Dataset
from deepvis.learn.landscape import LossLandscape
from deepvis.learn.views import LearnViews, StageView, plane_polygon, point_colours

DARK = "#18191c"
VIDEO_FPS = 15


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt

    return plt


def _save(plt, fig, path: Path) -> None:
    """The figure to path atomically, then closed (pyplot keeps open figures alive)."""
    try:
        with atomic_path(path) as partial:
            fig.savefig(partial)
    finally:
        plt.close(fig)


def _caption(views: LearnViews) -> str:
    s = views.snapshot
    if views.task == "regression":
        return f"step {s.step} · train loss (MSE) {s.train_loss:.4f} · test loss (MSE) {s.test_loss:.4f}"
    return (f"step {s.step} · train loss {s.train_loss:.3f}, accuracy {s.train_accuracy:.1%} · "
            f"test loss {s.test_loss:.3f}, accuracy {s.test_accuracy:.1%}")


def _points(ax, x: np.ndarray, y: np.ndarray, edge: str, size: float, label: str, task: str) -> None:
    ax.scatter(x[:, 0], x[:, 1], c=point_colours(y, task) / 255, s=size, edgecolors=edge, linewidths=0.8,
               label=label)


def save_boundary(views: LearnViews, dataset: Dataset, path: Path) -> Path:
    """The output over [-1, 1]^2 (orange 0, blue 1), its 0.5 contour, the points on top; for
    regression the prediction (orange -1, blue 1) with the points coloured by their targets."""
    plt = _pyplot()
    regression = views.task == "regression"
    fig, ax = plt.subplots(figsize=(6.4, 6.8), dpi=110)
    ax.imshow(views.boundary_rgb, extent=(-1, 1, -1, 1), interpolation="bilinear")
    g = views.boundary.shape[0]
    axis = -1 + (2 * np.arange(g) + 1) / g
    if not regression:
        ax.contour(axis, axis[::-1], views.boundary, levels=[0.5], colors=DARK, linewidths=1.2)
    _points(ax, dataset.x_train, dataset.y_train, "white", 26, "train", views.task)
    _points(ax, dataset.x_test, dataset.y_test, DARK, 16, "test", views.task)
    ax.set(xlim=(-1, 1), ylim=(-1, 1), xlabel="x1", ylabel="x2", aspect="equal")
    what = "prediction (orange -1, blue +1)" if regression else "decision boundary"
    ax.set_title(f"{what} · {dataset.name}\n{_caption(views)}", fontsize=9)
    ax.legend(loc="lower right", fontsize=8, framealpha=0.85, title="white edge: train, dark: test",
              title_fontsize=7)
    fig.tight_layout()
    _save(plt, fig, path)
    return path


def save_landscapes(views: LearnViews, path: Path) -> Path:
    """Every neuron's activation over the input square, one column per layer, labelled layer:unit;
    the input layer's features first, labelled by name."""
    plt = _pyplot()
    neurons = list(views.feature_maps) + list(views.landscapes)
    layers = sorted({l.layer for l in neurons})
    rows = max(sum(1 for l in neurons if l.layer == layer) for layer in layers)
    # At least the caption's width: a network of one or two layers would cut it off.
    fig, axes = plt.subplots(rows, len(layers), figsize=(max(2.1 * len(layers), 6.4), 2.1 * rows + 0.9), dpi=110,
                             squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for column, layer in enumerate(layers):
        for landscape in (l for l in neurons if l.layer == layer):
            ax = axes[landscape.unit, column]
            ax.axis("on")
            ax.imshow(landscape.rgb, extent=(-1, 1, -1, 1), interpolation="bilinear")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{landscape.label}  [{landscape.low:.3g}, {landscape.high:.3g}]", fontsize=8)
        titles = views.layer_titles
        title = ("input" if layer == 0 else titles[layer - 1] if layer - 1 < len(titles) else f"layer {layer}")
        axes[0, column].annotate(title, (0.5, 1.28), xycoords="axes fraction", ha="center", fontsize=9,
                                 fontweight="bold")
    fig.suptitle(f"every neuron's activation over [-1, 1]² (orange: low, blue: high)\n{_caption(views)}",
                 fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    _save(plt, fig, path)
    return path


def stage_title(stage: StageView) -> str:
    shown = f"PCA {stage.width}→3" if stage.projected else f"{stage.width}-D"
    if math.isnan(stage.probe_accuracy):  # regression: no probe
        return f"{stage.name} ({shown})"
    return f"{stage.name} ({shown}) · probe {stage.probe_accuracy:.1%}"


def save_stages(views: LearnViews, path: Path) -> Path:
    """The training data at every stage; the probe's plane where it separates the classes."""
    plt = _pyplot()
    from mpl_toolkits.mplot3d.art3d import Poly3DCollection

    count = len(views.stages)
    cols = min(4, count)
    rows = math.ceil(count / cols)
    fig = plt.figure(figsize=(4.2 * cols, 4.2 * rows + 0.6), dpi=100)
    colours = point_colours(views.labels, views.task) / 255
    for i, stage in enumerate(views.stages):
        p = stage.points
        if stage.dims == 3:
            ax = fig.add_subplot(rows, cols, i + 1, projection="3d")
            ax.scatter(p[:, 0], p[:, 1], p[:, 2], c=colours, s=9, depthshade=False, edgecolors="none")
            if stage.plane is not None:
                polygon = plane_polygon(stage.plane)
                if len(polygon):
                    ax.add_collection3d(Poly3DCollection([polygon], alpha=0.25, facecolor="#6b6f78",
                                                         edgecolor="#30333a"))
            ax.set(xlim=(-1, 1), ylim=(-1, 1), zlim=(-1, 1), xlabel=stage.axes[0], ylabel=stage.axes[1],
                   zlabel=stage.axes[2], xticks=[-1, 0, 1], yticks=[-1, 0, 1], zticks=[-1, 0, 1])
            ax.tick_params(labelsize=6, pad=0)
            labels = _tick_labels(stage)
            ax.set_xticklabels(labels)
            ax.set_yticklabels(labels)
            ax.set_zticklabels(labels)
            ax.view_init(elev=22, azim=-58)
        else:
            ax = fig.add_subplot(rows, cols, i + 1)
            ax.scatter(p[:, 0], p[:, 1], c=colours, s=9, edgecolors="none")
            if stage.plane is not None:
                _draw_line(ax, stage.plane)
            ax.set(xlim=(-1.05, 1.05), ylim=(-1.05, 1.05), xlabel=stage.axes[0], xticks=[-1, 0, 1],
                   yticks=[-1, 0, 1], ylabel=stage.axes[1] if stage.dims == 2 else "(spread out)")
            ax.set_xticklabels(_tick_labels(stage))
            if stage.dims == 1:
                ax.set_yticks([])
            else:
                ax.set_yticklabels(_tick_labels(stage))
            ax.tick_params(labelsize=7)
            ax.set_aspect("equal" if stage.dims == 2 else "auto")
        ax.set_title(stage_title(stage), fontsize=8.5, color="#1a7f37" if stage.probe_accuracy >= 1 else "black")
    about = ("colour: the target" if views.task == "regression"
             else "probe: a linear classifier's accuracy; plane drawn at 100%")
    fig.suptitle(f"the training data at every stage ({about})\n{_caption(views)}", fontsize=9)
    fig.subplots_adjust(left=0.04, right=0.97, bottom=0.05, top=0.9, wspace=0.3, hspace=0.3)
    _save(plt, fig, path)
    return path


def _tick_labels(stage: StageView) -> list[str]:
    """The stage's own values at display -1, 0, 1 (a projection's are its scaled coordinates)."""
    return [f"{stage.offset + t * stage.scale:.3g}" for t in (-1, 0, 1)]


def _draw_line(ax, plane: np.ndarray) -> None:
    """The plane's trace on the z = 0 display (a line; vertical for a 1-D stage)."""
    a, b, c = float(plane[0]), float(plane[1]), float(plane[3])
    if abs(b) > abs(a):
        xs = np.array([-1.05, 1.05])
        ax.plot(xs, -(a * xs + c) / b, color="#30333a", lw=1.2)
    elif a:
        ys = np.array([-1.05, 1.05])
        ax.plot(-(b * ys + c) / a, ys, color="#30333a", lw=1.2)


def save_loss_landscape(landscape: LossLandscape, path: Path) -> Path:
    """The loss over the plane as contours (log scale) with the training path, and as a 3-D surface."""
    plt = _pyplot()
    from matplotlib.colors import LogNorm

    c = landscape.coordinates
    loss = np.maximum(landscape.loss, 1e-12)  # a log scale needs positive values
    fig = plt.figure(figsize=(12.4, 5.8), dpi=100)
    ax = fig.add_subplot(1, 2, 1)
    low, high = float(loss.min()), float(loss.max())
    norm = LogNorm(low, high) if high > low * 1.0001 else None  # a flat landscape: a plain scale
    mesh = ax.pcolormesh(c, c, loss, norm=norm, cmap="viridis", shading="nearest")
    if norm is not None:
        ax.contour(c, c, loss, levels=np.geomspace(low, high, 16)[1:-1], colors="black", linewidths=0.4,
                   alpha=0.5)
    kind = "MSE" if landscape.task == "regression" else "BCE"
    fig.colorbar(mesh, ax=ax, shrink=0.85, label=f"training loss ({kind})")
    path_xy = landscape.path
    if len(path_xy):
        ax.plot(path_xy[:, 0], path_xy[:, 1], color="white", lw=1.4, label="training path (projected)")
        ax.plot(path_xy[0, 0], path_xy[0, 1], "o", color="#f59322", ms=6, label=f"step {landscape.path_steps[0]}")
    ax.plot(0, 0, "*", color="#e8eaed", ms=12, markeredgecolor="black", label=f"step {landscape.step} (centre)")
    ax.set(xlabel="direction 1", ylabel="direction 2", aspect="equal")
    ax.legend(loc="lower right", fontsize=7, framealpha=0.85)
    surface = fig.add_subplot(1, 2, 2, projection="3d")
    a, b = np.meshgrid(c, c)
    surface.plot_surface(a, b, np.log10(loss), cmap="viridis", linewidth=0, antialiased=True, alpha=0.9)
    if len(path_xy):
        surface.plot(path_xy[:, 0], path_xy[:, 1], np.log10(np.maximum(landscape.path_loss, 1e-12)) + 0.02,
                     color="white", lw=1.4)
    surface.set(xlabel="direction 1", ylabel="direction 2", zlabel="log10 loss")
    surface.view_init(elev=35, azim=-60)
    fig.suptitle(f"the loss over a plane through the weights of step {landscape.step}: two random directions, "
                 f"filter-normalized (Li et al. 2018)\ncentre loss {landscape.centre_loss:.4g} · "
                 f"{landscape.grid} x {landscape.grid} points over ±{landscape.span:.3g}", fontsize=9)
    fig.subplots_adjust(left=0.07, right=0.97, bottom=0.08, top=0.88, wspace=0.15)
    _save(plt, fig, path)
    return path


# --------------------------------------------------------------------------- video


def _text(image: np.ndarray, text: str, origin: tuple[int, int], scale: float = 0.45,
          colour=(222, 224, 228)) -> None:
    cv2.putText(image, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, colour, 1, cv2.LINE_AA)


def training_frame(views: LearnViews, dataset: Dataset, boundary_px: int = 400, tile_px: int = 96) -> np.ndarray:
    """One video frame (RGB): the boundary with the points, and every neuron's landscape."""
    layers = sorted({l.layer for l in views.landscapes})
    rows = max(sum(1 for l in views.landscapes if l.layer == layer) for layer in layers)
    gap, top = 10, 34
    width = boundary_px + 2 * gap + len(layers) * (tile_px + gap) + gap
    height = max(boundary_px, rows * (tile_px + 22)) + top + gap
    width, height = width + width % 2, height + height % 2  # video codecs want even sizes
    frame = np.full((height, width, 3), (24, 25, 28), np.uint8)
    board = cv2.resize(views.boundary_rgb, (boundary_px, boundary_px), interpolation=cv2.INTER_LINEAR)
    for x, y, edge, radius in ((dataset.x_train, dataset.y_train, (255, 255, 255), 4),
                               (dataset.x_test, dataset.y_test, (24, 25, 28), 3)):
        pixels = ((x * [1, -1] + 1) / 2 * boundary_px).astype(int)
        for (px, py), colour in zip(pixels, point_colours(y, views.task)):
            cv2.circle(board, (int(px), int(py)), radius, tuple(int(v) for v in colour), -1, cv2.LINE_AA)
            cv2.circle(board, (int(px), int(py)), radius, edge, 1, cv2.LINE_AA)
    frame[top:top + boundary_px, gap:gap + boundary_px] = board
    _text(frame, _caption(views), (gap, 22), 0.5)
    for column, layer in enumerate(layers):
        x0 = boundary_px + 2 * gap + column * (tile_px + gap)
        for landscape in (l for l in views.landscapes if l.layer == layer):
            y0 = top + landscape.unit * (tile_px + 22) + 16
            tile = cv2.resize(landscape.rgb, (tile_px, tile_px), interpolation=cv2.INTER_LINEAR)
            frame[y0:y0 + tile_px, x0:x0 + tile_px] = tile
            _text(frame, landscape.label, (x0, y0 - 4), 0.42, (169, 173, 182))
    return frame


def write_video(frames: Iterable[np.ndarray], path: Path, fps: int = VIDEO_FPS) -> int:
    """RGB frames to an MP4 that browsers play (H.264, deepvis.encode), written under a temporary
    name and renamed when complete; the number written (no frames: no file)."""
    from deepvis.encode import VideoWriter

    writer = None
    count = 0
    with atomic_files() as files:
        try:
            for frame in frames:
                if writer is None:
                    height, width = frame.shape[:2]
                    writer = VideoWriter(files.path(path), fps, (width, height))
                writer.write(frame)
                count += 1
        finally:
            if writer is not None:
                writer.close()
    return count
