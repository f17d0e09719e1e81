"""Image files: strict reading (clear errors naming the file) and a plain image-folder dataset."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}
CHANNELS = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4, "P": 3, "I;16": 1, "I": 1, "F": 1, "CMYK": 4}


class DataError(ValueError):
    """Unusable data: empty folder, unreadable or corrupt file, wrong channel count."""


def list_images(folder: str | Path) -> list[Path]:
    """Image files in `folder` (recursively, sorted); an empty or missing folder is an error."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"image folder {str(folder)!r} does not exist")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise DataError(f"image folder {str(folder)!r} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return files


def read_image(path: str | Path, channels: int) -> torch.Tensor:
    """(channels, H, W) float in [-1, 1]. Errors name the file for unreadable images and
    for a channel count other than `channels` (grey vs colour is not silently converted)."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    try:
        with Image.open(path) as img:
            img.load()
            found = CHANNELS.get(img.mode)
            if img.mode == "P":  # palette images decode to RGB(A)
                img = img.convert("RGBA" if "transparency" in img.info else "RGB")
                found = 4 if img.mode == "RGBA" else 3
            if found != channels:
                raise DataError(f"{path}: image has {found} channel(s) (mode {img.mode}), expected {channels}")
            arr = np.asarray(img.convert("L" if channels == 1 else "RGB" if channels == 3 else img.mode))
    except Image.DecompressionBombError as err:  # PIL's guard against images that would fill the memory
        raise DataError(f"{path}: too large to open safely ({err}); resize it first") from None
    except (UnidentifiedImageError, OSError, SyntaxError) as err:
        raise DataError(f"{path}: unreadable or corrupt image ({type(err).__name__}: {err})") from None
    x = torch.from_numpy(arr.copy()).float() / (65535.0 if arr.dtype == np.uint16 else 255.0)
    x = x.unsqueeze(0) if x.ndim == 2 else x.permute(2, 0, 1)
    return x * 2 - 1


def resize(x: torch.Tensor, size: int | tuple[int, int]) -> torch.Tensor:
    """Bicubic resize of (C, H, W) in [-1, 1] (antialiased when shrinking)."""
    size = (size, size) if isinstance(size, int) else size
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x[None], size=size, mode="bicubic", antialias=True, align_corners=False)[0].clamp(-1, 1)


class ImageFolder(Dataset):
    """Every image under `root`, resized to `size`, as (image, 0) pairs; decoded once and cached."""

    def __init__(self, root: str | Path, size: int, channels: int):
        self.files = list_images(root)
        self.size, self.channels = size, channels
        self._cache: dict[int, torch.Tensor] = {}

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int):
        if i not in self._cache:
            self._cache[i] = resize(read_image(self.files[i], self.channels), self.size)
        return self._cache[i], 0


def grid_patches(image: torch.Tensor, crop: int, stride: int | None = None, x0: int = 0,
                 x1: int | None = None) -> torch.Tensor:
    """All crop x crop patches of (C, H, W) on a `stride` grid (default: non-overlapping) lying
    within columns [x0, x1): (N, C, crop, crop)."""
    stride = stride or crop
    tiles = image[:, :, x0:x1].unfold(1, crop, stride).unfold(2, crop, stride)  # (C, ny, nx, crop, crop)
    return tiles.permute(1, 2, 0, 3, 4).reshape(-1, image.shape[0], crop, crop)


def spread_indices(length: int, n: int) -> torch.Tensor:
    """Indices of at most `n` of `length` items, evenly spread from the first to the last."""
    return torch.linspace(0, length - 1, min(n, length)).round().long()
