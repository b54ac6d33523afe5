"""Data-parallel pretraining on the GPUs of one node: process launch, batch slicing, embedding gather.

The global batch (`pretrain.batch_size` items) and every draw stay those of the 1-process run: each of the
W processes (ranks) draws the whole batch and both segment starts from (seed, epoch, step) as before, then
reads and embeds only its contiguous slice of the items. The embeddings are gathered with gradients
(`torch.distributed.nn.functional.all_gather`), so every rank computes the InfoNCE loss of the whole global
batch, negatives included, exactly as one process does.

Gradients: the gather's backward sums the W ranks' (identical) loss gradients into each rank's slice, so a
rank's parameter gradient is W × its share of the global gradient; DDP's average over ranks divides by W and
leaves the 1-process gradient (sum over slices) on every rank. Clipping and the optimiser step then agree.

Slices may be unequal (batch_size not a multiple of W): they are padded to the largest slice for the
gather and the padding is dropped before the loss, so the loss and the update stay exact; a batch smaller
than W (a rank without items) is refused.

Dropout: rank r draws from a torch generator seeded by `dropout_seed(seed, r)`; rank 0 keeps the 1-process
seed (seed + 1), the other ranks get independent streams. Masks therefore differ from a 1-process run when
dropout > 0 (runs with dropout 0, e.g. the `demo` preset, are equal up to float rounding).
"""

from __future__ import annotations

import datetime
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.distributed.nn.functional as dist_nn  # all_gather with gradients
from torch import nn

# Generous: rank 0 alone runs the per-epoch validation retrieval while the other ranks wait in a collective.
TIMEOUT = datetime.timedelta(hours=2)


@dataclass(frozen=True)
class Ranks:
    """Where this process stands: `rank` of `world` processes (world 1 = plain single-process training)."""

    rank: int = 0
    world: int = 1

    @property
    def is_main(self) -> bool:
        """Rank 0 writes every output (checkpoint, log, metrics, plot); the others only train."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1

    def bounds(self, batch: int) -> list[tuple[int, int]]:
        """[lo, hi) item rows of each rank in a global batch of `batch`: contiguous, sizes differ by <= 1."""
        check_world(batch, self.world)
        cuts = np.linspace(0, batch, self.world + 1).round().astype(int)
        return [(int(a), int(b)) for a, b in zip(cuts[:-1], cuts[1:])]

    def rows(self, batch: int) -> slice:
        lo, hi = self.bounds(batch)[self.rank]
        return slice(lo, hi)

    def wrap(self, model: nn.Module, device: torch.device) -> nn.Module:
        """The module to run the training forward through: DDP across ranks, the model itself otherwise.

        Every rank built the same initial weights from the seed, so DDP's initial broadcast changes nothing;
        buffers (the input statistics) are set before and never change, so they are not re-broadcast.
        """
        if not self.active:
            return model
        ids = [device.index] if device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(model, device_ids=ids, broadcast_buffers=False)

    def gather_views(self, z: torch.Tensor, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        """This rank's z (its anchors then its positives) -> anchors, positives (batch, D) of the global batch.

        The rows come back in global item order, so the loss sees the tensors one process would compute.
        """
        local = z.shape[0] // 2
        if not self.active:
            return z[:local], z[local:]
        sizes = [hi - lo for lo, hi in self.bounds(batch)]
        width = max(sizes)
        pad = z.new_zeros((width - local, z.shape[1]))
        parts = [torch.cat([z[:local], pad]), torch.cat([z[local:], pad])]
        gathered = dist_nn.all_gather(torch.cat(parts))
        anchors = torch.cat([g[:n] for g, n in zip(gathered, sizes)])
        positives = torch.cat([g[width:width + n] for g, n in zip(gathered, sizes)])
        return anchors, positives

    def gather_objects(self, value: Any) -> list[Any]:
        """`value` of every rank (rank order), on every rank; [value] in one process."""
        if not self.active:
            return [value]
        out: list[Any] = [None] * self.world
        dist.all_gather_object(out, value)
        return out


def check_world(batch: int, world: int) -> None:
    """A rank needs at least one item of every global batch."""
    if world < 1:
        raise ValueError(f"number of processes must be >= 1, got {world}")
    if batch < world:
        raise ValueError(f"batch_size {batch} is smaller than the {world} processes: every process needs an item")


def dropout_seed(seed: int, rank: int) -> int:
    """Rank 0: seed + 1, the 1-process seed (1-process runs are unchanged); others: an independent stream."""
    if rank == 0:
        return seed + 1
    return int(np.random.SeedSequence([seed + 1, rank]).generate_state(1)[0])


def free_port() -> int:
    """A free TCP port on the loopback interface (rendezvous of processes spawned on this node)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def backend_for(device: torch.device) -> str:
    return "nccl" if device.type == "cuda" else "gloo"


def rank_device(device: torch.device, local_rank: int) -> torch.device:
    """The device of a rank: GPU `local_rank` of the node on CUDA (one GPU per process), else `device`."""
    if device.type != "cuda":
        return device
    count = torch.cuda.device_count()
    if local_rank >= count:
        raise ValueError(f"process {local_rank} needs GPU {local_rank} but only {count} are visible "
                         "(ask the scheduler for as many GPUs as processes)")
    return torch.device("cuda", local_rank)


def torchrun_ranks() -> tuple[int, int, int] | None:
    """(rank, local_rank, world) when started by torchrun (its environment variables), else None."""
    if "WORLD_SIZE" not in os.environ or "RANK" not in os.environ:
        return None
    return int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", os.environ["RANK"])), int(os.environ["WORLD_SIZE"])


def init(ranks: Ranks, device: torch.device, init_method: str) -> None:
    """Join the process group (`init_method` "env://" under torchrun, "tcp://127.0.0.1:port" when spawned)."""
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(backend_for(device), init_method=init_method, rank=ranks.rank,
                            world_size=ranks.world, timeout=TIMEOUT)


def close() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def _spawned(local_rank: int, fn: Callable[..., Any], world: int, init_method: str, args: tuple) -> None:
    fn(Ranks(local_rank, world), local_rank, init_method, *args)


def launch(fn: Callable[..., Any], world: int, *args: Any) -> None:
    """Run `fn(ranks, local_rank, init_method, *args)` in `world` processes on this node (rendezvous on loopback).

    `fn` must be importable (it is pickled by name) and call `init` itself. A failing rank ends the others
    and the error is raised here.
    """
    import torch.multiprocessing as mp

    init_method = f"tcp://127.0.0.1:{free_port()}"
    mp.spawn(_spawned, args=(fn, world, init_method, args), nprocs=world, join=True)
