"""The MLP: the chosen input features, hidden layers of any widths (or none), one output: a
sigmoid for two classes (binary cross-entropy), linear for regression (squared error).

All parameters live in one flat tensor (each layer's weight and bias are views into
it), and the backward pass is written out by hand. A network this small is all
per-operation overhead: autograd and a per-parameter optimizer cost more than the
arithmetic, while one flat vector lets an optimizer step be a handful of operations.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F

from deepvis import DeepvisError
from deepvis.learn.features import DEFAULT as DEFAULT_FEATURES, check_features, encode

ACTIVATIONS = ("sigmoid", "tanh", "relu", "linear")
INITS = ("xavier", "he", "normal")
OUTPUTS = ("sigmoid", "linear")  # two classes; regression
MAX_WIDTH = 64


@dataclass(frozen=True)
class NetworkSpec:
    """Hidden widths (none, or `(0,)`, for a single output neuron), one activation per hidden
    layer (or one for all), the init scheme, the input features and the output's kind."""

    hidden: tuple[int, ...] = (3, 3)
    activations: tuple[str, ...] = ("sigmoid",)
    init: str = "he"
    features: tuple[str, ...] = DEFAULT_FEATURES
    output: str = "sigmoid"

    def __post_init__(self) -> None:
        if tuple(self.hidden) == (0,):  # "0": no hidden layer
            object.__setattr__(self, "hidden", ())
        object.__setattr__(self, "features", check_features(tuple(self.features)))
        if self.output not in OUTPUTS:
            raise DeepvisError(f"unknown output {self.output!r} (choose {', '.join(OUTPUTS)})")
        if any(not 1 <= width <= MAX_WIDTH for width in self.hidden):
            raise DeepvisError(f"hidden widths must be 1 to {MAX_WIDTH}, not {' '.join(map(str, self.hidden))}")
        if len(self.hidden) > 8:
            raise DeepvisError(f"at most 8 hidden layers, not {len(self.hidden)}")
        for name in self.activations:
            if name not in ACTIVATIONS:
                raise DeepvisError(f"unknown activation {name!r} (choose {', '.join(ACTIVATIONS)})")
        if len(self.activations) not in (1, len(self.hidden)) and self.hidden:
            raise DeepvisError(f"give one activation, or one per hidden layer ({len(self.hidden)}), "
                               f"not {len(self.activations)}")
        if self.init not in INITS:
            raise DeepvisError(f"unknown init {self.init!r} (choose {', '.join(INITS)})")

    @property
    def sizes(self) -> tuple[int, ...]:
        return (len(self.features), *self.hidden, 1)

    def for_task(self, task: str) -> "NetworkSpec":
        """This network with the output a task needs: sigmoid to classify, linear to regress."""
        output = "linear" if task == "regression" else "sigmoid"
        return self if output == self.output else replace(self, output=output)

    @property
    def layer_activations(self) -> tuple[str, ...]:
        """The activation of every hidden layer."""
        acts = self.activations or ("sigmoid",)
        return tuple(acts * len(self.hidden)) if len(acts) == 1 else tuple(acts)

    def describe(self) -> str:
        acts = self.layer_activations
        act = "/".join(acts) if len(set(acts)) > 1 else acts[0] if acts else ""
        text = "-".join(map(str, self.sizes)) + (f" {act}" if act else "")
        if self.features != DEFAULT_FEATURES:
            text += f" on {','.join(self.features)}"
        return text + (" (linear output)" if self.output == "linear" else "")


def activate(name: str, z: torch.Tensor) -> torch.Tensor:
    if name == "sigmoid":
        return torch.sigmoid(z)
    if name == "tanh":
        return torch.tanh(z)
    if name == "relu":
        return torch.relu(z)
    return z


