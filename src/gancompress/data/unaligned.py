"""Unpaired images in ``root/{train,test}A`` and ``root/{train,test}B``, as in CycleGAN.

Item i holds A image ``i mod |A|`` and, in 'train', a B image drawn at random from (seed, i)
(in other splits B image ``i mod |B|``); each gets its own draw of the pre-processing
(`gancompress.data.aligned.Transform`).
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.data import Dataset

from gancompress.data.aligned import Transform, read_as
from gancompress.data.images import list_images
from gancompress.seeds import item_rng


class UnalignedDataset(Dataset):
    """(A, B) pairs of unrelated images; length max(|A|, |B|) * repeats."""

    def __init__(self, root: str | Path, split: str, transform: Transform, nc_a: int = 3, nc_b: int = 3,
                 repeats: int = 1, seed: int = 0):
        root = Path(root)
        self.files_a, self.files_b = list_images(root / f"{split}A"), list_images(root / f"{split}B")
        self.split, self.transform = split, transform
        self.nc_a, self.nc_b, self.repeats, self.seed = nc_a, nc_b, repeats, seed

    def __len__(self) -> int:
        return max(len(self.files_a), len(self.files_b)) * self.repeats

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = item_rng(self.seed, i) if self.split == "train" else None
        j = int(torch.randint(len(self.files_b), (), generator=rng)) if rng is not None else i % len(self.files_b)
        (a,) = self.transform([read_as(self.files_a[i % len(self.files_a)], self.nc_a)], rng)
        (b,) = self.transform([read_as(self.files_b[j], self.nc_b)], rng)
        return a, b
