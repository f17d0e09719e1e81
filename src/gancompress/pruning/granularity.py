"""Granularities: how weights are grouped before ranking, and N:M patterns.

Every weight is viewed in one canonical layout, (out, in, kH, kW):
Conv2d is already so, ConvTranspose2d stores (in, out, kH, kW) and is transposed,
Linear (out, in) becomes (out, in, 1, 1). Two kinds share one interface
(``pattern``, ``whole_channels``, ``sparsity(cfg)``):

- a ranked `Granularity` scores groups in that layout (the mean element score of the
  group), the pruner ranks them along the schedule, and ``expand`` turns kept groups
  back into a mask;
- a fixed `NMPattern` (``pattern = True``) keeps a pattern of its own (``keep``), reached
  at once when the schedule begins.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from gancompress.registry import Registry


def layer_kind(module: nn.Module) -> str | None:
    if isinstance(module, nn.ConvTranspose2d):
        return "deconv"
    if isinstance(module, nn.Conv2d):
        return "conv"
    if isinstance(module, nn.Linear):
        return "linear"
    return None


def to_canonical(t: torch.Tensor, kind: str) -> torch.Tensor:
    """Weight-shaped tensor -> (out, in, kH, kW)."""
    if kind == "deconv":
        return t.transpose(0, 1)
    if kind == "linear":
        return t[:, :, None, None]
    return t


def from_canonical(t: torch.Tensor, kind: str) -> torch.Tensor:
    if kind == "deconv":
        return t.transpose(0, 1)
    if kind == "linear":
        return t[:, :, 0, 0]
    return t


@dataclass(frozen=True)
class Granularity:
    """Group structure: `reduce_dims` of the canonical layout form one group."""

    name: str
    reduce_dims: tuple[int, ...]
    doc: str
    pattern: ClassVar[bool] = False

    def sparsity(self, cfg: Any) -> float:
        """The zero fraction a run with `cfg` (a PruneConfig) ends at: its target."""
        return cfg.target

    @property
    def whole_channels(self) -> bool:
        """Groups are whole output channels: they can be removed for real (``export --materialize``)."""
        return self.reduce_dims == (1, 2, 3)

    def group_scores(self, canon: torch.Tensor) -> torch.Tensor:
        return canon.mean(dim=self.reduce_dims) if self.reduce_dims else canon

    def group_size(self, canon_shape: torch.Size) -> int:
        size = 1
        for d in self.reduce_dims:
            size *= canon_shape[d]
        return size

    def expand(self, group_keep: torch.Tensor, canon_shape: torch.Size) -> torch.Tensor:
        view = list(canon_shape)
        for d in self.reduce_dims:
            view[d] = 1
        return group_keep.reshape(view).expand(canon_shape)


GRANULARITIES: Registry["Granularity | NMPattern"] = Registry("granularity")
for _g in (
    Granularity("element", (), "single weights"),
    Granularity("vector", (3,), "1-D rows of a kernel (kW weights)"),
    Granularity("kernel", (2, 3), "whole 2-D kernels (one input x one output channel)"),
    Granularity("filter", (1, 2, 3), "whole output channels"),
):
    GRANULARITIES.register(_g.name, _g)


def nm_keep(canon_scores: torch.Tensor, n: int, m: int) -> torch.Tensor:
    """Keep the `n` highest of every `m` consecutive input channels (canonical layout).

    An input-channel count that is not a multiple of `m` leaves a shorter last group,
    which keeps min(n, its length).
    """
    out_c, in_c, kh, kw = canon_scores.shape
    pad = (-in_c) % m
    s = canon_scores.permute(0, 2, 3, 1)  # (out, kH, kW, in)
    if pad:
        s = torch.cat([s, s.new_full((out_c, kh, kw, pad), float("-inf"))], dim=-1)
    groups = s.reshape(out_c, kh, kw, -1, m)
    idx = groups.topk(min(n, m), dim=-1, sorted=False).indices
    keep = torch.zeros_like(groups, dtype=torch.bool).scatter_(-1, idx, True)
    keep = keep.reshape(out_c, kh, kw, in_c + pad)[..., :in_c]
    return keep.permute(0, 3, 1, 2).contiguous()


@dataclass(frozen=True)
class NMPattern:
    """N:M: the `n` highest of every `m` consecutive input channels kept, a fixed 1 - n/m sparsity."""

    name: str = "nm"
    doc: str = "n of every m consecutive input-channel weights (cfg.n, cfg.m)"
    pattern: ClassVar[bool] = True
    whole_channels: ClassVar[bool] = False

    def sparsity(self, cfg: Any) -> float:
        return 1.0 - cfg.n / cfg.m

    def keep(self, canon_scores: torch.Tensor, cfg: Any) -> torch.Tensor:
        return nm_keep(canon_scores, cfg.n, cfg.m)


GRANULARITIES.register("nm", NMPattern())