def backprop_activation(name: str, grad: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """grad * f'(z), written with the output h = f(z) (grad is a fresh tensor and is overwritten)."""
    if name == "sigmoid":
        return grad.mul_(h).mul_(1 - h)
    if name == "tanh":
        return grad.mul_(1 - h * h)
    if name == "relu":
        return grad.mul_(h > 0)
    return grad


class Network:
    """The MLP's parameters (one flat tensor), its forward passes and its gradient. Forward
    passes take the network's inputs: `encode(points)` turns (N, 2) points into them."""

    def __init__(self, spec: NetworkSpec, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32):
        self.spec = spec
        self.device = torch.device(device)
        self.dtype = dtype
        self.acts = spec.layer_activations
        self.output = spec.output
        sizes = spec.sizes
        self.n_layers = len(sizes) - 1
        count = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
        self.flat = torch.zeros(count, device=self.device, dtype=dtype)
        self.grad = torch.zeros(count, device=self.device, dtype=dtype)
        self.weight_mask = torch.zeros(count, device=self.device, dtype=dtype)  # 1 on weights, 0 on biases
        self.weights: list[torch.Tensor] = []
        self.biases: list[torch.Tensor] = []
        self.weight_grads: list[torch.Tensor] = []
        self.bias_grads: list[torch.Tensor] = []
        offset = 0
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            end = offset + fan_in * fan_out
            self.weights.append(self.flat[offset:end].view(fan_out, fan_in))
            self.weight_grads.append(self.grad[offset:end].view(fan_out, fan_in))
            self.weight_mask[offset:end] = 1
            self.biases.append(self.flat[end:end + fan_out])
            self.bias_grads.append(self.grad[end:end + fan_out])
            offset = end + fan_out

    @property
    def n_parameters(self) -> int:
        return self.flat.numel()

    # -- parameters -----------------------------------------------------------------------

    def initialize(self, seed: int) -> None:
        """Weights by the spec's scheme, deterministic for a seed; biases 0 (N(0, 1) with `normal`)."""
        gen = torch.Generator().manual_seed(seed)
        for weight, bias in zip(self.weights, self.biases):
            fan_out, fan_in = weight.shape
            if self.spec.init == "xavier":
                bound = (6.0 / (fan_in + fan_out)) ** 0.5
                values = (torch.rand(weight.shape, generator=gen) * 2 - 1) * bound
                bias_values = torch.zeros(fan_out)
            elif self.spec.init == "he":
                values = torch.randn(weight.shape, generator=gen) * (2.0 / fan_in) ** 0.5
                bias_values = torch.zeros(fan_out)
            else:  # Nielsen's randn for weights and biases
                values = torch.randn(weight.shape, generator=gen)
                bias_values = torch.randn(fan_out, generator=gen)
            weight.copy_(values)
            bias.copy_(bias_values)

    def state(self) -> torch.Tensor:
        return self.flat.clone()

    def load(self, flat: torch.Tensor) -> None:
        self.flat.copy_(flat)

    # -- forward ------------------------------------------------------------------------------

    def encode(self, points: torch.Tensor) -> torch.Tensor:
        """(N, 2) points to the (N, features) inputs (the default x1, x2: the points themselves)."""
        return encode(points, self.spec.features)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """The output before its sigmoid (a linear output's value), (N, 1)."""
        h = x
        for i in range(self.n_layers):
            z = torch.addmm(self.biases[i], h, self.weights[i].t())
            h = activate(self.acts[i], z) if i < self.n_layers - 1 else z
        return h

    def stage_names(self) -> list[str]:
        names = ["input"]
        for i in range(self.n_layers):
            last = i == self.n_layers - 1
            tag = "out" if last else str(i + 1)
            names += [f"{tag} Wx+b", f"{tag} {self.output if last else self.acts[i]}"]
        return names

    def stages(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The data at every stage: input, then after each linear map and each nonlinearity."""
        out = [x]
        h = x
        for i in range(self.n_layers):
            z = torch.addmm(self.biases[i], h, self.weights[i].t())
            h = activate(self.output if i == self.n_layers - 1 else self.acts[i], z)
            out += [z, h]
        return out

    def neuron_outputs(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Each layer's activations (hidden layers, then the output), (N, width) each."""
        return self.stages(x)[2::2]

    # -- training -----------------------------------------------------------------------------

    def loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Mean binary cross-entropy of the output (y is (N, 1) in {0, 1}), or for a linear
        output the mean squared error."""
        return self.data_loss(self.logits(x), y)

    def data_loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.output == "linear":
            return F.mse_loss(logits, y)
        return F.binary_cross_entropy_with_logits(logits, y)

    def objective(self, x: torch.Tensor, y: torch.Tensor, l1: float = 0.0, l2: float = 0.0) -> torch.Tensor:
        """What training lowers: the mean BCE (or squared error) plus the weight penalties
        (0-dim, on the device)."""
        return self._penalized(self.loss(x, y), l1, l2)

    def _penalized(self, loss: torch.Tensor, l1: float, l2: float) -> torch.Tensor:
        if l1 or l2:
            weights = self.flat * self.weight_mask
            loss = loss + l2 * weights.square().sum() + l1 * weights.abs().sum()
        return loss

    def backward(self, x: torch.Tensor, y: torch.Tensor, l1: float = 0.0, l2: float = 0.0) -> torch.Tensor:
        """Fill self.grad with d(mean loss + l1 * sum|w| + l2 * sum w^2)/d(parameters); return that
        objective at the current parameters (a 0-dim tensor on the device: no host sync)."""
        hs = [x]
        h = x
        for i in range(self.n_layers):
            z = torch.addmm(self.biases[i], h, self.weights[i].t())
            h = activate(self.acts[i], z) if i < self.n_layers - 1 else z
            hs.append(h)
        if self.output == "linear":
            objective = F.mse_loss(h, y)
            grad_z = (h - y).mul_(2.0 / x.shape[0])  # d(mean squared error)/d(output)
        else:
            objective = F.binary_cross_entropy_with_logits(h, y)
            grad_z = torch.sigmoid(h).sub_(y).div_(x.shape[0])  # d(mean BCE)/d(logit)
        for i in range(self.n_layers - 1, -1, -1):
            torch.mm(grad_z.t(), hs[i], out=self.weight_grads[i])
            torch.sum(grad_z, 0, out=self.bias_grads[i])
            if i > 0:
                grad_z = backprop_activation(self.acts[i - 1], grad_z.mm(self.weights[i]), hs[i])
        if l2:
            self.grad.addcmul_(self.flat, self.weight_mask, value=2 * l2)
        if l1:
            self.grad.addcmul_(torch.sign(self.flat), self.weight_mask, value=l1)
        return self._penalized(objective, l1, l2)

    def penalty(self, l1: float, l2: float) -> float:
        weights = self.flat * self.weight_mask
        return float(l1 * weights.abs().sum() + l2 * (weights * weights).sum()) if (l1 or l2) else 0.0
