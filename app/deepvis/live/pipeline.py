"""The per-frame engine shared by the GUI worker, `bench`, `probe` and `snapshot`.

frame (uint8, host) -> preprocess -> forward with capture -> grid, unit view and
backprop pane rendered on the device -> one packed device-to-host transfer.
The GUI hands in an immutable ViewState and gets back an immutable FrameResult.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Sequence

import numpy as np
import torch

from deepvis.device import one_cpu_thread, sync_device
from deepvis.live.top_frames import TopFrames, UnitTopFrames, to_unit_top_frames
from deepvis.probe import Prediction, Probe, ProbeResult, input_image
from deepvis.render import GridLayout, GridRenderer, as_maps, enlarge_unit
from deepvis.zoo import Layer, LoadedModel


TOP_FRAMES_LAYERS = 3  # layers whose live top-k is kept at once


@dataclass(frozen=True)
class ViewState:
    """What the user is looking at; the GUI sends a new one on every change."""

    layer: str  # short name of the displayed layer
    unit: int = 0
    crop: str = "crop"
    boost: float = 0.0
    gamma: float = 1.0
    colormap: str = "gray"
    backprop: str = "off"  # off | gradient | deconv | guided
    backprop_filter: str = "raw"  # raw | gray | norm | norm-blur | overlay
    backprop_origin: tuple[str, int] | None = None  # frozen (layer, unit) the backprop starts from ('d')
    backprop_in_grid: bool = False  # show the backward signal in the grid instead of activations ('a')
    pane_size: int = 224  # side of the enlarged unit and backprop images

    def with_changes(self, **changes) -> "ViewState":
        return replace(self, **changes)


@dataclass(frozen=True)
class FrameResult:
    """Display-ready output of one frame; every array is host uint8 unless noted."""

    view: ViewState
    frame_index: int
    input_rgb: np.ndarray  # the model's input as it saw it, S x S x 3
    grid: np.ndarray  # the layer grid
    layout: GridLayout
    unit_rgb: np.ndarray  # the selected unit's activation map, enlarged
    unit_max: np.ndarray  # float32, each unit's current maximum (for hover read-outs)
    top: list[Prediction]
    backprop_rgb: np.ndarray | None = None  # the backprop pane, None when off
    timings_ms: dict[str, float] = field(default_factory=dict)
    notices: tuple[str, ...] = ()  # one-off messages for the status bar
    top_frames: UnitTopFrames | None = None  # the selected unit's live top-k, when tracked


def to_host(*tensors: torch.Tensor) -> list[np.ndarray]:
    """Move several device tensors to the host in one transfer (packed as bytes, then split)."""
    if all(t.device.type == "cpu" for t in tensors):
        return [t.contiguous().numpy() for t in tensors]  # already on the host: views, no copy
    flat = [t.contiguous().view(-1).view(torch.uint8) for t in tensors]
    host = torch.cat(flat).cpu().numpy() if len(flat) > 1 else flat[0].cpu().numpy()
    out, start = [], 0
    for t, f in zip(tensors, flat):
        numpy_dtype = torch.empty((), dtype=t.dtype).numpy().dtype
        out.append(host[start : start + f.numel()].view(numpy_dtype).reshape(tuple(t.shape)))
        start += f.numel()
    return out


@contextmanager
def small_ops(device: torch.device):
    """Run a stretch of small tensor ops on one CPU thread.

    Splitting ops of a few hundred kilobytes over torch's thread pool costs more
    in hand-offs than it saves, and when another process holds the second core
    it costs tens of milliseconds a frame. The model's forward keeps every thread.
    """
    if device.type != "cpu":
        yield
        return
    with one_cpu_thread():
        yield


class Pipeline:
    """Runs one frame through the model and renders everything the window shows."""

    def __init__(self, loaded: LoadedModel, layers: Sequence[Layer] | None = None, min_grid_size: int = 480,
                 track_top_frames: bool = False):
        self.loaded = loaded
        self.probe = Probe(loaded, layers)
        self.renderer = GridRenderer(min_size=min_grid_size)
        self._noticed: set[str] = set()  # activations already reported as lacking a backprop rule
        # The live top-k of each layer shown, the most recently shown last (a few kept: memory).
        self.track_top_frames = track_top_frames
        self.top_frames: dict[str, TopFrames] = {}

    def _top_frames_of(self, layer_name: str, n_units: int) -> TopFrames:
        tracker = self.top_frames.pop(layer_name, None)
        if tracker is None or tracker.n_units != n_units:
            from deepvis.unitvis.sites import receptive_field

            layer = next(l for l in self.layers if l.name == layer_name)
            field = receptive_field(self.loaded, layer, self.loaded.card.input_size)
            tracker = TopFrames(n_units, self.loaded.device, field)
        self.top_frames[layer_name] = tracker
        while len(self.top_frames) > TOP_FRAMES_LAYERS:
            self.top_frames.pop(next(iter(self.top_frames)))
        return tracker

    def reset_top_frames(self) -> None:
        self.top_frames.clear()

    @property
    def layers(self) -> tuple[Layer, ...]:
        return self.probe.layers

    def _tick(self, timings: dict[str, float], stage: str, start: float) -> float:
        sync_device(self.loaded.device)  # a stage's time includes its queued GPU work
        now = time.perf_counter()
        timings[stage] = (now - start) * 1000.0
        return now

    def process(self, rgb: np.ndarray, view: ViewState, frame_index: int = 0) -> FrameResult:
        timings: dict[str, float] = {}
        t = time.perf_counter()
        self.probe.crop = view.crop
        with small_ops(self.loaded.device):
            x = self.probe.preprocess(rgb)
        t = self._tick(timings, "preprocess", t)
        backprop = None
        # Only the shown layer is captured: the window displays one layer at a time.
        if view.backprop != "off":
            result, backprop = self.forward_backprop(x, view)
        else:
            result = self.probe.forward(x, only=(view.layer,))
        t = self._tick(timings, "forward", t)
        return self.render(result, view, frame_index, timings, t, backprop)

    def forward_backprop(self, x: torch.Tensor, view: ViewState):
        """The display forward shared with the backward pass of the origin unit: (ProbeResult, BackpropResult).

        The origin is the frozen (layer, unit) of view.backprop_origin, else the selected unit; with
        backprop_in_grid the backward signal is also captured at the displayed layer.
        """
        from deepvis.backprop import probe_backprop

        by_name = {layer.name: layer for layer in self.layers}
        origin_name, origin_unit = view.backprop_origin or (view.layer, view.unit)
        origin = by_name.get(origin_name) or by_name[view.layer]
        capture = by_name[view.layer].path if view.backprop_in_grid else None
        return probe_backprop(self.probe, x, origin.path, max(origin_unit, 0), view.backprop, capture,
                              only=(view.layer,))

    def render(self, result: ProbeResult, view: ViewState, frame_index: int = 0,
               timings: dict[str, float] | None = None, t: float | None = None, backprop=None) -> FrameResult:
        timings = {} if timings is None else timings
        t = time.perf_counter() if t is None else t
        with small_ops(self.loaded.device):
            return self._render(result, view, frame_index, timings, t, backprop)

    def _render(self, result: ProbeResult, view: ViewState, frame_index: int, timings: dict[str, float],
                t: float, backprop=None) -> FrameResult:
        act = result.activations[view.layer]
        maps = as_maps(act)
        unit = min(max(view.unit, 0), maps.shape[0] - 1)
        renderer = self.renderer
        renderer.boost, renderer.gamma, renderer.colormap = view.boost, view.gamma, view.colormap
        in_grid = backprop is not None and view.backprop_in_grid and backprop.captured is not None
        grid, layout = renderer.render_tensor(backprop.captured if in_grid else act, selected=unit, signed=in_grid)
        card = self.loaded.card
        input_img = input_image(result.input, card.mean, card.std)
        backprop_img, notices = None, ()
        if backprop is not None:
            from deepvis.backprop import backprop_image, unsupported_notice

            backprop_img = backprop_image(backprop.input_signal[0], view.backprop_filter, view.pane_size,
                                          frame=input_img)
            new = [name for name in backprop.unsupported if name not in self._noticed]
            self._noticed.update(new)
            notices = (unsupported_notice(new),) if new else ()
        unit_img = enlarge_unit(act, unit, view.pane_size, view.colormap, view.gamma)
        unit_max = maps.float().amax(dim=(1, 2))
        top = ()
        if self.track_top_frames:
            tracker = self._top_frames_of(view.layer, maps.shape[0])
            tracker.update(act[0] if act.dim() == 4 else act.reshape(-1), input_img, frame_index)
            top = tracker.unit(unit)
        t = self._tick(timings, "render", t)
        extra = () if backprop_img is None else (backprop_img,)
        grid_np, unit_np, max_np, input_np, *rest = to_host(grid, unit_img, unit_max, input_img, *top, *extra)
        top_np, backprop_np = rest[: len(top)], rest[len(top):]
        self._tick(timings, "transfer", t)
        return FrameResult(
            view=view, frame_index=frame_index, input_rgb=input_np, grid=grid_np, layout=layout,
            unit_rgb=unit_np, unit_max=max_np, top=result.top, timings_ms=timings,
            backprop_rgb=backprop_np[0] if backprop_np else None, notices=notices,
            top_frames=to_unit_top_frames(*top_np) if top_np else None,
        )
