"""Paired images stored side by side (A|B in one file), in ``root/{train,val,test}``, as in pix2pix.

Pre-processing follows the reference's options (the same crop and flip for A and B):
``resize_and_crop`` (resize to load_size, random crop_size crop), ``crop`` (random crop only),
``scale_width`` (width to crop_size), ``scale_width_and_crop`` (width to load_size, random crop),
``none`` (sizes rounded to multiples of 4). Random choices are a function of (seed, index),
so batches are repeatable; outside 'train' crops are centred and never flipped.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import Dataset

from gancompress.data.images import CHANNELS, DataError, list_images, read_image, resize
from gancompress.seeds import item_rng

PREPROCESS = ("resize_and_crop", "crop", "scale_width", "scale_width_and_crop", "none")
DIRECTIONS = ("AtoB", "BtoA")


@dataclass(frozen=True)
class Transform:
    preprocess: str = "resize_and_crop"
    load_size: int = 286
    crop_size: int = 256
    flip: bool = True

    def __post_init__(self) -> None:
        if self.preprocess not in PREPROCESS:
            raise ValueError(f"preprocess={self.preprocess!r}: valid: {', '.join(PREPROCESS)}")
        if self.crop_size < 1 or self.load_size < self.crop_size:
            raise ValueError(f"load_size={self.load_size}, crop_size={self.crop_size}: need load_size >= crop_size >= 1")

    def resized(self, h: int, w: int) -> tuple[int, int]:
        p = self.preprocess
        if p == "resize_and_crop":
            return self.load_size, self.load_size
        if p.startswith("scale_width"):
            width = self.load_size if p.endswith("crop") else self.crop_size
            return max(round(width * h / w), self.crop_size), width
        if p == "none":
            return max(4, round(h / 4) * 4), max(4, round(w / 4) * 4)
        return h, w

    def __call__(self, images: list[torch.Tensor], rng: torch.Generator | None) -> list[torch.Tensor]:
        """Apply one draw of resize/crop/flip to every (C, H, W) image in `images` (same size);
        rng None: centred crop, no flip."""
        size = self.resized(*images[0].shape[-2:])
        images = [resize(x, size) for x in images]
        if self.preprocess in ("resize_and_crop", "crop", "scale_width_and_crop"):
            h, w = size
            c = self.crop_size
            if h < c or w < c:
                raise DataError(f"image of {h}x{w} px is smaller than crop_size={c}")
            if rng is None:
                top, left = (h - c) // 2, (w - c) // 2
            else:
                top = int(torch.randint(h - c + 1, (), generator=rng))
                left = int(torch.randint(w - c + 1, (), generator=rng))
            images = [x[:, top:top + c, left:left + c] for x in images]
        if self.flip and rng is not None and bool(torch.rand((), generator=rng) < 0.5):
            images = [x.flip(-1) for x in images]
        return images


def read_as(path: str | Path, channels: int) -> torch.Tensor:
    """(channels, H, W) in [-1, 1]; grey files become 3 equal channels, colour files luma (BT.601) for 1."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            found = 3 if img.mode == "P" else CHANNELS.get(img.mode, 3)
    except OSError:
        found = channels  # read_image reports the unreadable file
    return to_channels(read_image(path, found if found in (1, 3) else channels), channels)


def to_channels(x: torch.Tensor, channels: int) -> torch.Tensor:
    """(1 or 3, H, W) -> (channels, H, W): grey repeated, or colour to luma (ITU-R BT.601)."""
    if x.shape[0] == channels:
        return x
    if channels == 1:
        return 0.299 * x[0:1] + 0.587 * x[1:2] + 0.114 * x[2:3]
    return x.expand(channels, -1, -1).clone()


class AlignedDataset(Dataset):
    """(input, target) pairs from A|B files; `repeats` draws of random crop/flip per file per epoch."""

    def __init__(self, root: str | Path, split: str, transform: Transform, direction: str = "AtoB",
                 input_nc: int = 3, output_nc: int = 3, repeats: int = 1, seed: int = 0):
        if direction not in DIRECTIONS:
            raise ValueError(f"direction={direction!r}: valid: {', '.join(DIRECTIONS)}")
        self.files = list_images(Path(root) / split)
        self.split, self.transform, self.direction = split, transform, direction
        self.input_nc, self.output_nc, self.repeats, self.seed = input_nc, output_nc, repeats, seed

    def __len__(self) -> int:
        return len(self.files) * self.repeats

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        path = self.files[i % len(self.files)]
        a_nc, b_nc = (self.input_nc, self.output_nc) if self.direction == "AtoB" else (self.output_nc, self.input_nc)
        ab = read_as(path, 3)
        w = ab.shape[-1] // 2
        if w < 1:
            raise DataError(f"{path}: too narrow to hold A|B side by side")
        a, b = ab[..., :w], ab[..., w:2 * w]
        rng = item_rng(self.seed, i) if self.split == "train" else None
        a, b = self.transform([a, b], rng)
        a, b = to_channels(a, a_nc), to_channels(b, b_nc)
        return (a, b) if self.direction == "AtoB" else (b, a)

