"""The loss landscape: the training loss over a plane through the current weights.

The plane is spanned by two random directions, filter-normalized as in Li et al. 2018,
"Visualizing the Loss Landscape of Neural Nets": each direction is drawn from N(0, 1) in the
shape of the weights, then every filter of it (a row of a layer's weight matrix: the weights
into one neuron) is scaled to the norm of the same filter of the weights, so that a step of 1
along a direction moves each neuron by its own size, whatever the layer's scale. As in their
code, the biases' directions are 0. Point (a, b) of the plane holds the weights
w + a d1 + b d2; (0, 0) is the current network. The training path is each snapshot's weights
projected onto the plane (least squares in the two directions).

Every grid point's loss is computed in one batched pass: the weights of all points are stacked
into (P, out, in) tensors and the data go through every network at once (chunked only when the
points would not fit a memory budget).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from deepvis.learn.data import Dataset
from deepvis.learn.network import Network, NetworkSpec
from deepvis.learn.trainer import Snapshot, training_dtype

GRID = 61  # odd: the middle point is the current weights themselves
SPAN = 1.0  # the plane's half-width in units of the directions (Li et al. plot [-1, 1])
BUDGET = 1 << 24  # hidden values held at once (numbers): 128 MB in float64


@dataclass(frozen=True)
class LossLandscape:
    """The loss over a G x G grid of the plane, and the training path on it."""

    coordinates: np.ndarray  # (G,) from -span to span, along either direction
    loss: np.ndarray  # (G, G) float64: loss[j, i] at (coordinates[i], coordinates[j]) (row: direction 2)
    centre_loss: float  # at (0, 0): the weights the plane goes through
    path: np.ndarray  # (T, 2) each snapshot's weights projected onto the plane
    path_loss: np.ndarray  # (T,) the loss at those points of the plane (the path drawn on the surface)
    path_steps: np.ndarray  # (T,) the snapshots' steps
    step: int  # the step of the weights at the centre
    span: float
    task: str  # the loss is the mean BCE (classification) or the mean squared error (regression)

    @property
    def grid(self) -> int:
        return len(self.coordinates)


def filter_normalized(direction: torch.Tensor, network: Network) -> torch.Tensor:
    """`direction` (flat, as the network's parameters) with every filter scaled to the norm of
    the network's filter, and the biases' part 0."""
    result = torch.zeros_like(direction)
    offset = 0
    for weight, bias in zip(network.weights, network.biases):
        end = offset + weight.numel()
        rows = direction[offset:end].view_as(weight)
        scale = weight.norm(dim=1, keepdim=True) / rows.norm(dim=1, keepdim=True).clamp_min(1e-12)
        result[offset:end] = (rows * scale).reshape(-1)
        offset = end + bias.numel()
    return result


def batched_losses(network: Network, centre: torch.Tensor, d1: torch.Tensor, d2: torch.Tensor,
                   points: torch.Tensor, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The loss at each (a, b) of `points` (P, 2): the weights centre + a d1 + b d2 for all P
    at once, one forward pass per chunk that fits BUDGET."""
    widest = max(network.spec.sizes)
    chunk = max(1, BUDGET // (inputs.shape[0] * widest))
    return torch.cat([_losses(network, centre, d1, d2, points[i:i + chunk], inputs, targets)
                      for i in range(0, points.shape[0], chunk)])


def _losses(network: Network, centre, d1, d2, points, inputs, targets) -> torch.Tensor:
    a, b = points[:, 0, None], points[:, 1, None]
    flat = centre + a * d1 + b * d2  # (P, parameters): every point's weights
    h = inputs  # (N, in), shared by every network of the batch
    offset = 0
    for i, (weight, bias) in enumerate(zip(network.weights, network.biases)):
        fan_out, fan_in = weight.shape
        end = offset + weight.numel()
        w = flat[:, offset:end].view(-1, fan_out, fan_in)
        bias_rows = flat[:, end:end + fan_out].unsqueeze(1)  # (P, 1, out)
        offset = end + fan_out
        if h.dim() == 2:  # the inputs: one (N, in) for every network
            z = torch.matmul(h, w.transpose(1, 2)).add_(bias_rows)  # (P, N, out)
        else:
            z = torch.baddbmm(bias_rows, h, w.transpose(1, 2))
        h = _activate_(network.acts[i], z) if i < network.n_layers - 1 else z
    logits = h.squeeze(2)  # (P, N)
    y = targets.reshape(1, -1).expand_as(logits)
    if network.output == "linear":
        return (logits - y).square().mean(1)
    return F.binary_cross_entropy_with_logits(logits, y, reduction="none").mean(1)


def _activate_(name: str, z: torch.Tensor) -> torch.Tensor:
    """The activation in place: at P x N x width numbers a fresh tensor per layer costs more
    than the arithmetic (measured: a quarter of the pass)."""
    if name == "sigmoid":
        return z.sigmoid_()
    if name == "tanh":
        return z.tanh_()
    if name == "relu":
        return z.relu_()
    return z


def project(weights: torch.Tensor, centre: torch.Tensor, d1: torch.Tensor, d2: torch.Tensor) -> torch.Tensor:
    """(T, parameters) weights to (T, 2) coordinates on the plane: the (a, b) whose point
    centre + a d1 + b d2 is nearest to each (least squares; the directions need not be orthogonal,
    and in a network of one weight they are parallel: the pseudo-inverse then splits evenly)."""
    basis = torch.stack([d1, d2], 1)  # (parameters, 2)
    return (torch.linalg.pinv(basis) @ (weights - centre).T).T


class LandscapeComputer:
    """The loss landscapes of one run's snapshots: its data, its network, seeded directions.

    `compute(snapshot, path)` gives the landscape around `snapshot`'s weights with `path` (the
    snapshots up to it, e.g. the timeline's) projected onto the plane. The directions are drawn
    again for each centre from the same seed, so one run's landscapes are comparable.
    """

    def __init__(self, dataset: Dataset, spec: NetworkSpec, device: torch.device | str = "cpu",
                 grid: int = GRID, seed: int = 0):
        self.device = torch.device(device)
        self.dtype = training_dtype(self.device)  # as trained: the centre's loss is the trainer's
        self.spec = spec.for_task(dataset.task)
        self.task = dataset.task
        self.grid = grid
        self.seed = seed
        self.network = Network(self.spec, self.device, self.dtype)
        points = torch.as_tensor(dataset.x_train, dtype=self.dtype, device=self.device)
        self.inputs = self.network.encode(points)
        self.targets = torch.as_tensor(dataset.y_train, dtype=self.dtype, device=self.device)

    def directions(self, weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Two filter-normalized random directions for these weights (flat tensors)."""
        self.network.load(weights.to(self.device, self.dtype))
        gen = torch.Generator().manual_seed(self.seed)
        draws = torch.randn(2, self.network.n_parameters, generator=gen, dtype=torch.float64)
        draws = draws.to(self.device, self.dtype)
        return filter_normalized(draws[0], self.network), filter_normalized(draws[1], self.network)

    @torch.no_grad()
    def compute(self, snapshot: Snapshot, path: Sequence[Snapshot] = (), span: float | None = None) -> LossLandscape:
        """The landscape around `snapshot`; span None: SPAN, widened to hold the whole path."""
        centre = snapshot.weights.to(self.device, self.dtype)
        d1, d2 = self.directions(centre)
        if path:
            stacked = torch.stack([s.weights.to(self.device, self.dtype) for s in path])
            on_plane = project(stacked, centre, d1, d2)
        else:
            on_plane = torch.zeros(0, 2, dtype=self.dtype, device=self.device)
        if span is None:
            reach = float(on_plane.abs().max()) if len(on_plane) else 0.0
            span = max(SPAN, 1.05 * reach)
        g = self.grid
        # Integer steps from the middle: the middle point of an odd grid is exactly (0, 0).
        coordinates = (torch.arange(g, dtype=self.dtype, device=self.device) - (g - 1) / 2) * (2 * span / max(g - 1, 1))
        b, a = torch.meshgrid(coordinates, coordinates, indexing="ij")
        points = torch.cat([torch.stack([a.reshape(-1), b.reshape(-1)], 1), on_plane])
        losses = batched_losses(self.network, centre, d1, d2, points, self.inputs, self.targets)
        grid_loss = losses[:g * g].reshape(g, g)
        centre_loss = float(self.network.data_loss(self.network.logits(self.inputs), self.targets[:, None]))
        return LossLandscape(coordinates.cpu().numpy(), grid_loss.cpu().numpy(), centre_loss,
                             on_plane.cpu().numpy(), losses[g * g:].cpu().numpy(),
                             np.array([s.step for s in path], dtype=np.int64), snapshot.step, float(span),
                             self.task)
