"""Helpers for the window tests: a tiny model with a card, small videos and images, and what
"the shown result is current" means."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from deepvis.zoo import Layer, LoadedModel, ModelCard

TIMEOUT = 15000  # ms; generous for a loaded machine, never reached when all is well


def tiny_model(name: str = "tiny", channels: int = 12) -> LoadedModel:
    """A small CNN with a card, so the window runs many frames per second on the CPU."""
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(),
        nn.Conv2d(8, channels, 3, stride=2, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, 10),
    ).eval().requires_grad_(False)
    layers = (Layer("conv1", "1"), Layer("conv2", "3"), Layer("fc", ""), Layer("prob", "softmax"))
    card = ModelCard(name=name, title=f"{name} net", source="custom", input_size=32, layers=layers,
                     default_layer="conv2")
    return LoadedModel(card, model, [f"class {i}" for i in range(10)], torch.device("cpu"), layers)


def write_video(path: Path, frames: int = 30, size: int = 64) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25, (size, size))
    for i in range(frames):
        image = np.zeros((size, size, 3), np.uint8)
        cv2.circle(image, (8 + (i * 3) % (size - 16), size // 2), 6, (255, 200, 50), -1)
        writer.write(image)
    writer.release()
    return path


def corrupt_mid_stream(path: Path, frames: int = 120) -> Path:
    """A video whose middle third of bytes is scrambled: it decodes for a while, then stops."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25, (64, 64))
    for i in range(frames):
        image = np.zeros((64, 64, 3), np.uint8)
        cv2.circle(image, (8 + (i * 3) % 48, 32), 6, (255, 200, 50), -1)
        writer.write(image)
    writer.release()
    data = bytearray(path.read_bytes())
    for k in range(len(data) // 3, len(data) // 2):
        data[k] = (data[k] * 7 + 13) % 256
    path.write_bytes(bytes(data))
    return path


def write_png(path: Path, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    cv2.imwrite(str(path), rng.integers(0, 255, (40, 48, 3), dtype=np.uint8))
    return path


def shown(window) -> bool:
    """The latest displayed result is of the Live mode's current view."""
    d = window.live.last_delivery
    return d is not None and d.result.view == window.live.view
