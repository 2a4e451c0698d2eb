"""The Live mode's view model: what the user looks at, and every action that changes it.

Plain Python, no Qt. The panes observe it through its events and write intent back
by calling its actions; keys reach the same actions through `keys.KEYMAP`, so every
binding is testable without a window. The engine's part of the state is the
immutable `ViewState` the worker renders; the rest (zoom, frozen, which panes show)
is display-only.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from deepvis.backprop import next_backprop_mode, next_filter
from deepvis.config import Config
from deepvis.live import keys
from deepvis.events import Event
from deepvis.live.pipeline import ViewState
from deepvis.render import grid_shape


def initial_view(config: Config, layer: str, unit: int = 0) -> ViewState:
    return ViewState(layer=layer, unit=unit, crop=config.crop, boost=config.boost, gamma=config.gamma,
                     colormap=config.colormap, backprop=config.backprop, backprop_filter=config.backprop_filter)


@dataclass(frozen=True)
class Display:
    """What the window shows besides the engine's view."""

    zoom: str = "off"  # off | unit | backprop: what fills the grid pane
    frozen: bool = False  # the worker keeps processing the frame on screen
    predictions: bool = True  # the top-5 pane is shown
    unit_panel: bool = True  # the right column is shown


class LiveViewModel:
    """The view state of the Live mode.

    Events:
      view_changed(ViewState): the engine's view changed (the worker must render it)
      display_changed(Display): zoom, freeze or pane visibility changed
      layers_changed(list[str]): the model's displayed layers changed
      message(str): a line for the status bar
      requested(str): an action only the window can carry out (see keys.WINDOW_REQUESTS)
    """

    def __init__(self, config: Config, layers: list[str], layer: str | None = None, unit: int = 0):
        self.config = config
        self.layers = list(layers)
        self.default_layer = layer or self.layers[0]
        self.unit_counts: dict[str, int] = {}
        self.view = initial_view(config, self.default_layer, max(unit, 0))
        self.display = Display()
        self.view_changed, self.display_changed = Event(), Event()
        self.layers_changed, self.message, self.requested = Event(), Event(), Event()

    # -- the model and its layers -----------------------------------------------------------

    def set_model(self, layers: list[str], default_layer: str) -> None:
        """A new model: its layers, its default layer at unit 0, the backprop origin released."""
        self.layers, self.default_layer, self.unit_counts = list(layers), default_layer, {}
        self.layers_changed.emit(self.layers)
        self._set_view(self.view.with_changes(layer=default_layer, unit=0, backprop_origin=None))

    def set_unit_counts(self, counts: dict[str, int]) -> None:
        """Each layer's number of units, once the worker knows them; the selection is clamped."""
        self.unit_counts.update(counts)
        clamped = self.clamp(self.view.layer, self.view.unit)
        if clamped != self.view.unit:
            self._set_view(self.view.with_changes(unit=clamped))

    def clamp(self, layer: str, unit: int) -> int:
        """The one place a unit index is clamped: to 0..n-1 of its layer once n is known."""
        count = self.unit_counts.get(layer)
        unit = max(int(unit), 0)
        return unit if count is None else min(unit, count - 1)

    # -- the engine's view ---------------------------------------------------------------------

    def change(self, **changes) -> None:
        """Any change of the ViewState (from a menu, a slider...)."""
        if "unit" in changes or "layer" in changes:
            layer = changes.get("layer", self.view.layer)
            changes["unit"] = self.clamp(layer, changes.get("unit", self.view.unit))
        self._set_view(self.view.with_changes(**changes))

    def select_unit(self, unit: int) -> None:
        self.change(unit=unit)

    def select_layer(self, layer: str) -> None:
        self.change(layer=layer)

    def move(self, d_row: int, d_col: int) -> None:
        """Move the selection in the layer's grid; before the unit count is known, along the row."""
        count = self.unit_counts.get(self.view.layer)
        if count is None:
            self.select_unit(self.view.unit + d_col)
            return
        rows, cols = grid_shape(count)
        row, col = divmod(self.view.unit, cols)
        row = min(max(row + d_row, 0), rows - 1)
        col = min(max(col + d_col, 0), cols - 1)
        self.select_unit(row * cols + col)

    def move_left(self): self.move(0, -1)
    def move_right(self): self.move(0, 1)
    def move_up(self): self.move(-1, 0)
    def move_down(self): self.move(1, 0)
    def move_left_3(self): self.move(0, -3)
    def move_right_3(self): self.move(0, 3)
    def move_up_3(self): self.move(-3, 0)
    def move_down_3(self): self.move(3, 0)

    def step_layer(self, step: int) -> None:
        index = self.layers.index(self.view.layer) if self.view.layer in self.layers else 0
        self.select_layer(self.layers[(index + step) % len(self.layers)])

    def prev_layer(self): self.step_layer(-1)
    def next_layer(self): self.step_layer(1)

    def toggle_crop(self) -> None:
        self.change(crop="stretch" if self.view.crop == "crop" else "crop")

    def cycle_backprop(self) -> None:
        mode, filter_name = next_backprop_mode(self.view.backprop, self.view.backprop_filter)
        self.change(backprop=mode, backprop_filter=filter_name)

    def cycle_filter(self) -> None:
        self.change(backprop_filter=next_filter(self.view.backprop_filter))

    def toggle_origin(self) -> None:
        origin = None if self.view.backprop_origin else (self.view.layer, self.view.unit)
        self.change(backprop_origin=origin)
        self.message.emit(f"backprop origin frozen at {origin[0]}:{origin[1]}" if origin
                          else "backprop origin follows the selection")

    def toggle_backprop_in_grid(self) -> None:
        self.change(backprop_in_grid=not self.view.backprop_in_grid)

    def cycle_gamma(self) -> None:
        self.change(gamma=keys.next_step(keys.GAMMA_STEPS, self.view.gamma))

    def cycle_boost(self) -> None:
        self.change(boost=keys.next_step(keys.BOOST_STEPS, self.view.boost))

    # -- the display ---------------------------------------------------------------------------

    def cycle_zoom(self) -> None:
        zoom = keys.ZOOM_MODES[(keys.ZOOM_MODES.index(self.display.zoom) + 1) % len(keys.ZOOM_MODES)]
        self._set_display(zoom=zoom)

    def toggle_freeze(self) -> None:
        self._set_display(frozen=not self.display.frozen)
        self.message.emit("frame frozen (f)" if self.display.frozen else "frame live")

    def toggle_predictions(self) -> None:
        self._set_display(predictions=not self.display.predictions)

    def toggle_unit_panel(self) -> None:
        self._set_display(unit_panel=not self.display.unit_panel)

    def reset(self) -> None:
        """Esc: the configured view of the default layer, every pane shown, the frame live."""
        self._set_display(**vars(Display()))
        self._set_view(initial_view(self.config, self.default_layer))
        self.message.emit("view reset")

    # -- keys ------------------------------------------------------------------------------------

    def press(self, key: str) -> bool:
        """Run the action bound to a key name; False when the key is not bound."""
        action = keys.KEYMAP.get(key)
        if action is None:
            return False
        self.run(action)
        return True

    def run(self, action: str) -> None:
        if action in keys.WINDOW_REQUESTS:
            self.requested.emit(action)
        else:
            getattr(self, action)()

    # -- internals -------------------------------------------------------------------------------

    def _set_view(self, view: ViewState) -> None:
        if view != self.view:
            self.view = view
            self.view_changed.emit(view)

    def _set_display(self, **changes) -> None:
        display = replace(self.display, **changes)
        if display != self.display:
            self.display = display
            self.display_changed.emit(display)
