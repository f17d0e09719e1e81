"""A built-in multi-domain task: patches of three real texture photographs.

scikit-image bundles 512x512 grey photographs of brick, grass and gravel (no download).
Each texture is one domain; a translator must turn, say, a brick patch into grass while
keeping enough of it to translate it back. A classifier checks the domain of an output
(`gancompress.metrics.domain_classifier`).

Split: the right-hand quarter of every photograph (columns >= 384) is held out; training
patches come from the left three quarters only, so no pixel is shared. Patches are
``crop`` px squares on a ``stride`` grid, resized to ``size``, repeated to 3 channels,
in [-1, 1], with one-hot domain labels.
"""
from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

from gancompress.data.bundled import bundled_photo
from gancompress.data.images import grid_patches

TEXTURES = ("brick", "grass", "gravel")
HOLDOUT_COLUMN = 384  # test patches lie right of it, training patches left of it


@functools.lru_cache(maxsize=4)
def _texture_split(split: str, size: int, crop: int, stride: int) -> tuple[torch.Tensor, torch.Tensor]:
    xs, ys = [], []
    for k, name in enumerate(TEXTURES):
        img = bundled_photo(name)  # (1, H, W): grey
        x0, x1 = (0, HOLDOUT_COLUMN) if split == "train" else (HOLDOUT_COLUMN, img.shape[2])
        p = grid_patches(img, crop, stride, x0, x1)
        p = F.interpolate(p, size=(size, size), mode="bicubic", antialias=True, align_corners=False).clamp(-1, 1)
        xs.append(p.expand(-1, 3, -1, -1).contiguous())
        ys.append(torch.full((len(p),), k))
    y = torch.cat(ys)
    return torch.cat(xs), F.one_hot(y, len(TEXTURES)).float()


def texture_domains(split: str, size: int = 32, crop: int = 64, stride: int = 16) -> TensorDataset:
    """'train' (3 x 609 patches with the defaults) or 'test' (3 x 145) texture patches with one-hot labels."""
    if split not in ("train", "test"):
        raise ValueError(f"unknown split {split!r}; valid: train, test")
    return TensorDataset(*_texture_split(split, size, crop, stride))


def digit_domains(split: str, size: int = 32) -> TensorDataset:
    """scikit-learn's real handwritten digits as 10 domains (one per digit), 3-channel grey, one-hot labels."""
    from gancompress.data.digits import digits_split

    x, y = digits_split(split, size).tensors
    return TensorDataset(x.expand(-1, 3, -1, -1).contiguous(), F.one_hot(y, 10).float())
