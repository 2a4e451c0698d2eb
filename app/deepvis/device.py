"""Device choice and sync: which device runs the model, and waiting for its queued work."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch

from deepvis import DeepvisError


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps and mps.is_available())


def pick_device(name: str = "auto") -> torch.device:
    """auto (a CUDA GPU, else Apple's MPS, else the CPU), cpu, cuda, cuda:N or mps; an
    asked-for device that is missing is one clear error, not a crash later."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DeepvisError(f"device '{name}' asked for, but no CUDA GPU is available (use --device cpu)")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise DeepvisError(f"device '{name}' asked for, but there are {torch.cuda.device_count()} CUDA GPUs")
    if device.type == "mps" and not _mps_available():
        raise DeepvisError(f"device '{name}' asked for, but MPS is not available (use --device cpu)")
    return device


def sync_device(device: torch.device) -> None:
    """Wait for the device's queued work, so that a timer stops after it (a no-op on the CPU).

    GPU kernels run asynchronously: without this, a timer measures only the launches."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


@contextmanager
def one_cpu_thread() -> Iterator[None]:
    """torch on one CPU thread for the block, the count restored after: small ops gain less from a
    team than its hand-offs cost, and far less on a busy machine where helpers wait for a core."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
