"""Everything distributed in one place, with a world-size-1 path that needs no process group.

`torchrun` (single or multi node) sets `RANK`, `LOCAL_RANK`, `WORLD_SIZE`, `MASTER_ADDR` and
`MASTER_PORT`; `process_group` then joins the group (NCCL on CUDA, gloo on the CPU) and leaves it
when training ends. Without those variables every helper here answers for a single process.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from fullglow.errors import UserInputError

log = logging.getLogger(__name__)


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def is_main() -> bool:
    """True on the process that logs, validates and writes files (rank 0)."""
    return rank() == 0


def rank_seed(seed: int) -> int:
    """`seed * world_size + rank`: a different stream on every process (DiT's convention)."""
    return seed * world_size() + rank()


def _launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def resolve_device(requested: str) -> torch.device:
    """The device of this process: "auto" picks CUDA when present; under torchrun, CUDA means
    `cuda:LOCAL_RANK`."""
    if requested == "auto":
        requested = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(requested)
    except RuntimeError as err:
        raise UserInputError(f"device {requested!r}: not a torch device ({err})") from err
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise UserInputError(f"device {requested!r}: CUDA is not available on this machine")
        if device.index is None:
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    elif device.type != "cpu":
        raise UserInputError(f"device {requested!r}: use cpu, cuda, cuda:N or auto")
    return device


@contextmanager
def process_group(device: torch.device) -> Iterator[None]:
    """Join the torchrun process group for the duration of the block (nothing when alone).

    A group that already exists (made by the caller) is used as it is and left open.
    """
    if is_distributed() or not _launched_by_torchrun():
        yield
        return
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(backend=backend, timeout=timedelta(minutes=30))
    log.info("rank %d of %d joined the %s process group", rank(), world_size(), backend)
    try:
        yield
        # Leave together: a rank that tore its group down while rank 0 was still writing the
        # last checkpoint aborted at exit once in CI ("terminate called without an active
        # exception"). Not after an error, where the others may never arrive.
        dist.barrier()
    finally:
        dist.destroy_process_group()


def barrier() -> None:
    if is_distributed():
        dist.barrier()


def any_rank(flag: bool, device: torch.device) -> bool:
    """True on every rank when `flag` is True on at least one (e.g. a stop request)."""
    if not is_distributed():
        return flag
    value = torch.tensor(float(flag), device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def mean_across_ranks(values: torch.Tensor) -> torch.Tensor:
    """Elementwise mean over the ranks (a NaN on any rank makes the result NaN everywhere)."""
    if not is_distributed():
        return values
    values = values.clone()
    dist.all_reduce(values)
    return values / world_size()


def broadcast_object(value: Any) -> Any:
    """Rank 0's `value` on every rank."""
    if not is_distributed():
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather_objects(value: Any) -> list[Any]:
    """Every rank's `value`, indexed by rank, on every rank."""
    if not is_distributed():
        return [value]
    out: list[Any] = [None] * world_size()
    dist.all_gather_object(out, value)
    return out


def check_identical_parameters(module: nn.Module) -> None:
    """Raise `RuntimeError` unless every rank holds the same parameters and buffers as rank 0.

    DDP broadcasts rank 0's parameters when it is built, so a difference here means a bug that
    would otherwise pass silently (e.g. a data-dependent initialisation run on one rank only).
    """
    if not is_distributed():
        return
    differing = []
    for name, tensor in [*module.named_parameters(), *module.named_buffers()]:
        local = tensor.detach()
        local = local.to(torch.uint8) if local.dtype == torch.bool else local.clone()
        reference = local.clone()
        dist.broadcast(reference, src=0)
        if not torch.equal(reference, local):
            differing.append(name)
    count = torch.tensor(float(len(differing)), device=next(module.parameters()).device)
    dist.all_reduce(count)
    if count.item() > 0:
        raise RuntimeError(
            f"parameters differ between ranks after initialisation (rank {rank()}: "
            f"{differing[:5] or 'none here'})"
        )
