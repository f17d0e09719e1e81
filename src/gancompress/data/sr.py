"""Super-resolution data: HR training crops, evaluation sets, and built-in photos.

- Training: random HR crops (`hr_crop` px) of HR images, with their LR version made by
  bicubic downsampling (antialiased, as MATLAB's imresize). Crop positions are a function
  of the item index, so batches depend only on (seed, step).
- Evaluation sets: whole HR images (cropped to a multiple of the scale), with LR images
  from an LR folder when given (paired by sorted file name) or by bicubic downsampling.
- Layouts: DIV2K (``DIV2K_train_HR/``, ``DIV2K_valid_HR/``, optionally
  ``DIV2K_valid_LR_bicubic/X4/``), Set5 / Set14 (a folder of HR images), any folder.
- Built in: real colour photographs bundled with scikit-image and scikit-learn; three of
  them (chelsea, coffee, flower) are held out for evaluation and never trained on.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from gancompress.data.bundled import bundled_photo
from gancompress.data.images import DataError, list_images, read_image
from gancompress.seeds import item_rng

TRAIN_PHOTOS = ("astronaut", "rocket", "motorcycle_left", "hubble_deep_field", "ihc", "retina", "china")
TEST_PHOTOS = ("chelsea", "coffee", "flower")


def downscale(hr: torch.Tensor, scale: int) -> torch.Tensor:
    """Bicubic downsampling by `scale` (antialiased) of (C, H, W) or (N, C, H, W) in [-1, 1]."""
    x = hr[None] if hr.ndim == 3 else hr
    lr = F.interpolate(x, scale_factor=1 / scale, mode="bicubic", antialias=True, align_corners=False).clamp(-1, 1)
    return lr[0] if hr.ndim == 3 else lr


def mod_crop(img: torch.Tensor, scale: int) -> torch.Tensor:
    """Crop H and W down to multiples of `scale` (the usual SR convention)."""
    h, w = img.shape[-2] // scale * scale, img.shape[-1] // scale * scale
    return img[..., :h, :w]


class ImageFiles:
    """A lazily read list of RGB images, (3, H, W) in [-1, 1]; cached when `cache`."""

    def __init__(self, files: Sequence[Path], cache: bool = False):
        self.files, self.cache = list(files), cache
        self._seen: dict[int, torch.Tensor] = {}

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> torch.Tensor:
        if i in self._seen:
            return self._seen[i]
        img = read_image(self.files[i], 3)
        if self.cache:
            self._seen[i] = img
        return img


class HRCrops(Dataset):
    """`per_image` random (HR crop, bicubic LR) pairs per image; item i's crop is fixed by (seed, i)."""

    def __init__(self, images: Sequence[torch.Tensor], hr_crop: int, scale: int, per_image: int = 100, seed: int = 0):
        if hr_crop % scale:
            raise ValueError(f"hr_crop={hr_crop}: must be a multiple of scale={scale}")
        self.images, self.hr_crop, self.scale, self.per_image, self.seed = images, hr_crop, scale, per_image, seed

    def __len__(self) -> int:
        return len(self.images) * self.per_image

    def __getitem__(self, i: int):
        img = self.images[i % len(self.images)]
        h, w = img.shape[-2:]
        if min(h, w) < self.hr_crop:
            raise DataError(f"image {i % len(self.images)} is {h}x{w}, smaller than hr_crop={self.hr_crop}")
        g = item_rng(self.seed, i)
        y = int(torch.randint(0, h - self.hr_crop + 1, (1,), generator=g))
        x = int(torch.randint(0, w - self.hr_crop + 1, (1,), generator=g))
        hr = img[:, y:y + self.hr_crop, x:x + self.hr_crop]
        return hr, downscale(hr, self.scale)


@dataclass
class EvalSet:
    """Whole evaluation images: HR (mod-cropped) and LR, as lists (sizes differ)."""

    name: str
    hr: list[torch.Tensor]
    lr: list[torch.Tensor]


def eval_set(name: str, hr_images: Sequence[torch.Tensor], scale: int,
             lr_images: Sequence[torch.Tensor] | None = None) -> EvalSet:
    hr = [mod_crop(x, scale) for x in hr_images]
    if lr_images is None:
        return EvalSet(name, hr, [downscale(x, scale) for x in hr])
    if len(lr_images) != len(hr):
        raise DataError(f"evaluation set {name!r}: {len(hr)} HR images but {len(lr_images)} LR images")
    for i, (h, low) in enumerate(zip(hr, lr_images)):
        if tuple(low.shape[-2:]) != (h.shape[-2] // scale, h.shape[-1] // scale):
            raise DataError(f"evaluation set {name!r}, image {i}: LR {tuple(low.shape[-2:])} is not HR "
                            f"{tuple(h.shape[-2:])} / {scale}")
    return EvalSet(name, hr, list(lr_images))


def folder_eval_set(name: str, hr_dir: str | Path, scale: int, lr_dir: str | Path | None = None) -> EvalSet:
    """An evaluation set from an HR folder (Set5, Set14, DIV2K_valid_HR), LR folder optional."""
    hr = ImageFiles(list_images(hr_dir))
    lr = ImageFiles(list_images(lr_dir)) if lr_dir else None
    return eval_set(name, [hr[i] for i in range(len(hr))], scale, None if lr is None else [lr[i] for i in range(len(lr))])


def parse_eval_spec(spec: str) -> tuple[str, str, str | None]:
    """``"name=HR_DIR"`` or ``"name=HR_DIR,LR_DIR"`` -> (name, hr_dir, lr_dir)."""
    name, sep, dirs = spec.partition("=")
    if not sep or not name or not dirs:
        raise ValueError(f"eval_sets entry {spec!r}: expected name=HR_DIR or name=HR_DIR,LR_DIR")
    hr_dir, _, lr_dir = dirs.partition(",")
    return name, hr_dir, lr_dir or None


def div2k_paths(root: str | Path, scale: int) -> tuple[Path, Path, Path | None]:
    """(train HR folder, validation HR folder, validation LR folder or None) of a DIV2K root."""
    root = Path(root)
    train, valid = root / "DIV2K_train_HR", root / "DIV2K_valid_HR"
    for folder in (train, valid):
        if not folder.is_dir():
            raise DataError(f"DIV2K folder {str(folder)!r} does not exist")
    lr = root / "DIV2K_valid_LR_bicubic" / f"X{scale}"
    return train, valid, lr if lr.is_dir() else None


def photo_crops(hr_crop: int, scale: int, per_image: int = 200, seed: int = 0) -> HRCrops:
    """Training crops of the built-in photos (the held-out ones excluded)."""
    return HRCrops([bundled_photo(n) for n in TRAIN_PHOTOS], hr_crop, scale, per_image, seed)


def photo_eval_set(scale: int) -> EvalSet:
    return eval_set("photos", [bundled_photo(n) for n in TEST_PHOTOS], scale)
