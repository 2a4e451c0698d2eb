"""The networks: an MLP 784-H-10 (one module, or a stack of independent ones trained at once)
and a small CNN; their files (model.pth state dict + model.json)."""

from __future__ import annotations

import json
import math
import pickle
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from deepvis import DeepvisError
from deepvis.digits.choices import ACTIVATIONS, INITS
from deepvis.files import atomic_files, json_text

INPUTS = 28 * 28
CLASSES = 10


@dataclass(frozen=True)
class MLPSpec:
    """An MLP 784-H-10 with softmax outputs and the L2 weight decay it was trained with."""

    hidden: int = 30
    activation: str = "sigmoid"
    init: str = "scaled"
    l2: float = 0.0  # Nielsen's lambda: each step shrinks weights by lr * l2 / n_train

    def check(self) -> "MLPSpec":
        if not 1 <= self.hidden <= 4096:
            raise DeepvisError(f"--hidden must be between 1 and 4096, not {self.hidden}")
        if self.activation not in ACTIVATIONS:
            raise DeepvisError(f"--activation must be one of {', '.join(ACTIVATIONS)}, not {self.activation!r}")
        if self.init not in INITS:
            raise DeepvisError(f"--init must be one of {', '.join(INITS)}, not {self.init!r}")
        if not (self.l2 >= 0 and math.isfinite(self.l2)):
            raise DeepvisError(f"--l2 must be a number >= 0, not {self.l2}")
        return self


def activation_fn(name: str):
    return {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu}[name]


class MLP(nn.Module):
    """784 -> hidden (activation) -> 10 logits."""

    def __init__(self, spec: MLPSpec):
        super().__init__()
        self.spec = spec
        self.hidden = nn.Linear(INPUTS, spec.hidden)
        self.output = nn.Linear(spec.hidden, CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.output(activation_fn(self.spec.activation)(self.hidden(x.flatten(1))))


class MLPStack:
    """R independent MLPs of one spec as batched tensors: w1 R x 784 x H, b1 R x 1 x H,
    w2 R x H x 10, b2 R x 1 x 10. Run r is initialized from its own seed alone."""

    def __init__(self, spec: MLPSpec, seeds: list[int]):
        self.spec, self.seeds = spec.check(), list(seeds)
        parts = [self._init_one(seed) for seed in self.seeds]
        self.w1, self.b1, self.w2, self.b2 = (torch.stack(p) for p in zip(*parts))

    def _init_one(self, seed: int):
        gen = torch.Generator().manual_seed(seed)
        h = self.spec.hidden
        w1 = torch.randn(INPUTS, h, generator=gen)
        w2 = torch.randn(h, CLASSES, generator=gen)
        if self.spec.init == "scaled":
            w1, w2 = w1 / math.sqrt(INPUTS), w2 / math.sqrt(h)
        return w1, torch.randn(1, h, generator=gen), w2, torch.randn(1, CLASSES, generator=gen)

    def __len__(self) -> int:
        return len(self.seeds)

    @torch.no_grad()
    def logits(self, x: torch.Tensor, chunk: int = 2048) -> torch.Tensor:
        """R x N x 10 for shared inputs N x 784."""
        act = activation_fn(self.spec.activation)
        outs = []
        for start in range(0, len(x), chunk):
            hidden = act(torch.matmul(x[start:start + chunk], self.w1) + self.b1)
            outs.append(torch.baddbmm(self.b2, hidden, self.w2))
        return torch.cat(outs, dim=1)

    def module(self, r: int) -> MLP:
        """Run r as an nn.Module (a copy)."""
        mlp = MLP(self.spec)
        with torch.no_grad():
            mlp.hidden.weight.copy_(self.w1[r].T)
            mlp.hidden.bias.copy_(self.b1[r, 0])
            mlp.output.weight.copy_(self.w2[r].T)
            mlp.output.bias.copy_(self.b2[r, 0])
        return mlp.eval()


class SmallCNN(nn.Module):
    """16 5x5 filters (ReLU, 2x2 pool) -> 32 5x5 filters (ReLU, 2x2 pool) -> 64 -> 10."""

    def __init__(self, filters: int = 16):
        super().__init__()
        self.conv1 = nn.Conv2d(1, filters, 5, padding=2)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(filters, 32, 5, padding=2)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool2d(2)
        self.fc1 = nn.Linear(32 * 7 * 7, 64)
        self.relu3 = nn.ReLU()
        self.fc2 = nn.Linear(64, CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.view(-1, 1, 28, 28)
        x = self.pool1(self.relu1(self.conv1(x)))
        x = self.pool2(self.relu2(self.conv2(x)))
        return self.fc2(self.relu3(self.fc1(x.flatten(1))))


# --------------------------------------------------------------------------- files


def save_mlp(mlp: MLP, folder: Path) -> None:
    """Both files renamed into place together: a failed write keeps the folder's old model whole."""
    info = {"kind": "mlp", "sizes": [INPUTS, mlp.spec.hidden, CLASSES], **asdict(mlp.spec)}
    with atomic_files() as files:
        torch.save(mlp.state_dict(), files.path(folder / "model.pth"))
        files.path(folder / "model.json").write_text(json_text(info))


def load_mlp(folder: Path) -> MLP:
    """An MLP saved by save_mlp (weights loaded safely)."""
    try:
        info = json.loads((Path(folder) / "model.json").read_text())
        spec = MLPSpec(info["hidden"], info["activation"], info["init"], float(info["l2"])).check()
        state = torch.load(Path(folder) / "model.pth", map_location="cpu", weights_only=True)
    except (OSError, ValueError, KeyError) as error:
        raise DeepvisError(f"{folder}: not a saved digits MLP ({error})") from None
    except pickle.UnpicklingError as error:  # torch's message would advise weights_only=False
        from deepvis.zoo import code_refused, holds_code

        if holds_code(error):
            raise code_refused(Path(folder) / "model.pth") from None
        raise DeepvisError(f"{folder}/model.pth: the file is corrupt or not a state dict") from None
    mlp = MLP(spec)
    try:
        mlp.load_state_dict(state)
    except RuntimeError as error:
        raise DeepvisError(f"{folder}/model.pth does not fit {spec}: {str(error).splitlines()[0]}") from None
    return mlp.eval()
