"""Linear probes: how well one plane separates the two classes at a stage of the network.

A probe is a logistic regression fitted by Newton's method (a few steps suffice in a
handful of dimensions). Every stage's probe is fitted at once: the problems are padded
to one width and solved as a batch, so the cost is a few dozen small operations
whatever the number of stages.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

ITERATIONS = 12
RIDGE = 1e-6  # on standardized features: keeps Newton's steps finite when the classes separate
MAX_STEP = 20.0  # a damped step: far from the optimum a full Newton step can overshoot


@dataclass(frozen=True)
class Probe:
    """The best plane found, w . f + b = 0 in the problem's own coordinates, and its accuracy."""

    accuracy: float
    weight: torch.Tensor  # (d,)
    bias: float

    @property
    def separates(self) -> bool:
        return self.accuracy >= 1.0


def fit_probes(problems: list[torch.Tensor], labels: torch.Tensor, iterations: int = ITERATIONS) -> list[Probe]:
    """One probe per (N, d_i) feature matrix, all with the same (N,) 0/1 labels."""
    return _fit(problems, labels, iterations, None)[0]


class ProbeFitter:
    """Fits the probes of successive moments of one run, each set starting from the last
    one's planes as well as from Fisher's: a few Newton steps then suffice while training runs."""

    def __init__(self, iterations: int = ITERATIONS, warm_iterations: int = 4):
        self.iterations = iterations
        self.warm_iterations = warm_iterations
        self._last: torch.Tensor | None = None

    def fit(self, problems: list[torch.Tensor], labels: torch.Tensor) -> list[Probe]:
        last = self._last
        shape = (len(problems), max((p.shape[1] for p in problems), default=0) + 1)
        warm = last is not None and tuple(last.shape) == shape
        probes, self._last = _fit(problems, labels, self.warm_iterations if warm else self.iterations,
                                  last if warm else None)
        return probes


@torch.no_grad()
def _fit(problems: list[torch.Tensor], labels: torch.Tensor, iterations: int,
         start: torch.Tensor | None) -> tuple[list[Probe], torch.Tensor | None]:
    """The probes and their planes in standardized coordinates (a later fit's start)."""
    if not problems:
        return [], None
    device = labels.device
    n = labels.shape[0]
    width = max(p.shape[1] for p in problems) + 1
    count = len(problems)
    x = torch.zeros(count, n, width, device=device)
    mean = torch.zeros(count, width - 1, device=device)
    scale = torch.ones(count, width - 1, device=device)
    for i, features in enumerate(problems):
        d = features.shape[1]
        mean[i, :d] = features.mean(0)
        scale[i, :d] = features.std(0, unbiased=False).clamp_min(1e-6)
        x[i, :, :d] = (features - mean[i, :d]) / scale[i, :d]
    x[:, :, -1] = 1.0  # the bias column
    y = labels.float().expand(count, n)
    target = y > 0.5
    xt = x.transpose(1, 2).contiguous()
    eye = torch.eye(width, device=device)
    w = _discriminant_start(x, y)
    if start is not None:  # the better of the two starts, problem by problem
        def hits(v):
            return ((torch.bmm(x, v.unsqueeze(2)).squeeze(2) > 0) == target).float().mean(1)

        w = torch.where((hits(start) >= hits(w)).unsqueeze(1), start, w)
    best_w, best_acc = w, torch.full((count,), -1.0, device=device)
    for _ in range(iterations + 1):
        score = torch.bmm(x, w.unsqueeze(2)).squeeze(2)
        accuracy = ((score > 0) == target).float().mean(1)
        better = accuracy > best_acc
        best_acc = torch.where(better, accuracy, best_acc)
        best_w = torch.where(better.unsqueeze(1), w, best_w)
        # Scores clamped so that p and 1 - p never go denormal: denormal floats make the CPU's
        # arithmetic hundreds of times slower.
        p = torch.sigmoid(score.clamp(-30.0, 30.0))
        grad = torch.bmm(xt, ((p - y) / n).unsqueeze(2)).squeeze(2).add_(w, alpha=RIDGE)
        hessian = torch.bmm(xt, x * (p * (1 - p) / n).unsqueeze(2)).add_(eye, alpha=RIDGE)
        step = torch.linalg.solve(hessian, grad)
        w = w - step * (MAX_STEP / step.norm(dim=1, keepdim=True).clamp_min(MAX_STEP))
    # Back to each problem's own coordinates: w.(f - mean)/scale + b.
    weight = best_w[:, :-1] / scale
    bias = best_w[:, -1] - (weight * mean).sum(1)
    accuracies, biases = best_acc.tolist(), bias.tolist()
    probes = [Probe(accuracies[i], weight[i, :problems[i].shape[1]], biases[i]) for i in range(count)]
    return probes, w


def _discriminant_start(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Fisher's discriminant as the first plane: one solve, and usually close to the answer."""
    width = x.shape[2]
    ones, zeros = y.sum(1).clamp_min(1), (1 - y).sum(1).clamp_min(1)
    mean1 = torch.bmm(y.unsqueeze(1), x).squeeze(1) / ones.unsqueeze(1)
    mean0 = torch.bmm((1 - y).unsqueeze(1), x).squeeze(1) / zeros.unsqueeze(1)
    centred = x - torch.where(y.unsqueeze(2) > 0.5, mean1.unsqueeze(1), mean0.unsqueeze(1))
    scatter = torch.bmm(centred.transpose(1, 2), centred) / x.shape[1]
    scatter = scatter + torch.eye(width, device=x.device) * 1e-3
    scatter[:, -1, -1] = 1.0  # the bias column has no spread; its weight is set below
    w = torch.linalg.solve(scatter, (mean1 - mean0).unsqueeze(2)).squeeze(2)
    w[:, -1] = 0
    w[:, -1] = -(w * (mean0 + mean1) / 2).sum(1)
    spread = torch.bmm(x, w.unsqueeze(2)).squeeze(2).std(1).clamp_min(1e-6)
    return w * (2.0 / spread).unsqueeze(1)  # scores of a few units: Newton starts where it is steady
