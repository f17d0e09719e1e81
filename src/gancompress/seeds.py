"""One way to derive seeds: item `i` of a stream seeded by `seed` gets its own generator.

Every per-item and per-step random stream of the project (data augmentation, SR crops,
training batches) derives its seed here, so the streams of two seeds never overlap for
fewer than 1,000,003 items.
"""
from __future__ import annotations

import torch


def derived_seed(seed: int, index: int) -> int:
    """The seed of item `index` of the stream seeded by `seed`."""
    return seed * 1_000_003 + index


def item_rng(seed: int, index: int) -> torch.Generator:
    """A generator seeded for item `index` of the stream seeded by `seed`."""
    return torch.Generator().manual_seed(derived_seed(seed, index))
