"""What the Learn mode and `deepvis learn` show, computed from one snapshot with torch.

- the decision boundary: the output over a grid of [-1, 1]^2, in colour (for regression a
  heat map of the prediction; discretized: the class, or the sign, alone);
- every neuron's landscape: its activation over the same grid, and each input feature's map;
- the data at every stage (input, after each linear map and each nonlinearity), as
  display coordinates in about [-1, 1]^3: the values when a stage is 1 to 3 wide, its
  first three principal components when wider;
- each stage's linear-probe accuracy, and the probe's plane where it separates the
  classes in what is shown (two classes only: a regression's stages have no probe).

Everything is computed on the device; each result crosses to the host once, ready to draw.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from deepvis.learn.data import Dataset
from deepvis.learn.features import LABELS as FEATURE_LABELS
from deepvis.learn.network import Network, NetworkSpec
from deepvis.learn.probe import ITERATIONS, Probe, ProbeFitter
from deepvis.learn.trainer import Snapshot

GRID = 64
# TensorFlow Playground's colours: orange for class 0 / negative, blue for class 1 / positive.
ORANGE = (245, 147, 34)
BLUE = (8, 119, 189)
LIGHT = (232, 234, 237)
PALETTE = np.array([ORANGE, LIGHT, BLUE], dtype=np.float32)


@dataclass(frozen=True)
class Landscape:
    """One neuron's activation over the grid: raw values and colours over [low, high]."""

    layer: int  # 1-based; the output layer is the last; 0: an input feature
    unit: int
    label: str  # "layer:unit"; an input feature's own name (x1², sin(x1) ...)
    values: np.ndarray  # (G, G) float32, row 0 at x2 = +1
    rgb: np.ndarray  # (G, G, 3) uint8
    low: float
    high: float


@dataclass(frozen=True)
class StageView:
    """The training data at one stage, in display coordinates."""

    name: str
    width: int
    points: np.ndarray  # (N, 3) float32, about [-1, 1]^3; unused coordinates are 0 (or a spread for 1-D)
    dims: int  # coordinates that carry data: 1, 2 or 3
    projected: bool  # True: the first three principal components of a wider stage
    axes: tuple[str, str, str]
    offset: float  # display = (value - offset) / scale
    scale: float
    probe_accuracy: float  # over the stage's full width (NaN for regression)
    plane: np.ndarray | None  # (4,): n . p + c = 0 in display coordinates, where it separates what is shown
    explained: float | None = None  # variance kept by the projection


@dataclass(frozen=True)
class LearnViews:
    snapshot: Snapshot
    boundary: np.ndarray  # (G, G) float32, the output: in [0, 1], or a regression's prediction
    boundary_rgb: np.ndarray  # (G, G, 3) uint8 (discretized when the computer was asked to)
    landscapes: list[Landscape]  # hidden layers' neurons, then the output
    stages: list[StageView]
    labels: np.ndarray  # (N,) training labels (regression: targets), the stages' point order
    layer_titles: list[str] = field(default_factory=list)
    feature_maps: list[Landscape] = field(default_factory=list)  # the input layer: one per feature
    task: str = "classification"
    stage_offset: int = 0  # the network's stage that stages[0] is (one stage computed alone: that one)

    @property
    def step(self) -> int:
        return self.snapshot.step


