"""Data-parallel training under torchrun (gloo on CPU, NCCL on GPU).

Every rank holds full copies of all networks (same seed, same teacher file), takes its
share of each global batch (``StepBatcher``), and averages gradients across ranks right
before every optimiser step (an optimiser pre-step hook), which is what
DistributedDataParallel does, without wrapping the networks: techniques stay unaware
of distribution and state dicts keep their keys. Normalisation layers use per-rank batch
statistics, as DDP does without SyncBatchNorm; their running statistics are averaged
after each step. Logged scalars are averaged across ranks; only rank 0 writes files.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class DistEnv:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    owns_group: bool = False  # this process created the group (so it also destroys it)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1


def init_from_env(device_kind: str = "cpu") -> DistEnv:
    """Join the process group torchrun describes (RANK, WORLD_SIZE, ...); single process otherwise."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistEnv()
    owns = not dist.is_initialized()
    if owns:
        dist.init_process_group("nccl" if device_kind == "cuda" else "gloo")
    return DistEnv(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")), owns)


def leave(env: DistEnv, finished: bool = True) -> None:
    """Leave the process group together: after a finished run every rank first waits for the main one
    (which scores and writes alone), so no rank exits while gloo's threads still serve the others
    (that exit aborted a rank under load: "terminate called without an active exception")."""
    if env.active and dist.is_initialized():
        if finished:
            dist.barrier()
        if env.owns_group:
            dist.destroy_process_group()


def device_for(env: DistEnv, requested: torch.device) -> torch.device:
    """One GPU per local rank when running on CUDA."""
    if requested.type == "cuda" and env.active:
        return torch.device("cuda", env.local_rank)
    return requested


def _average_(tensors: list[torch.Tensor], world: int) -> None:
    if not tensors:
        return
    flat = torch.cat([t.reshape(-1) for t in tensors])
    dist.all_reduce(flat)
    flat /= world
    offset = 0
    for t in tensors:
        t.copy_(flat[offset:offset + t.numel()].view_as(t))
        offset += t.numel()


def average_gradients_before_steps(optimizers: list[torch.optim.Optimizer], env: DistEnv) -> None:
    """Register a pre-step hook on each optimiser that all-reduces (averages) its gradients."""
    if not env.active:
        return

    def hook(opt, args, kwargs):
        grads = [p.grad for group in opt.param_groups for p in group["params"] if p.grad is not None]
        _average_(grads, env.world)

    for opt in optimizers:
        opt.register_step_pre_hook(hook)


def average_buffers(modules: list[nn.Module], env: DistEnv) -> None:
    """Average floating-point buffers (BatchNorm running statistics) across ranks."""
    if env.active:
        with torch.no_grad():
            _average_([b for m in modules for b in m.buffers() if b.is_floating_point()], env.world)


def average_scalars(logs: dict[str, torch.Tensor], env: DistEnv) -> dict[str, torch.Tensor]:
    """The mean of each logged scalar over ranks (same keys on every rank)."""
    if not env.active or not logs:
        return logs
    keys = sorted(logs)
    values = torch.stack([torch.as_tensor(logs[k], dtype=torch.float64).reshape(()) for k in keys])
    dist.all_reduce(values)
    return dict(zip(keys, values / env.world))


def barrier(env: DistEnv) -> None:
    if env.active:
        dist.barrier()
