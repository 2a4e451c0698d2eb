"""Mini-batch SGD for MLPs (Nielsen's: plain SGD, the mean gradient of a batch, L2 as weight decay
lr * l2 / n), many independent MLPs at once, and for the small CNN.

The MLP step is written out by hand on batched tensors: for nets this small the cost of a step
is the number of torch calls, so R runs in one stack cost little more than one. A run whose weights
(or outputs) stop being finite goes back to the weights of its last finite epoch and stays there;
when every run has, training stops.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F

from deepvis import DeepvisError
from deepvis.device import one_cpu_thread
from deepvis.digits.data import DigitData
from deepvis.digits.nets import MLPStack, SmallCNN


@dataclass(frozen=True)
class SGDSettings:
    epochs: int = 30
    batch_size: int = 10
    lr: float = 0.5

    def check(self) -> "SGDSettings":
        if not 1 <= self.epochs <= 10000:
            raise DeepvisError(f"--epochs must be between 1 and 10000, not {self.epochs}")
        if not 1 <= self.batch_size <= 4000:
            raise DeepvisError(f"--batch-size must be between 1 and 4000, not {self.batch_size}")
        if not 0 < self.lr <= 100:
            raise DeepvisError(f"--lr must be in (0, 100], not {self.lr}")
        return self


@dataclass
class Progress:
    """Where training stands; `accuracy` is filled at the end of each epoch (None between)."""

    epoch: int  # epochs finished
    step: int  # batches done in all
    total_steps: int
    train_accuracy: np.ndarray | None = None  # per run, after an epoch
    test_accuracy: np.ndarray | None = None
    history: dict[str, list[list[float]]] = field(default_factory=dict)  # per run, per epoch
    diverged: np.ndarray | None = None  # per run: the epoch its weights stopped being finite in (0: never)


def divergence_message(epoch: int) -> str:
    """What a run that stopped being finite in `epoch` (1-based) keeps, in one line."""
    if epoch <= 1:
        return ("training diverged: the weights became NaN or infinite in epoch 1, before any epoch finished "
                "with finite weights (try a smaller --lr or --l2)")
    return (f"training diverged: the weights became NaN or infinite in epoch {epoch}; kept the weights of "
            f"epoch {epoch - 1} (try a smaller --lr or --l2)")


def tensors(data: DigitData) -> tuple[torch.Tensor, ...]:
    return tuple(torch.from_numpy(a) for a in (data.train_x, data.train_y, data.test_x, data.test_y))


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> np.ndarray:
    """Per run, for R x N x 10 logits."""
    return (logits.argmax(dim=-1) == labels).float().mean(dim=-1).numpy().astype(float)


def _finite_runs(params: tuple[torch.Tensor, ...], logits: torch.Tensor) -> torch.Tensor:
    """Per run: are its weights and its logits all finite?"""
    finite = torch.isfinite(logits).flatten(1).all(1)
    for p in params:
        finite &= torch.isfinite(p).flatten(1).all(1)
    return finite


def train_mlps(stack: MLPStack, data: DigitData, settings: SGDSettings, report_every: int = 0,
               evaluate_train: bool = True, cancel: Callable[[], bool] | None = None) -> Iterator[Progress]:
    """Train every run of the stack in place; yields after each epoch (with accuracies) and, when
    report_every > 0, every that many steps between (for live views). A run that diverges is put
    back to its last finite epoch's weights (Progress.diverged says when); the accuracies recorded
    for it from then on are those weights'. Returns when every run has diverged, or once cancel()
    is true after a step: every run then goes back to its last finished epoch's weights."""
    settings.check()
    train_x, train_y, test_x, test_y = tensors(data)
    n, r, batch, lr = len(train_x), len(stack), settings.batch_size, settings.lr
    act = stack.spec.activation
    decay = 1.0 - lr * stack.spec.l2 / n
    gens = [torch.Generator().manual_seed(10_000 + seed) for seed in stack.seeds]  # shuffles, apart from init
    batches = n // batch  # a last short batch is dropped, as sklearn does not: see bench_digits.py
    total = settings.epochs * batches
    onehot = F.one_hot(train_y, 10).float()
    w1, b1, w2, b2 = params = stack.w1, stack.b1, stack.w2, stack.b2
    kept = [p.clone() for p in params]  # every run's weights after its last finite epoch
    diverged = np.zeros(r, dtype=np.int64)
    history: dict[str, list[list[float]]] = {"train_accuracy": [[] for _ in range(r)],
                                             "test_accuracy": [[] for _ in range(r)]}
    step = 0
    with torch.no_grad(), one_cpu_thread():
        for epoch in range(settings.epochs):
            order = torch.stack([torch.randperm(n, generator=g) for g in gens])  # R x n
            for k in range(batches):
                idx = order[:, k * batch:(k + 1) * batch]  # R x B
                x, target = train_x[idx], onehot[idx]  # R x B x 784, R x B x 10
                z1 = torch.baddbmm(b1, x, w1)
                a1 = torch.sigmoid(z1) if act == "sigmoid" else torch.tanh(z1) if act == "tanh" else z1.clamp_min(0)
                logits = torch.baddbmm(b2, a1, w2)
                d2 = torch.softmax(logits, dim=-1).sub_(target).div_(batch)  # d loss / d logits
                d1 = torch.bmm(d2, w2.transpose(1, 2))
                if act == "sigmoid":
                    d1.mul_(a1 * (1 - a1))
                elif act == "tanh":
                    d1.mul_(1 - a1 * a1)
                else:
                    d1.mul_(z1 > 0)
                if decay != 1.0:
                    w1.mul_(decay)
                    w2.mul_(decay)
                w2.baddbmm_(a1.transpose(1, 2), d2, alpha=-lr)
                b2.sub_(d2.sum(dim=1, keepdim=True), alpha=lr)
                w1.baddbmm_(x.transpose(1, 2), d1, alpha=-lr)
                b1.sub_(d1.sum(dim=1, keepdim=True), alpha=lr)
                step += 1
                if cancel is not None and cancel():
                    for p, k in zip(params, kept):
                        p.copy_(k)
                    return
                if report_every and step % report_every == 0 and k < batches - 1:
                    yield Progress(epoch, step, total, history=history)
            test_logits = stack.logits(test_x)
            finite = _finite_runs(params, test_logits) & torch.from_numpy(diverged == 0)
            diverged[(~finite).numpy() & (diverged == 0)] = epoch + 1
            if not finite.all():
                for p, k in zip(params, kept):
                    p[~finite] = k[~finite]
                test_logits = stack.logits(test_x)
            for p, k in zip(params, kept):
                k[finite] = p[finite]
            test_acc = accuracy(test_logits, test_y)
            train_acc = accuracy(stack.logits(train_x), train_y) if evaluate_train else None
            for i in range(r):
                history["test_accuracy"][i].append(float(test_acc[i]))
                if train_acc is not None:
                    history["train_accuracy"][i].append(float(train_acc[i]))
            yield Progress(epoch + 1, step, total, train_acc, test_acc, history, diverged.copy())
            if diverged.all():
                return


