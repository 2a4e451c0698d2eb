"""The Weights mode's view model: which model is loaded, which layer is selected and which is
shown, the page and the unit, the job that runs and what its result belongs to, and every action
that changes them.

Plain Python, no Qt and no torch: the widgets (gui/weights/) observe its events and write intent
back by calling its actions; keys reach the same actions through `keys.KEYS`, so each is tested
without a window. The jobs themselves (reading a model, a layer) run on the mode's worker: the
view model asks for one with `requested` and takes its result only if it is the one asked for last.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deepvis.events import Event
from deepvis.jobstate import JobState
from deepvis.weights.keys import KEYS
from deepvis.weights.layers import WeightLayer
from deepvis.weights.pictures import page_count, page_size


@dataclass(frozen=True)
class Request:
    """A job for the mode's worker, and what its result will belong to."""

    kind: str  # "model": open a model and read its first layer | "layer": read one layer
    model: str  # the model's name
    weights: str | None = None  # model: a state dict to load instead of the model's own weights
    layer: WeightLayer | None = None  # layer: the layer to read


@dataclass
class OpenedModel:
    """What a model job hands back."""

    name: str
    title: str
    model: Any  # the nn.Module the layer jobs read (opaque here)
    layers: list[WeightLayer]
    channel_paths: dict[str, tuple[str, ...]]  # weight layer -> the modules its channels reach (reach.py)
    labels: list[str] = field(default_factory=list)  # the model's class names
    first: Any = None  # the LayerView of layers[0], or None when there is no layer


