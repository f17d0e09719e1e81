"""scikit-learn's handwritten digits (1,797 real 8x8 scans, 10 classes), resized.

Bundled with scikit-learn, so it needs no download. Images come back as float
tensors in [-1, 1], shape (N, 1, size, size), with integer labels.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

# The held-out split is fixed so that metrics never see training images.
TEST_FRACTION = 0.2
SPLIT_SEED = 0


def load_digits_images(size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """All 1,797 digits as (images (N,1,size,size) in [-1,1], labels (N,))."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = torch.from_numpy(bunch.images).float().unsqueeze(1) / 16.0  # (N,1,8,8) in [0,1]
    x = F.interpolate(x, size=(size, size), mode="bicubic", align_corners=False).clamp(0, 1)
    y = torch.from_numpy(bunch.target).long()
    return x * 2 - 1, y


def digits_split(split: str, size: int = 32) -> TensorDataset:
    """The 'train' or 'test' part of the digits (80/20, fixed seed)."""
    if split not in ("train", "test"):
        raise ValueError(f"unknown split {split!r}; valid: train, test")
    x, y = load_digits_images(size)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(SPLIT_SEED))
    n_test = int(len(x) * TEST_FRACTION)
    idx = order[:n_test] if split == "test" else order[n_test:]
    return TensorDataset(x[idx], y[idx])
