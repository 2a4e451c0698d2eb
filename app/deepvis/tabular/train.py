"""Training an MLP on a table: a Qt-free trainer that yields one progress snapshot per epoch,
stops when asked, and stops by itself when the loss turns NaN, keeping the last good weights."""

from __future__ import annotations

import math
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from deepvis import DeepvisError
from deepvis.tabular.data import Table, fit_encoding, split_rows, standardization
from deepvis.tabular.model import TabularMLP, save_model


@dataclass(frozen=True)
class TrainSpec:
    hidden: tuple[int, ...] = (16, 8)
    epochs: int = 100
    lr: float = 0.005
    batch_size: int = 32
    weight_decay: float = 0.01  # small tables overfit: diabetes' test R^2 falls from ~0.47 to ~0.3 without it
    seed: int = 0
    test_fraction: float = 0.2
    activation: str = "softplus"


class Adam:
    """Adam (Kingma & Ba 2015) with L2 weight decay added to the gradient, as torch.optim.Adam's
    weight_decay does. Written out because torch.optim's first step imports torch._dynamo, which
    takes seconds, longer than training a small table."""

    def __init__(self, params: list[torch.Tensor], lr: float, weight_decay: float = 0.0,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
        self.params, self.lr, self.weight_decay, self.betas, self.eps = params, lr, weight_decay, betas, eps
        self.means = [torch.zeros_like(p) for p in params]
        self.squares = [torch.zeros_like(p) for p in params]
        self.steps = 0

    @torch.no_grad()
    def step(self) -> None:
        self.steps += 1
        b1, b2 = self.betas
        step_size = self.lr / (1 - b1 ** self.steps)
        root_correction = math.sqrt(1 - b2 ** self.steps)
        for p, m, v in zip(self.params, self.means, self.squares):
            if p.grad is None:
                continue
            g = p.grad.add(p, alpha=self.weight_decay) if self.weight_decay else p.grad
            m.mul_(b1).add_(g, alpha=1 - b1)
            v.mul_(b2).addcmul_(g, g, value=1 - b2)
            p.addcdiv_(m, v.sqrt().div_(root_correction).add_(self.eps), value=-step_size)


@dataclass(frozen=True)
class Progress:
    """One epoch's figures; the score is accuracy (classification) or R^2 (regression)."""

    epoch: int
    epochs: int
    train_loss: float
    test_loss: float
    train_score: float
    test_score: float
    score_name: str


class Trainer:
    """Owns the split, the encoding, the network and its optimizer for one table."""

    def __init__(self, table: Table, spec: TrainSpec = TrainSpec()):
        if spec.epochs < 1:
            raise DeepvisError(f"--epochs {spec.epochs}: train for at least one epoch")
        if spec.batch_size < 1:
            raise DeepvisError(f"--batch-size {spec.batch_size}: use at least one row per batch")
        self.table, self.spec = table, spec
        self.train_rows, self.test_rows = split_rows(table, spec.test_fraction, spec.seed)
        self.encoding = fit_encoding(table, self.train_rows)
        self.x = torch.from_numpy(self.encoding.encode(table))
        self.regression = table.task == "regression"
        if self.regression:
            self.y_mean, self.y_std = standardization(table.y[self.train_rows], f"{table.name}: the target "
                                                      f"{table.target!r}")
            self.y_std = self.y_std or 1.0
            with np.errstate(over="ignore"):
                y = ((table.y - self.y_mean) / self.y_std).astype(np.float32)
            if not np.isfinite(y).all():
                raise DeepvisError(f"{table.name}: the target {table.target!r} overflows once standardized "
                                   "(a value far outside the training rows' spread); rescale it")
            self.y = torch.from_numpy(y)[:, None]
        else:
            self.y_mean, self.y_std = 0.0, 1.0
            self.y = torch.from_numpy(table.y)
        outputs = 1 if self.regression else len(table.classes)
        sizes = [self.x.shape[1], *spec.hidden, outputs]
        with torch.random.fork_rng():  # the seed decides the initial weights without touching global state
            torch.manual_seed(spec.seed)
            self.model = TabularMLP(sizes, spec.activation)
        self.optimizer = Adam(list(self.model.parameters()), spec.lr, spec.weight_decay)
        self.generator = torch.Generator().manual_seed(spec.seed)
        self.epoch = 0
        self.diverged: str | None = None
        self.last: Progress | None = None
        self._stop = threading.Event()

    # -- running -----------------------------------------------------------------------

    def stop(self) -> None:
        """Ask run() to return after the current batch (thread-safe)."""
        self._stop.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(output, target) if self.regression else F.cross_entropy(output, target)

    def run(self) -> Iterator[Progress]:
        """Train for the remaining epochs, yielding after each one."""
        train = torch.from_numpy(self.train_rows)
        good = self._weights()
        while self.epoch < self.spec.epochs and not self._stop.is_set():
            self.model.train()
            order = train[torch.randperm(len(train), generator=self.generator)]
            for batch in order.split(self.spec.batch_size):
                loss = self.loss(self.model(self.x[batch]), self.y[batch])
                if not torch.isfinite(loss):
                    # keep the weights of the last finished epoch, which produced finite losses
                    self.model.load_state_dict(good)
                    self.diverged = (f"training diverged: the loss became {loss.item()} in epoch {self.epoch + 1}; "
                                     f"kept the weights of epoch {self.epoch} (try a smaller --lr)")
                    self.model.eval()
                    return
                self.model.zero_grad(set_to_none=True)
                loss.backward()
                self.optimizer.step()
                if self._stop.is_set():
                    break
            self.epoch += 1
            good = self._weights()
            self.last = self.evaluate()
            yield self.last
        self.model.eval()

    def _weights(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().clone() for k, v in self.model.state_dict().items()}

    def train(self) -> Progress | None:
        """Run to the end without looking at the snapshots."""
        for _ in self.run():
            pass
        return self.last

    # -- measuring ---------------------------------------------------------------------

    @torch.no_grad()
    def evaluate(self) -> Progress:
        self.model.eval()
        figures = []
        for rows in (self.train_rows, self.test_rows):
            index = torch.from_numpy(rows)
            output = self.model(self.x[index])
            loss = float(self.loss(output, self.y[index]))
            if self.regression:
                residual = ((output - self.y[index]) ** 2).sum()
                total = ((self.y[index] - self.y[index].mean()) ** 2).sum()
                score = float(1.0 - residual / total) if total > 0 else float("nan")
            else:
                score = float((output.argmax(1) == self.y[index]).float().mean())
            figures += [loss, score]
        return Progress(self.epoch, self.spec.epochs, figures[0], figures[2], figures[1], figures[3],
                        "r2" if self.regression else "accuracy")

    @torch.no_grad()
    def predict(self, x: torch.Tensor | None = None) -> np.ndarray:
        """Predictions in the target's own terms: class indices, or values in its units."""
        output = self.model.eval()(self.x if x is None else x)
        if self.regression:
            return (output[:, 0] * self.y_std + self.y_mean).numpy().astype(np.float64)
        return output.argmax(1).numpy()

    def metrics(self) -> dict:
        """What metrics.json holds."""
        p = self.evaluate()
        out = {"table": self.table.name, "task": self.table.task, "target": self.table.target,
               "rows": {"train": len(self.train_rows), "test": len(self.test_rows)},
               "epochs_done": self.epoch, "spec": {**asdict(self.spec), "hidden": list(self.spec.hidden)},
               "train_loss": p.train_loss, "test_loss": p.test_loss,
               f"train_{p.score_name}": p.train_score, f"test_{p.score_name}": p.test_score,
               "stopped": self.diverged or ("stopped early" if self.stopped else None)}
        if self.regression:
            predicted = self.predict()
            for split, rows in (("train", self.train_rows), ("test", self.test_rows)):
                error = predicted[rows] - self.table.y[rows]
                out[f"{split}_rmse"] = float(math.sqrt(float(np.mean(error ** 2))))
        return out

    def model_meta(self) -> dict:
        """The table's description for model.json: what explain needs to read rows again."""
        return {"table": self.table.name, "source": self.table.source, "task": self.table.task,
                "target": self.table.target, "classes": self.table.classes,
                "target_scaling": {"mean": self.y_mean, "std": self.y_std},
                "variables": self.encoding.to_json(), "columns": self.encoding.columns,
                "groups": self.encoding.groups, "seed": self.spec.seed,
                "split": {"test_fraction": self.spec.test_fraction, "test_rows": self.test_rows.tolist()}}

    def save(self, folder: str | Path) -> None:
        """model.pth, model.json and metrics.json."""
        save_model(Path(folder), self.model, self.model_meta(), {"metrics.json": self.metrics()})


def layer_weights(model: nn.Module) -> list[np.ndarray]:
    """Each Linear layer's weight matrix (out x in), as numpy, for drawing the network."""
    return [linear.weight.detach().cpu().numpy().copy() for linear in model.linears]