class WeightsViewModel:
    """The Weights mode's state.

    Events:
      model_changed(self): another model is loaded (name, layers, class names)
      view_changed(LayerView): another layer is shown (its histogram, range, noise images)
      page_changed(int): the page of the shown layer changed (a new layer starts at page 0)
      unit_changed(int | None): the selected unit changed
      requested(Request): a job the mode must run on its worker
      message(str): a line for the status bar
    `job` (a JobState) says which job runs and what the shown results were made from.
    """

    def __init__(self, live: Any = None):
        self.live = live  # deepvis.live.share.LiveShare: the only way to the Live mode
        self.job = JobState("weights")
        self.pending: Request | None = None  # the job asked for last: only its result is taken
        self.model_name: str | None = None
        self.title = ""
        self.weights: str | None = None  # the state dict the model was loaded with, if not its own
        self.model: Any = None
        self.layers: list[WeightLayer] = []
        self.channel_paths: dict[str, tuple[str, ...]] = {}
        self.labels: list[str] = []
        self.selected: WeightLayer | None = None  # the layer asked for
        self.shown: Any = None  # the LayerView on screen (the previous layer's until the new one is read)
        self.page = 0
        self.unit: int | None = None
        self.model_changed, self.view_changed, self.page_changed = Event(), Event(), Event()
        self.unit_changed, self.requested, self.message = Event(), Event(), Event()

    # -- the model -----------------------------------------------------------------------------

    def open_model(self, name: str, weights: str | None = None) -> Request:
        """Read a model in the background; the one shown stays until it is ready, and stays when it
        cannot load."""
        request = Request("model", name, weights)
        with_weights = f" with {Path(weights).name}" if weights else ""
        self.job.start("model", f"loading {name}{with_weights}", name)
        self.message.emit(f"weights: loading {name}{with_weights}…")
        return self._request(request)

    def model_opened(self, request: Request, opened: OpenedModel) -> bool:
        """A model job's result: taken only when it is the job asked for last."""
        if request != self.pending:
            return False
        self.pending = None
        self.model_name, self.title, self.weights = opened.name, opened.title, request.weights
        self.model, self.layers, self.channel_paths = opened.model, list(opened.layers), dict(opened.channel_paths)
        self.labels = list(opened.labels)
        self.selected, self.shown, self.page, self.unit = (self.layers[0] if self.layers else None), None, 0, None
        self.job.finish(opened, f"weights: {opened.title}, {len(self.layers)} conv/linear layers")
        self.model_changed.emit(self)
        self.message.emit(self.job.message if self.layers else f"weights: {opened.title} has no conv or linear layers")
        if opened.first is not None:
            self._show(opened.first)
        return True

    def job_failed(self, message: str) -> None:
        """The job asked for last failed: the model and layer shown stay, and the line says so."""
        self.pending = None
        if self.model_name is not None:
            message += f"; still showing {self.model_name}"
        self.job.fail(message)
        self.message.emit(f"weights: {message}")

    # -- layers, pages and units ---------------------------------------------------------------

    def select_layer(self, index: int) -> Request | None:
        if not 0 <= index < len(self.layers) or self.layers[index] == self.selected:
            return None
        if self.pending is not None and self.pending.kind == "model":
            self.message.emit(f"weights: {self.job.job.text}… (its layers come with it)")
            return None
        self.selected = layer = self.layers[index]
        self.job.start("layer", f"reading {layer.path}", layer.path)
        return self._request(Request("layer", self.model_name or "", layer=layer))

    def layer_read(self, request: Request, view: Any) -> bool:
        """A layer job's result: dropped when another layer or model was asked for since."""
        if request != self.pending or view.layer != self.selected:
            return False
        self.pending = None
        self.job.finish(view)
        self._show(view)
        return True

    def move_layer(self, step: int) -> None:
        if self.layers:
            index = self.layers.index(self.selected) if self.selected in self.layers else 0
            self.select_layer(min(max(index + step, 0), len(self.layers) - 1))

    @property
    def pages(self) -> int:
        return page_count(self.shown.layer) if self.shown is not None else 1

    def page_units(self) -> range:
        """The units on the page shown."""
        if self.shown is None:
            return range(0)
        size = page_size(self.shown.layer)
        return range(self.page * size, min((self.page + 1) * size, self.shown.layer.units))

    def set_page(self, page: int) -> None:
        page = min(max(int(page), 0), self.pages - 1)
        if page != self.page:
            self.page = page
            self.page_changed.emit(page)

    def flip_page(self, step: int) -> None:
        self.set_page(self.page + step)

    def select_unit(self, unit: int) -> None:
        """Select a unit of the shown layer (clamped); the page turns to it."""
        if self.shown is None:
            return
        unit = min(max(int(unit), 0), self.shown.layer.units - 1)
        self.set_page(unit // page_size(self.shown.layer))
        if unit != self.unit:
            self.unit = unit
            self.unit_changed.emit(unit)

    def move_unit(self, step: int) -> None:
        if self.shown is not None:
            self.select_unit(self.page_units()[0] if self.unit is None else self.unit + step)

    # -- what the status bar and the hover say -------------------------------------------------

    def page_text(self) -> str:
        """'rows 257-320 of 1000' (Linear layers) or 'filters 1-64 of 512' (convs); '' before a layer."""
        units = self.page_units()
        if not units:
            return ""
        noun = "rows" if self.shown.layer.kind == "linear" else "filters"
        return f"{noun} {units[0] + 1}-{units[-1] + 1} of {self.shown.layer.units}"

    def class_name(self, unit: int) -> str | None:
        """The class a unit of the model's last layer stands for, when the model has class names."""
        layer = self.shown.layer if self.shown is not None else None
        if layer is None or layer != self.layers[-1] or layer.units != len(self.labels) or not 0 <= unit < layer.units:
            return None
        return self.labels[unit]

    def hover_text(self, unit: int) -> str:
        lo, hi = self.shown.ranges[unit]
        name = self.class_name(unit)
        return f"{self.shown.layer.path}:{unit}" + (f" ({name})" if name else "") + f"  weights {lo:+.4g} … {hi:+.4g}"

    def status_text(self) -> str:
        if self.model_name is None:
            return f"weights: {self.job.job.input_name if self.job.job else ''} (loading…)"
        with_weights = f" ({Path(self.weights).name})" if self.weights else ""
        text = f"weights: {self.model_name}{with_weights}"
        layer = self.shown.layer if self.shown is not None else None
        if layer is not None:
            unit = f":{self.unit}" if self.unit is not None else ""
            text += f" | {layer.path}{unit} | {layer.kind} {'x'.join(map(str, layer.shape))}"
            if self.pages > 1:
                text += f" | {self.page_text()} (page {self.page + 1}/{self.pages})"
        return text

    # -- the Live mode -------------------------------------------------------------------------

    def live_layer(self, path: str) -> tuple[str | None, str]:
        """Live's displayed layer that shows the filters of weight layer `path` as its units (the
        first displayed module its channels reach one to one), or None and why not."""
        if self.live is None:
            return None, "there is no Live mode to show it in"
        live = self.live.open()
        if live.model_name != self.model_name:
            return None, (f"Live shows {live.model_name or 'no model'}, not {self.model_name}: "
                          f"load {self.model_name} in Live's Model menu to see {path}'s units there")
        for reached in self.channel_paths.get(path, (path,)):
            name = live.layer_for_path(reached)
            if name is not None:
                return name, ""
        return None, (f"{path}'s filters reach none of Live's displayed layers "
                      f"({' '.join(live.layer_names())}) before their channels are mixed")

    def open_in_live(self, unit: int) -> bool:
        """Show a unit of the shown layer in the Live mode (Live comes to the front), or say why not
        (and stay here)."""
        if self.shown is None:
            return False
        self.select_unit(unit)
        path = self.shown.layer.path
        name, why = self.live_layer(path)
        if name is None:
            self.message.emit(why)
            return False
        self.live.show_unit(name, self.unit)  # Live comes to the front: the line below is said there
        self.message.emit(f"Live: {name}:{self.unit} (from weights {path}:{self.unit})")
        return True

    def open_selected_in_live(self) -> None:
        units = self.page_units()
        if units:
            self.open_in_live(units[0] if self.unit is None else self.unit)

    # -- keys ------------------------------------------------------------------------------------

    def press(self, key: str) -> bool:
        """Run the action bound to a key name; False when the key is not bound."""
        return KEYS.run(key, self)

    # -- internals -------------------------------------------------------------------------------

    def _request(self, request: Request) -> Request:
        self.pending = request
        self.requested.emit(request)
        return request

    def _show(self, view: Any) -> None:
        """A new layer on screen: its first page, no unit selected."""
        self.shown, self.page, self.unit = view, 0, None
        self.view_changed.emit(view)
        self.page_changed.emit(0)
        self.unit_changed.emit(None)
