"""Data-parallel training under ``torch.distributed`` (e.g. a script launched by ``torchrun``).

Each rank trains on its shard of every epoch's batches, DistributedDataParallel averages the
gradients over the ranks in ``backward``, losses are summed over the ranks, and only rank 0
writes files. Without a process group the helpers act as rank 0 of 1 and change nothing.

``torch.distributed`` is reached as an attribute of ``torch`` (it is loaded with torch, and some
builds lack it: :func:`distributed` checks ``is_available`` before anything else).
"""

import os
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Ranks:
    """This process's place in a fit: rank ``rank`` of ``world`` under ``torch.distributed``
    (``ddp``), else rank 0 of 1."""

    rank: int = 0
    world: int = 1
    ddp: bool = False

    @property
    def main(self):
        """Whether this rank shows progress and writes files."""
        return self.rank == 0


def distributed(device="cpu"):
    """``(rank, world_size)`` when ``torch.distributed`` is initialised, else None.

    A process started by ``torchrun`` (``WORLD_SIZE`` > 1 in the environment) initialises the
    default process group here when the caller has not: gloo for training on CPU, nccl on CUDA.
    """
    dist = torch.distributed
    if not dist.is_available():
        return None
    if not dist.is_initialized():
        if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or "MASTER_ADDR" not in os.environ:
            return None
        cuda = torch.device(device).type == "cuda"
        backend = "nccl" if cuda and dist.is_nccl_available() else "gloo"
        dist.init_process_group(backend)
    return dist.get_rank(), dist.get_world_size()


def detect_ranks(device="cpu"):
    """:class:`Ranks` of this process (see :func:`distributed`)."""
    found = distributed(device)
    return Ranks() if found is None else Ranks(*found, ddp=True)


def rank_device(device, ranks):
    """The device a rank trains on: under DDP on CUDA, the GPU of its ``LOCAL_RANK`` (made the
    current device); else ``device``."""
    if ranks.ddp and torch.device(device).type == "cuda":
        device = f"cuda:{int(os.environ.get('LOCAL_RANK', ranks.rank))}"
        torch.cuda.set_device(device)
    return device


def broadcast_rng_state(device):
    """Rank 0's torch CPU generator state on every rank, so that the ranks draw identical
    windows even for ``random_state=None``."""
    state = torch.get_rng_state().to(device)      # nccl only moves CUDA tensors
    torch.distributed.broadcast(state, 0)
    torch.set_rng_state(state.cpu())


def shard(batches, rank, world):
    """Batches ``rank, rank + world, ...`` of a lazily drawn epoch, padded as
    ``DistributedSampler`` pads (index ``i`` past the end takes batch ``i % n``), so every rank
    makes the same number of optimiser steps. At most ``world`` batches are held."""
    head, n = [], 0
    for n, batch in enumerate(batches, 1):
        if len(head) < world:
            head.append(batch)
        if (n - 1) % world == rank:
            yield batch
    for idx in range(rank, -(-n // world) * world, world):
        if idx >= n:
            yield head[idx % n]


def rank_batches(batches, ranks):
    """This rank's batches of an epoch, and how many there are (None when ``batches`` has no
    length)."""
    n = len(batches) if hasattr(batches, "__len__") else None
    if not ranks.ddp:
        return batches, n
    return shard(batches, ranks.rank, ranks.world), None if n is None else -(-n // ranks.world)


class LossModule(torch.nn.Module):
    """``loss_fn(net, batch)`` as a forward pass, so DistributedDataParallel syncs gradients."""

    def __init__(self, net, loss_fn):
        super().__init__()
        self.net, self.loss_fn = net, loss_fn

    def forward(self, *batch):
        return self.loss_fn(self.net, batch)


def loss_module(net, loss_fn, device, ranks):
    """:class:`LossModule` of ``net``; under DDP wrapped in DistributedDataParallel, which
    averages the gradients over the ranks during ``backward``."""
    model = LossModule(net, loss_fn)
    if not ranks.ddp:
        return model
    return torch.nn.parallel.DistributedDataParallel(
        model, device_ids=[torch.device(device).index] if "cuda" in str(device) else None,
        static_graph=True)      # one graph every step; unused parameters are fine


def sum_over_ranks(values, device, ranks):
    """``values`` summed over the ranks, as floats; unchanged in a single process."""
    if not ranks.ddp:
        return values
    t = torch.stack([torch.as_tensor(v, dtype=torch.float64, device=device) for v in values])
    torch.distributed.all_reduce(t)
    return tuple(t.tolist())
