"""CelebA for StarGAN: aligned face images with binary attributes.

Layout: an image folder and an attribute file, anywhere (the reference's ``--celeba_image_dir``
and ``--attr_path``); under one root either as yunjey/stargan's download script leaves them,
``root/images/*.jpg``, or as distributed, ``root/img_align_celeba/*.jpg``, with
``root/list_attr_celeba.txt`` (line 1: image count; line 2: the 40 attribute names; then
``filename v1 ... v40`` with values 1 / -1).

The split is the reference's, exactly: the attribute lines are shuffled with Python's
``random`` seeded 1234, and shuffled line i (0-based) goes to test when ``i + 1 < 2000``,
i.e. 1,999 test images. Images are centre-cropped to 178 px and resized to `image_size`
(bilinear, antialiased, as torchvision's Resize on PIL images), in [-1, 1]; labels are
float vectors of the selected attributes (1 where the file says 1). Random flips of
training images happen in the recipe's `make_batch`.
"""
from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from gancompress.data.images import DataError

HAIR_COLOURS = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair")  # an exclusive group at test time
SPLIT_SEED = 1234
TEST_RULE_LIMIT = 2000  # shuffled line i is a test image when i + 1 < 2000


def read_attributes(path: str | Path, selected: tuple[str, ...]) -> list[tuple[str, list[float]]]:
    """(filename, selected attribute values as 0/1) for every line of list_attr_celeba.txt, in file order."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"CelebA attribute file {str(path)!r} does not exist")
    lines = [line.rstrip() for line in path.read_text().splitlines()]
    if len(lines) < 3:
        raise DataError(f"{path}: expected a count line, an attribute-name line and image lines")
    names = lines[1].split()
    unknown = [a for a in selected if a not in names]
    if unknown:
        raise DataError(f"{path}: unknown attribute {unknown[0]!r}; valid: {', '.join(names)}")
    cols = [names.index(a) for a in selected]
    rows = []
    for n, line in enumerate(lines[2:], start=3):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != len(names) + 1:
            raise DataError(f"{path}:{n}: expected a filename and {len(names)} values, got {len(parts) - 1}")
        rows.append((parts[0], [1.0 if parts[1 + c] == "1" else 0.0 for c in cols]))
    return rows


def reference_split(rows: list, split: str) -> list:
    """yunjey/stargan's split of the attribute lines (see the module docstring)."""
    shuffled = list(rows)
    random.Random(SPLIT_SEED).shuffle(shuffled)  # same permutation as random.seed(1234); random.shuffle
    if split == "test":
        return shuffled[:TEST_RULE_LIMIT - 1]
    return shuffled[TEST_RULE_LIMIT - 1:]


def center_crop_resize(path: Path, crop: int, size: int) -> torch.Tensor:
    """(3, size, size) in [-1, 1]: centre crop (torchvision's rounding), then antialiased bilinear resize."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img = img.convert("RGB")
            w, h = img.size
            top, left = int(round((h - crop) / 2.0)), int(round((w - crop) / 2.0))
            img = img.crop((left, top, left + crop, top + crop)).resize((size, size), Image.BILINEAR)
            arr = np.asarray(img)
    except (UnidentifiedImageError, OSError) as err:
        raise DataError(f"{path}: unreadable or corrupt image ({type(err).__name__}: {err})") from None
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).float() / 127.5 - 1


IMAGE_DIRS = ("images", "img_align_celeba")  # yunjey/stargan's download script; the distribution's
ATTR_FILE = "list_attr_celeba.txt"


def celeba_paths(root: str | Path | None, image_dir: str | Path | None = None,
                 attr_path: str | Path | None = None) -> tuple[Path, Path]:
    """(image folder, attribute file): the ones given, else found under `root` (see the module docstring)."""
    if image_dir is None:
        if root is None:
            raise DataError("CelebA needs data_root, or image_dir and attr_path")
        found = [Path(root) / d for d in IMAGE_DIRS if (Path(root) / d).is_dir()]
        image_dir = found[0] if found else Path(root) / IMAGE_DIRS[-1]
    if attr_path is None:
        if root is None:
            raise DataError("CelebA needs data_root, or image_dir and attr_path")
        attr_path = Path(root) / ATTR_FILE
    return Path(image_dir), Path(attr_path)


class CelebA(Dataset):
    """The reference's train or test part of CelebA: (image (3, S, S) in [-1, 1], attributes (A,))."""

    def __init__(self, root: str | Path | None, split: str, selected_attrs: tuple[str, ...], crop: int = 178,
                 image_size: int = 128, image_dir: str | Path | None = None, attr_path: str | Path | None = None):
        if split not in ("train", "test"):
            raise ValueError(f"unknown split {split!r}; valid: train, test")
        self.image_dir, attr_path = celeba_paths(root, image_dir, attr_path)
        if not self.image_dir.is_dir():
            raise DataError(f"CelebA image folder {str(self.image_dir)!r} does not exist")
        self.rows = reference_split(read_attributes(attr_path, tuple(selected_attrs)), split)
        if not self.rows:
            raise DataError(f"CelebA {split} split of {str(attr_path)!r} is empty")
        self.crop, self.size = crop, image_size

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int):
        name, label = self.rows[i]
        return center_crop_resize(self.image_dir / name, self.crop, self.size), torch.tensor(label)
