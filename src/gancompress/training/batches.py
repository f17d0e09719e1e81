"""Deterministic batches: the batch of step t depends only on (seed, t).

That makes a resumed run see exactly the batches an uninterrupted one would, with
no data-loader state to save, and lets distributed ranks take disjoint shards of the
same global batch.
"""
from __future__ import annotations

import torch
from torch.utils.data import Dataset, default_collate

from gancompress.seeds import derived_seed


def step_seed(seed: int, step: int, salt: int = 0) -> int:
    """A per-step seed, well spread across steps and salts."""
    return derived_seed(seed, step * 7_919 + salt * 104_729) % (2**63 - 1)


class StepBatcher:
    """Global batch `step` = a slice of the permutation of epoch ``step * B // N``.

    With ``world > 1`` each rank receives its contiguous share of the global batch
    (see `shard`).
    """

    def __init__(self, dataset: Dataset, batch_size: int, seed: int, rank: int = 0, world: int = 1):
        self.dataset = dataset
        self.n = len(dataset)  # type: ignore[arg-type]
        if self.n == 0:
            raise ValueError("the training dataset is empty")
        if batch_size % world:
            raise ValueError(f"batch size {batch_size} is not divisible by {world} processes")
        self.batch_size, self.seed, self.rank, self.world = batch_size, seed, rank, world
        self._perms: dict[int, torch.Tensor] = {}

    def _perm(self, epoch: int) -> torch.Tensor:
        if epoch not in self._perms:
            self._perms = {epoch: torch.randperm(self.n, generator=torch.Generator().manual_seed(step_seed(self.seed, epoch, 1)))}
        return self._perms[epoch]

    def indices(self, step: int) -> list[int]:
        """Dataset indices of global batch `step`."""
        start = step * self.batch_size
        out = []
        for pos in range(start, start + self.batch_size):
            epoch, offset = divmod(pos, self.n)
            out.append(int(self._perm(epoch)[offset]))
        return out

    def items(self, step: int):
        """The collated global batch `step`."""
        return default_collate([self.dataset[i] for i in self.indices(step)])

    def shard(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """This rank's contiguous share of a global batch dict."""
        share = self.batch_size // self.world
        return {k: v[self.rank * share:(self.rank + 1) * share] for k, v in batch.items()}
