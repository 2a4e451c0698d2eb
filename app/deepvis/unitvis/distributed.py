"""Many processes under torchrun: rank and world size, gathers, barriers.

`torchrun --nproc-per-node N -m deepvis precompute ...` sets RANK/WORLD_SIZE;
the process group uses NCCL when each process has a GPU and gloo otherwise.
Without torchrun every call here is the one-process identity.
"""

from __future__ import annotations

import os
from datetime import timedelta

import torch
import torch.distributed as dist


def launched() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def local_device(device: str) -> str:
    """The device of this process: cuda:LOCAL_RANK when the processes share a machine's GPUs."""
    if launched() and device in ("auto", "cuda") and torch.cuda.is_available():
        return f"cuda:{int(os.environ.get('LOCAL_RANK', '0')) % torch.cuda.device_count()}"
    return device


def setup(device: torch.device) -> None:
    if launched() and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend, timeout=timedelta(minutes=30))


def teardown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def rank_world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def barrier() -> None:
    if rank_world()[1] > 1:
        dist.barrier()


def _comm_device(tensor: torch.Tensor) -> torch.device:
    return tensor.device if dist.get_backend() == "nccl" else torch.device("cpu")


def all_gather(tensors: list[torch.Tensor]) -> list[tuple[torch.Tensor, ...]]:
    """Every process's copy of the same-shaped tensors, in rank order (moved back to the input's device)."""
    rank, world = rank_world()
    if world == 1:
        return [tuple(tensors)]
    out = []
    for tensor in tensors:
        local = tensor.contiguous().to(_comm_device(tensor))
        parts = [torch.empty_like(local) for _ in range(world)]
        dist.all_gather(parts, local)
        out.append([p.to(tensor.device) for p in parts])
    return [tuple(column[r] for column in out) for r in range(world)]


def gather_objects(value, flatten: bool = False) -> list:
    """Every process's value (all ranks get them all); lists joined when `flatten`."""
    rank, world = rank_world()
    values = [value]
    if world > 1:
        values = [None] * world
        dist.all_gather_object(values, value)
    if flatten:
        return [item for part in values for item in part]
    return values


def broadcast_object(value):
    """Rank 0's value on every process."""
    if rank_world()[1] == 1:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]