def final_accuracies(stack: MLPStack, data: DigitData) -> tuple[np.ndarray, np.ndarray]:
    train_x, train_y, test_x, test_y = tensors(data)
    return accuracy(stack.logits(train_x), train_y), accuracy(stack.logits(test_x), test_y)


def train_cnn(model: SmallCNN, data: DigitData, settings: SGDSettings, seed: int = 0,
              cancel: Callable[[], bool] | None = None,
              on_step: Callable[[int, int], None] | None = None) -> Iterator[Progress]:
    """Plain mini-batch SGD with autograd; yields after each epoch, calls on_step(steps, total)
    after each batch. A loss that is not finite stops training with a DeepvisError; cancel() true
    returns before the next batch (mid-epoch: the caller keeps the weights it saved)."""
    settings.check()
    train_x, train_y, test_x, test_y = tensors(data)
    gen = torch.Generator().manual_seed(10_000 + seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=settings.lr)
    n, batch = len(train_x), settings.batch_size
    batches = n // batch
    history: dict[str, list[list[float]]] = {"train_accuracy": [[]], "test_accuracy": [[]]}
    step = 0
    for epoch in range(settings.epochs):
        model.train()
        order = torch.randperm(n, generator=gen)
        for k in range(batches):
            if cancel is not None and cancel():
                return
            idx = order[k * batch:(k + 1) * batch]
            loss = F.cross_entropy(model(train_x[idx]), train_y[idx])
            if not torch.isfinite(loss):  # one line, before any file is written from NaN weights
                raise DeepvisError(f"training diverged: the loss became {loss.item()} in epoch {epoch + 1} "
                                   "(try a smaller --lr)")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            if on_step is not None:
                on_step(step, settings.epochs * batches)
        model.eval()
        with torch.no_grad():
            test_acc = accuracy(model(test_x)[None], test_y)
            train_acc = accuracy(model(train_x)[None], train_y)
        history["test_accuracy"][0].append(float(test_acc[0]))
        history["train_accuracy"][0].append(float(train_acc[0]))
        yield Progress(epoch + 1, step, settings.epochs * batches, train_acc, test_acc, history)