def grid_points(size: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """(size*size, 2) pixel centres over [-1, 1]^2, row by row from x2 = +1 down."""
    axis = -1 + (2 * torch.arange(size, device=device, dtype=torch.float32) + 1) / size
    x2, x1 = torch.meshgrid(axis.flip(0), axis, indexing="ij")
    return torch.stack([x1.reshape(-1), x2.reshape(-1)], 1)


def colorize(values: torch.Tensor, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
    """Orange (low) - light (middle) - blue (high), uint8; low/high broadcast over values."""
    t = ((values - low) / (high - low).clamp_min(1e-12)).clamp(0, 1) * 2
    palette = torch.as_tensor(PALETTE, device=values.device)
    lower = (t < 1).unsqueeze(-1)
    first = palette[0] + (palette[1] - palette[0]) * t.unsqueeze(-1)
    second = palette[1] + (palette[2] - palette[1]) * (t - 1).unsqueeze(-1)
    return torch.where(lower, first, second).round_().to(torch.uint8)


def boundary_colours(values: np.ndarray | torch.Tensor, task: str = "classification",
                     discretize: bool = False) -> np.ndarray:
    """The boundary picture, (G, G, 3) uint8, from the output over the grid: orange to blue over
    [0, 1] (a regression's prediction over [-1, 1]); discretized, each pixel is its class (the
    output above 0.5), or for regression its sign, in full colour."""
    values = torch.as_tensor(values, dtype=torch.float32)
    low, high = (-1.0, 1.0) if task == "regression" else (0.0, 1.0)
    if discretize:
        values = torch.where(values > (low + high) / 2, high, low)
    return colorize(values, torch.tensor(low), torch.tensor(high)).cpu().numpy()


def point_colours(labels: np.ndarray, task: str = "classification") -> np.ndarray:
    """(N, 3) uint8: orange for class 0, blue for 1; a regression's targets along the palette."""
    if task == "regression":
        return colorize(torch.as_tensor(labels, dtype=torch.float32), torch.tensor(-1.0),
                        torch.tensor(1.0)).numpy()
    return np.array([ORANGE, BLUE], dtype=np.uint8)[np.asarray(labels).astype(int)]


def neuron_range(activation: str, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Each neuron's colour range from its activation's natural range; (width,) each."""
    width = values.shape[1]
    device = values.device
    if activation == "sigmoid":
        return torch.zeros(width, device=device), torch.ones(width, device=device)
    if activation == "tanh":
        return -torch.ones(width, device=device), torch.ones(width, device=device)
    # relu and linear: symmetric around 0, so that 0 is the light middle
    reach = values.abs().amax(0).clamp_min(1e-6)
    return -reach, reach


class ViewComputer:
    """Computes LearnViews from snapshots of one run (its own network copy; PCA signs kept
    steady from one call to the next, so the 3-D views do not flip). `discretize`: the boundary
    picture shows classes (or a regression's sign) rather than the output's shades."""

    def __init__(self, dataset: Dataset, spec: NetworkSpec, device: torch.device | str = "cpu",
                 grid: int = GRID, probe_iterations: int | None = None, discretize: bool = False):
        self.device = torch.device(device)
        self.dataset = dataset
        spec = spec.for_task(dataset.task)  # as the trainer does
        self.spec = spec
        self.task = dataset.task
        self.grid = grid
        self.discretize = discretize
        iterations = probe_iterations or ITERATIONS
        self._fitter = lambda: ProbeFitter(iterations, min(4, iterations))
        self.probes = self._fitter()
        self._stage_probes: dict[int, ProbeFitter] = {}
        self.network = Network(spec, self.device)
        self.grid_xy = grid_points(grid, self.device)
        self.grid_inputs = self.network.encode(self.grid_xy)
        self.x_train = self.network.encode(torch.as_tensor(dataset.x_train, device=self.device))
        self.feature_maps = self._feature_maps()
        self.y_train = torch.as_tensor(dataset.y_train, device=self.device)
        n = len(dataset.y_train)
        # A fixed spread for 1-D stages, so their points do not sit on one line.
        self.spread = torch.linspace(-0.35, 0.35, n, device=self.device)[
            torch.randperm(n, generator=torch.Generator().manual_seed(7)).to(self.device)]
        self._components: dict[int, torch.Tensor] = {}
        acts = spec.layer_activations
        self.stage_kinds = ["input"] + [kind for i in range(len(spec.sizes) - 1)
                                        for kind in ("linear", acts[i] if i < len(acts) else spec.output)]
        self.layer_titles = [f"layer {i + 1} · {a}" for i, a in enumerate(acts)] + ["output"]

    @torch.no_grad()
    def compute(self, snapshot: Snapshot, stages: bool = True, only_stage: int | None = None) -> LearnViews:
        """Every view of one snapshot (stages=False: the grid views alone, e.g. for a video;
        only_stage: that stage alone, its projection and probe, as a window showing one needs)."""
        self.network.load(snapshot.weights.to(self.device))
        boundary, landscapes = self._landscapes()
        stages = self._stages(only_stage) if stages else []
        rgb = boundary_colours(boundary.values, self.task, True) if self.discretize else boundary.rgb
        return LearnViews(snapshot, boundary.values, rgb, landscapes, stages, self.dataset.y_train,
                          self.layer_titles, self.feature_maps, self.task,
                          only_stage if stages and only_stage is not None else 0)

    # -- the grid -------------------------------------------------------------------------------

    def _feature_maps(self) -> list[Landscape]:
        """The input layer's neurons: each feature over the grid (all lie in [-1, 1]); they do
        not change while the network learns."""
        g, inputs = self.grid, self.grid_inputs
        low, high = torch.tensor(-1.0, device=self.device), torch.tensor(1.0, device=self.device)
        rgb = colorize(inputs, low, high).reshape(g, g, -1, 3).permute(2, 0, 1, 3).cpu().numpy()
        grids = inputs.reshape(g, g, -1).permute(2, 0, 1).float().cpu().numpy()
        return [Landscape(0, unit, FEATURE_LABELS[name], grids[unit], rgb[unit], -1.0, 1.0)
                for unit, name in enumerate(self.spec.features)]

    def _landscapes(self) -> tuple[Landscape, list[Landscape]]:
        g = self.grid
        layers = self.network.neuron_outputs(self.grid_inputs)  # hidden layers, then the output
        acts = list(self.spec.layer_activations) + [self.spec.output]
        values = torch.cat(layers, 1)  # (G*G, units)
        ranges = [neuron_range(act, layer) for act, layer in zip(acts, layers)]
        if self.task == "regression":  # the output on the targets' scale, as the boundary shows it
            ranges[-1] = (-torch.ones(1, device=self.device), torch.ones(1, device=self.device))
        low = torch.cat([r[0] for r in ranges])
        high = torch.cat([r[1] for r in ranges])
        rgb = colorize(values, low, high).reshape(g, g, -1, 3).permute(2, 0, 1, 3).cpu().numpy()
        grids = values.reshape(g, g, -1).permute(2, 0, 1).cpu().numpy()
        low_list, high_list = low.tolist(), high.tolist()
        result, index = [], 0
        for layer, outputs in enumerate(layers, start=1):
            for unit in range(outputs.shape[1]):
                result.append(Landscape(layer, unit, f"{layer}:{unit}", grids[index], rgb[index],
                                        low_list[index], high_list[index]))
                index += 1
        return result[-1], result

    # -- the stages -----------------------------------------------------------------------------

    def _stages(self, only: int | None = None) -> list[StageView]:
        net = self.network
        names = net.stage_names()
        tensors = net.stages(self.x_train)
        probing = self.task == "classification"
        chosen = range(len(tensors)) if only is None else [min(max(only, 0), len(tensors) - 1)]
        shown, problems, owners = {}, [], []
        for index in chosen:
            kind, values = self.stage_kinds[index], tensors[index]
            coords, offset, scale, projected, explained = self._display(index, kind, values)
            shown[index] = (coords, offset, scale, projected, explained)
            if projected:  # the accuracy over the full width, the plane in what is shown
                problems += [values, coords]
                owners += [(index, "accuracy"), (index, "plane")]
            else:
                problems.append(coords)
                owners.append((index, "both"))
        # Each stage alone keeps a fitter of its own: the warm start needs the same problems.
        fitter = self.probes if only is None else self._stage_probes.setdefault(chosen[0], self._fitter())
        probes = fitter.fit(problems, self.y_train) if probing else []
        accuracy: dict[int, float] = {} if probing else dict.fromkeys(range(len(tensors)), float("nan"))
        planes: dict[int, Probe] = {}
        for (index, role), probe in zip(owners, probes):
            if role in ("accuracy", "both"):
                accuracy[index] = probe.accuracy
            if role in ("plane", "both"):
                planes[index] = probe
        views = []
        for index in chosen:
            name, values = names[index], tensors[index]
            coords, offset, scale, projected, explained = shown[index]
            width = values.shape[1]
            dims = min(width, 3)
            points = torch.zeros(coords.shape[0], 3, device=self.device)
            points[:, :dims] = coords
            if dims == 1:
                points[:, 1] = self.spread
            probe = planes.get(index)
            plane = None
            if probe is not None and probe.separates:
                normal = torch.zeros(3)
                normal[:dims] = probe.weight.cpu()
                plane = np.append(normal.numpy(), probe.bias).astype(np.float32)
            axes = ("PC1", "PC2", "PC3") if projected else self._axes(index, dims)
            views.append(StageView(name, width, points.cpu().numpy(), dims, projected, axes, offset, scale,
                                   accuracy[index], plane, explained))
        return views

    def _axes(self, index: int, dims: int) -> tuple[str, str, str]:
        """x for the input, z after a linear map, h after a nonlinearity; the output's own names."""
        if index >= len(self.stage_kinds) - 2:
            return ("logit" if index == len(self.stage_kinds) - 2 else "output", "", "")
        letter = "x" if index == 0 else "z" if self.stage_kinds[index] == "linear" else "h"
        names = tuple(f"{letter}{i + 1}" for i in range(dims))
        return names + ("",) * (3 - dims)

    def _display(self, index: int, kind: str, values: torch.Tensor):
        """(coords (N, <=3), offset, scale, projected, explained variance) for one stage."""
        if values.shape[1] > 3:
            centred = values - values.mean(0)
            _, singular, vh = torch.linalg.svd(centred, full_matrices=False)
            components = vh[:3].T  # (width, 3)
            previous = self._components.get(index)
            if previous is not None and previous.shape == components.shape:
                signs = torch.sign((previous * components).sum(0))
            else:  # the largest loading positive
                signs = torch.sign(components.gather(0, components.abs().argmax(0, keepdim=True))[0])
            components = components * torch.where(signs == 0, torch.ones_like(signs), signs)
            self._components[index] = components
            coords = centred @ components
            variance = singular ** 2
            explained = float(variance[:3].sum() / variance.sum().clamp_min(1e-12))
            scale = float(coords.abs().max().clamp_min(1e-6))
            return coords / scale, 0.0, scale, True, explained
        if kind == "input" or kind == "tanh":
            return values, 0.0, 1.0, False, None
        if kind == "sigmoid":
            return values * 2 - 1, 0.5, 0.5, False, None
        scale = float(values.abs().max().clamp_min(1e-6))
        return values / scale, 0.0, scale, False, None


def plane_polygon(plane: np.ndarray, half: float = 1.0) -> np.ndarray:
    """The plane n . p + c = 0 cut to the cube [-half, half]^3: (K, 3) vertices in order (K may be 0)."""
    normal, offset = np.asarray(plane[:3], np.float64), float(plane[3])
    if not np.any(normal):
        return np.zeros((0, 3), np.float32)
    corners = np.array([[x, y, z] for x in (-half, half) for y in (-half, half) for z in (-half, half)])
    side = corners @ normal + offset
    points = []
    for i in range(8):
        for j in range(i + 1, 8):
            if np.count_nonzero(corners[i] != corners[j]) != 1:
                continue  # not an edge of the cube
            if side[i] == 0:
                points.append(corners[i])
            if (side[i] < 0) != (side[j] < 0) and side[j] != 0:
                t = side[i] / (side[i] - side[j])
                points.append(corners[i] + t * (corners[j] - corners[i]))
    if len(points) < 3:
        return np.zeros((0, 3), np.float32)
    points = np.unique(np.round(np.array(points), 6), axis=0)
    centre = points.mean(0)
    # Order the vertices by angle around the centre, in the plane.
    u = points[0] - centre
    u /= np.linalg.norm(u) or 1.0
    v = np.cross(normal / np.linalg.norm(normal), u)
    angles = np.arctan2((points - centre) @ v, (points - centre) @ u)
    return points[np.argsort(angles)].astype(np.float32)
