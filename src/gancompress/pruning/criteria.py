"""Importance criteria: weight tensor -> per-element score (higher = keep)."""
from __future__ import annotations

from typing import Callable

import torch

from gancompress.registry import Registry

Criterion = Callable[[torch.Tensor], torch.Tensor]
CRITERIA: Registry[Criterion] = Registry("criterion")


@CRITERIA.register("magnitude")
def magnitude(weight: torch.Tensor) -> torch.Tensor:
    """|w|: the classic magnitude criterion."""
    return weight.detach().abs()
