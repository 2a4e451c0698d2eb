"""The training loop: optimizer steps on the device, a snapshot every N steps.

Deterministic for a seed (data order and init). The networks are tiny, so they train in
float64: a run then does not hinge on one build's float32 rounding. Full-batch steps never
raise the training objective: a step that did is undone, SGD's momentum dropped and the
learning rate halved; the rate grows back 1% per accepted step up to the one set. So a run
that reached 100% stays there (without this, SGD at 3.0 on the quadrants spiked from loss
0.008 to 0.081 at step 4750 on one torch build and ended at 97.5%).
A loss that becomes NaN or infinite stops training with one message, and the weights go back
to the last finite snapshot.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator

import torch

from deepvis import DeepvisError
from deepvis.learn.data import Dataset
from deepvis.learn.network import Network, NetworkSpec

OPTIMIZERS = ("adam", "sgd")
GROWTH = 1.01  # the guarded learning rate's growth per accepted step, back up to the set rate


def training_dtype(device: torch.device) -> torch.dtype:
    """float64, where the device has it (Apple's MPS does not)."""
    return torch.float32 if device.type == "mps" else torch.float64


@dataclass(frozen=True)
class TrainSettings:
    """Defaults: full-batch SGD at 3.0 with momentum 0.9, which trains the article's 2-3-3-1
    sigmoid network (He init) on the quadrants to 100% for 29 of seeds 0-29 (without momentum a
    run more often stalls in a minimum where all three first-layer neurons face one way).
    Adam at 0.03 is the better start for ReLU or wider networks."""

    optimizer: str = "sgd"
    learning_rate: float = 3.0
    batch_size: int = 0  # 0: the whole training set in every step
    l1: float = 0.0
    l2: float = 0.0
    seed: int = 0
    snapshot_every: int = 10
    momentum: float = 0.9  # SGD's (heavy ball); Adam has its own
    layer_l1: tuple[float, ...] = ()  # one per weight layer (hidden layers, then the output); () = l1 for all
    layer_l2: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise DeepvisError(f"unknown optimizer {self.optimizer!r} (choose {', '.join(OPTIMIZERS)})")
        if not self.learning_rate > 0:
            raise DeepvisError(f"the learning rate must be positive, not {self.learning_rate}")
        if self.batch_size < 0 or min(self.l1, self.l2, *self.layer_l1, *self.layer_l2) < 0:
            raise DeepvisError("batch size, L1 and L2 must not be negative")
        if not 0 <= self.momentum < 1:
            raise DeepvisError(f"the momentum must be in [0, 1), not {self.momentum}")
        if self.snapshot_every < 1:
            raise DeepvisError(f"snapshots are taken every N >= 1 steps, not {self.snapshot_every}")

    def penalties(self, layers: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """Each weight layer's L1 and L2: its own where given, else the one for all."""
        for name, values in (("L1", self.layer_l1), ("L2", self.layer_l2)):
            if values and len(values) != layers:
                raise DeepvisError(f"give one {name} per weight layer ({layers}), not {len(values)}")
        return (tuple(self.layer_l1) or (self.l1,) * layers, tuple(self.layer_l2) or (self.l2,) * layers)


@dataclass(frozen=True)
class Snapshot:
    """One moment of a run: its measures and a copy of the weights (a flat tensor on the device).
    A regression's losses are mean squared errors and its accuracies NaN."""

    step: int
    train_loss: float
    test_loss: float
    train_accuracy: float
    test_accuracy: float
    weights: torch.Tensor
    task: str = "classification"

    def metrics(self) -> dict[str, float | int]:
        values = {"step": self.step, "train_loss": self.train_loss, "test_loss": self.test_loss}
        if self.task == "classification":
            values.update(train_accuracy=self.train_accuracy, test_accuracy=self.test_accuracy)
        return values

    @property
    def finite(self) -> bool:
        return math.isfinite(self.train_loss) and math.isfinite(self.test_loss)


class Trainer:
    """Trains one network on one data set; `advance(n)` or `run(steps)` move it forward. The
    network's output follows the data's task (`spec.for_task`): `self.spec` is the one trained."""

    def __init__(self, dataset: Dataset, spec: NetworkSpec, settings: TrainSettings = TrainSettings(),
                 device: torch.device | str = "cpu"):
        self.dataset = dataset
        spec = spec.for_task(dataset.task)
        self.spec = spec
        self.settings = settings
        self.device = torch.device(device)
        dtype = training_dtype(self.device)
        self.network = Network(spec, self.device, dtype)
        self.network.initialize(settings.seed)

        def tensor(a):
            return torch.as_tensor(a, dtype=dtype, device=self.device)

        # The network's inputs: the points' features, computed once.
        self.x_train = self.network.encode(tensor(dataset.x_train))
        self.x_test = self.network.encode(tensor(dataset.x_test))
        self.y_train, self.y_test = tensor(dataset.y_train)[:, None], tensor(dataset.y_test)[:, None]
        self.step_count = 0
        self.failure: str | None = None  # set when a loss became NaN/inf
        self.last_finite: Snapshot | None = None
        self._stop_requested = False
        # SGD's velocity and Adam's moments over the flat parameter vector.
        self._velocity = torch.zeros_like(self.network.flat)
        self._m = torch.zeros_like(self.network.flat)
        self._v = torch.zeros_like(self.network.flat)
        self._adam_steps = 0
        # The full-batch guard: the last accepted weights, their objective and the current rate.
        self._previous = self.network.state()
        self._previous_objective = torch.full((), math.inf, dtype=dtype, device=self.device)
        self._rate = torch.full((), settings.learning_rate, dtype=dtype, device=self.device)
        # Minibatch order: a fresh permutation each epoch, from its own seeded generator.
        self._order_gen = torch.Generator().manual_seed(settings.seed + 1)
        self._order: torch.Tensor | None = None
        self._set_batch(settings.batch_size)
        self._penalty = self._penalty_vectors()

    def _set_batch(self, batch_size: int) -> None:
        n = len(self.dataset.y_train)
        self._batch = batch_size if 0 < batch_size < n else 0
        self._cursor = n  # a new permutation at the next step

    def update_settings(self, settings: TrainSettings) -> None:
        """Change the optimizer, learning rate, batch size or penalties mid-run (seed and init stay)."""
        if settings.optimizer != self.settings.optimizer:
            self._reset_moments()
        if settings.batch_size != self.settings.batch_size:
            self._set_batch(settings.batch_size)
        self.settings = settings
        self._penalty = self._penalty_vectors()
        self._reset_guard()
        self.failure = None  # after a NaN the weights are the last finite ones: new settings may go on

    def _penalty_vectors(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Per-layer penalties as one L1 and one L2 value per parameter (0 on the biases); None
        when one L1 and one L2 hold for every layer (the network's own, cheaper path)."""
        s, net = self.settings, self.network
        if not (s.layer_l1 or s.layer_l2):
            return None
        l1s, l2s = s.penalties(net.n_layers)
        l1, l2 = torch.zeros_like(net.flat), torch.zeros_like(net.flat)
        offset = 0
        for i, (weight, bias) in enumerate(zip(net.weights, net.biases)):
            end = offset + weight.numel()
            l1[offset:end], l2[offset:end] = l1s[i], l2s[i]
            offset = end + bias.numel()
        return l1, l2

    def _reset_moments(self) -> None:
        self._velocity.zero_()
        self._m.zero_()
        self._v.zero_()
        self._adam_steps = 0

    def _reset_guard(self) -> None:
        """Forget the last accepted objective (the weights or the objective changed) and go back
        to the set learning rate."""
        self._previous_objective.fill_(math.inf)
        self._rate.fill_(self.settings.learning_rate)

    @torch.no_grad()
    def set_weight(self, index: int, value: float) -> Snapshot:
        """Set one parameter of the flat vector (a weight edited by hand) and measure: the next
        step trains on from it. The full-batch guard takes the edited weights as its new baseline;
        otherwise the next step would undo the edit as a step that raised the objective."""
        if not 0 <= index < self.network.n_parameters:
            raise IndexError(f"no parameter {index} in a network of {self.network.n_parameters}")
        self.network.flat[index] = value
        self._previous.copy_(self.network.flat)
        self._reset_guard()
        snapshot = self.measure()
        if snapshot.finite:
            self.last_finite = snapshot
        return snapshot

    def restore(self, snapshot: Snapshot) -> None:
        """Go back to a snapshot's weights and step, to train on from there (Adam starts afresh)."""
        self.network.load(snapshot.weights)
        self.step_count = snapshot.step
        self.failure = None
        self.last_finite = snapshot
        self._reset_moments()
        self._reset_guard()

    # -- steps --------------------------------------------------------------------------------

    def _next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        if not self._batch:
            return self.x_train, self.y_train
        n = self.x_train.shape[0]
        if self._cursor + self._batch > n:
            self._order = torch.randperm(n, generator=self._order_gen).to(self.device)
            self._cursor = 0
        index = self._order[self._cursor:self._cursor + self._batch]
        self._cursor += self._batch
        return self.x_train.index_select(0, index), self.y_train.index_select(0, index)

    @torch.no_grad()
    def train(self, steps: int) -> None:
        """`steps` optimizer steps, no host sync (NaN is caught by the next measure)."""
        s, net = self.settings, self.network
        guarded = not self._batch
        for _ in range(steps):
            x, y = self._next_batch()
            objective = self._backward(x, y)
            self.step_count += 1
            rate = self._rate * self._guard(objective) if guarded else s.learning_rate
            if s.optimizer == "sgd":
                self._velocity.mul_(s.momentum).sub_(net.grad * rate)
                net.flat.add_(self._velocity)
                continue
            self._adam_steps += 1
            beta1, beta2, t = 0.9, 0.999, self._adam_steps
            self._m.mul_(beta1).add_(net.grad, alpha=1 - beta1)
            self._v.mul_(beta2).addcmul_(net.grad, net.grad, value=1 - beta2)
            denominator = self._v.sqrt().div_(math.sqrt(1 - beta2 ** t)).add_(1e-8)
            net.flat.sub_(self._m / denominator * (rate / (1 - beta1 ** t)))

    def _backward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The gradient of the objective into net.grad; the objective (0-dim, on the device)."""
        s, net = self.settings, self.network
        if self._penalty is None:
            return net.backward(x, y, s.l1, s.l2)
        l1, l2 = self._penalty
        objective = net.backward(x, y) + (l1 * net.flat.abs()).sum() + (l2 * net.flat.square()).sum()
        net.grad.addcmul_(net.flat, l2, value=2.0).addcmul_(torch.sign(net.flat), l1)
        return objective

    def objective(self) -> torch.Tensor:
        """The training objective at the current weights: the loss plus every layer's penalties."""
        s, net = self.settings, self.network
        if self._penalty is None:
            return net.objective(self.x_train, self.y_train, s.l1, s.l2)
        l1, l2 = self._penalty
        return net.loss(self.x_train, self.y_train) + (l1 * net.flat.abs()).sum() + (l2 * net.flat.square()).sum()

    def _guard(self, objective: torch.Tensor) -> torch.Tensor:
        """1.0 when the last full-batch step lowered the objective (measured now, at its result),
        else 0.0: that step is undone, and this one, whose gradient is the rejected point's,
        moves nothing; the next one retries from there at half the rate. A tensor on the device,
        so that no step waits for the host."""
        accepted = objective <= self._previous_objective
        self._undo_where(~accepted)
        self._previous.copy_(self.network.flat)
        self._previous_objective.copy_(torch.where(accepted, objective, self._previous_objective))
        grown = (self._rate * GROWTH).clamp_max_(self.settings.learning_rate)
        self._rate.copy_(torch.where(accepted, grown, self._rate))
        return accepted.to(objective.dtype)

    def _undo_where(self, rejected: torch.Tensor) -> None:
        """Where `rejected` (a 0-dim bool tensor): the last accepted weights back, the rate halved
        and SGD's momentum dropped."""
        net = self.network
        net.flat.copy_(torch.where(rejected, self._previous, net.flat))
        self._rate.copy_(torch.where(rejected, self._rate * 0.5, self._rate))
        self._velocity.mul_(~rejected)

    @torch.no_grad()
    def measure(self) -> Snapshot:
        """The current losses and accuracies (one host sync) and a copy of the weights."""
        net = self.network
        z_train, z_test = net.logits(self.x_train), net.logits(self.x_test)
        if self.dataset.regression:
            values = torch.stack([torch.nn.functional.mse_loss(z_train, self.y_train),
                                  torch.nn.functional.mse_loss(z_test, self.y_test)]).tolist() + [math.nan] * 2
            if not torch.isfinite(net.flat).all():
                values[0] = values[1] = math.nan
            return Snapshot(self.step_count, *values, weights=net.state(), task="regression")
        values = torch.stack([
            torch.nn.functional.binary_cross_entropy_with_logits(z_train, self.y_train),
            torch.nn.functional.binary_cross_entropy_with_logits(z_test, self.y_test),
            ((z_train > 0) == (self.y_train > 0.5)).float().mean(),
            ((z_test > 0) == (self.y_test > 0.5)).float().mean(),
        ]).tolist()
        if not torch.isfinite(net.flat).all():
            values[0] = values[1] = math.nan
        return Snapshot(self.step_count, *values, weights=net.state())

    @torch.no_grad()
    def _settle(self) -> None:
        """Undo the last full-batch step if it raised the objective, as the next step would: a
        measure never shows a point that training is about to leave."""
        self._undo_where(self.objective() > self._previous_objective)

    def advance(self, steps: int) -> Snapshot | None:
        """Train `steps` steps and measure; None (and `failure` set) when the loss stopped being finite."""
        if self.failure:
            return None
        if steps:
            self.train(steps)
            if not self._batch:
                self._settle()
        snapshot = self.measure()
        if snapshot.finite:
            self.last_finite = snapshot
            return snapshot
        bad = "NaN" if math.isnan(snapshot.train_loss) else "infinite"
        kept = self.last_finite
        if kept is not None:
            self.network.load(kept.weights)
            self.step_count = kept.step
        self._reset_moments()  # they hold the overflow too
        self.failure = (f"training stopped at step {snapshot.step}: the loss became {bad}; "
                        f"the weights of step {kept.step if kept else 0} are kept (try a lower learning rate)")
        return None

    # -- the loop -----------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask run() to end after the current block of steps."""
        self._stop_requested = True

    def run(self, steps: int, every: int | None = None) -> Iterator[Snapshot]:
        """Yield a snapshot now and every `every` steps until `steps` more are done, stop() is
        called, or the loss stops being finite."""
        every = every or self.settings.snapshot_every
        self._stop_requested = False
        end = self.step_count + steps
        snapshot = self.advance(0)
        while snapshot is not None:
            yield snapshot
            if self._stop_requested or self.step_count >= end:
                return
            snapshot = self.advance(min(every, end - self.step_count))
