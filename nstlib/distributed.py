"""One process or many: `torch.distributed` as the course uses it, started by `torchrun`.

    torchrun --standalone --nproc_per_node=2 -m nstlib.realtime train STYLE -o NAME.pt
    torchrun --nnodes=2 --nproc_per_node=8 --rdzv-backend=c10d --rdzv-endpoint=HOST:29500 -m ...

`torchrun` starts one process per rank and gives each its place in environment variables (RANK,
WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, ...). `start()` reads them: without them it is one process and
nothing is initialised, so every command behaves as it does without torchrun. The backend follows
the device: NCCL for CUDA (one GPU per rank, chosen by LOCAL_RANK), Gloo for the CPU. On one 2-core
machine two Gloo processes test the distributed path for real, but run no faster.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

import torch
import torch.distributed as dist

from .device import default_device
from .errors import NSTError

T = TypeVar("T")

#: How long ranks wait for each other (a collective, or a rank that died) before giving up.
TIMEOUT = datetime.timedelta(minutes=10)


@dataclass(frozen=True)
class World:
    """This process's place among the ranks: one process is rank 0 of 1."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    backend: str | None = None  # None: not distributed

    @property
    def main(self) -> bool:
        """Rank 0: the one that prints, validates and writes shared files."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """More than one rank, joined in a process group."""
        return self.backend is not None


#: One process, no process group: every command's world without torchrun.
SINGLE = World()


def launched() -> bool:
    """Whether torchrun (or another launcher) started this process as one of several ranks."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def start(device: str | torch.device | None = None) -> tuple[World, torch.device]:
    """Join the process group torchrun set up (if any); returns this rank's `World` and device.

    `device` None picks CUDA when present, else CPU; under torchrun a CUDA device becomes
    cuda:LOCAL_RANK, so each rank of a node drives its own GPU.
    """
    device = torch.device(device) if device is not None else default_device()
    if not launched():
        return World(), device
    if dist.is_initialized():  # a second command in the same process (tests, notebooks)
        return current(), device
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(backend, timeout=TIMEOUT)
    return current(), device


def current() -> World:
    """The `World` of an already joined process group (one process if none)."""
    if not (dist.is_available() and dist.is_initialized()):
        return World()
    return World(
        dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")), dist.get_backend()
    )


def stop() -> None:
    """Leave the process group, if this process joined one."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


@contextmanager
def joined(device: str | torch.device | None = None) -> Iterator[tuple[World, torch.device]]:
    """`start()` for the block when torchrun launched this process (else one process), `stop()` after it.

    A process group that was already joined (a notebook, a caller's own `start()`) is left joined.
    """
    if not launched():
        yield World(), torch.device(device) if device is not None else default_device()
        return
    ours = not dist.is_initialized()
    world, device = start(device)
    try:
        yield world, device
    finally:
        if ours:
            stop()


def shard(items: Sequence[T], world: World) -> list[T]:
    """This rank's share of `items`: every `world.size`-th one from its rank, so each item has one owner."""
    return list(items[world.rank :: world.size])


def barrier(world: World) -> None:
    """Wait until every rank is here (nothing to wait for in one process)."""
    if world.distributed:
        dist.barrier()


def total(counts: dict[str, float], world: World) -> dict[str, float]:
    """The sum of each count over all ranks (for a summary line that speaks for the whole run)."""
    if not world.distributed:
        return dict(counts)
    on = torch.device("cuda", torch.cuda.current_device()) if world.backend == "nccl" else torch.device("cpu")
    values = torch.tensor([float(counts[k]) for k in counts], dtype=torch.float64, device=on)
    dist.all_reduce(values)  # NCCL reduces GPU tensors only, Gloo CPU ones
    return dict(zip(counts, values.tolist()))


def broadcast(value: T, world: World) -> T:
    """Rank 0's `value` (any picklable object) on every rank, so that all act on one decision."""
    if not world.distributed:
        return value
    box = [value if world.main else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather(value: T, world: World, *, group: dist.ProcessGroup | None = None) -> list[T]:
    """Every rank's `value` (any picklable object), in rank order, on every rank (`group`: a `patient_group`)."""
    if not world.distributed:
        return [value]
    out: list[T] = [None] * world.size  # type: ignore[list-item]
    dist.all_gather_object(out, value, group=group)
    return out


def on_every_rank(world: World, step: Callable[[], T], *, group: dist.ProcessGroup | None = None) -> T:
    """`step()` on every rank; if it fails on any, every rank stops and rank 0 says why, once.

    A rank that stopped alone would leave the others waiting at their next collective. Rank 0 raises
    an `NSTError` naming the first rank that failed; the others exit with code 2 without a word. In
    one process `step()` runs as it is. `group`: a `patient_group` when ranks may finish far apart.
    """
    if not world.distributed:
        return step()
    try:
        value, problem = step(), None
    except NSTError as err:
        value, problem = None, str(err)
    except Exception as err:  # noqa: BLE001  (any failure must reach the other ranks)
        value, problem = None, f"{type(err).__name__}: {err}"
    problems = [(rank, p) for rank, p in enumerate(gather(problem, world, group=group)) if p]
    if not problems:
        return value
    if not world.main:
        raise SystemExit(2)  # rank 0 prints the line
    rank, problem = problems[0]
    raise NSTError(problem if rank == 0 else f"rank {rank}: {problem}")


def patient_group(world: World, timeout: datetime.timedelta) -> dist.ProcessGroup | None:
    """A Gloo group of every rank whose collectives wait up to `timeout`, not `TIMEOUT` (None in one process).

    For a wait that is part of the work: ranks that finish a long share early wait at the next
    collective for the slowest. Every rank must call it at the same point, e.g. right after `start`
    (joining uses the default group's store and its timeout). Gloo carries CPU objects under NCCL too.
    """
    if not world.distributed:
        return None
    return dist.new_group(backend="gloo", timeout=timeout)


def gather_to_main(value: T, world: World, *, group: dist.ProcessGroup | None = None) -> list[T] | None:
    """Every rank's `value` (any picklable object), in rank order, on rank 0 only (None on the others).

    Unlike `gather`, each share crosses the network once and only rank 0 holds them all. `group`: a
    `patient_group` when ranks may arrive far apart.
    """
    if not world.distributed:
        return [value]
    out: list[T] | None = [None] * world.size if world.main else None  # type: ignore[list-item]
    dist.gather_object(value, out, dst=0, group=group)
    return out
