"""Built-in image-translation tasks made from the photographs bundled with scikit-image and
scikit-learn (no download), cut into small crops for CPU training.

- **edges -> photo** (paired, pix2pix): input the Canny edge map (1 channel, {-1, 1}) of a crop,
  target the colour crop, from 7 colour photographs.
- **denoising** (paired, pix2pix): input the colour crop plus Gaussian noise of standard deviation
  0.2 on the [-1, 1] scale (25.5 of 255: the classic sigma = 25 denoising level), clipped; target
  the clean crop. Each crop's noise is fixed by its index, so the data are the same in every run.
  Unlike edges -> photo (colours are not in the edges), the input holds nearly everything the
  target does: the task is well posed, with a classical baseline (Gaussian smoothing).
- **colour <-> black-and-white photos** (unpaired, CycleGAN): domain A crops of the 7 colour
  photographs, domain B crops of 7 *other* black-and-white photographs (camera man, coins,
  moon, clock, brick, grass, gravel; grey copied to 3 channels). No crop of A has a
  counterpart in B: G_A learns to render colour scenes in the black-and-white set's look,
  G_B to colourise black-and-white ones.

Every photo is used at three scales (short side 3, 4 and 5 times the crop size). The
right-most fifth of every photo (at least one crop wide) is held out: 'test' crops come
only from there, 'train' crops only from the rest. Crop positions and flips are a fixed
table drawn from a seed, so datasets are identical across runs.
"""
from __future__ import annotations

import functools
import math

import torch
from torch.utils.data import Dataset

from gancompress.data.aligned import to_channels
from gancompress.data.bundled import bundled_photo
from gancompress.data.images import resize

# the photos of the built-in translation tasks (pix2pix edges -> photo, CycleGAN colour <-> grey)
TASK_COLOUR_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "motorcycle_left", "china", "flower")
TASK_GREY_PHOTOS = ("camera", "coins", "moon", "clock", "brick", "grass", "gravel")
SCALES = (3, 4, 5)  # short side of a photo = scale * crop size
HELD_OUT = 0.2
N_CROPS = {"train": 4096, "test": 1000}
SPLITS = tuple(N_CROPS)


def canny_edges(rgb: torch.Tensor, sigma: float = 2.0) -> torch.Tensor:
    """(3, H, W) in [-1, 1] -> Canny edge map (1, H, W): 1 on edges, -1 elsewhere."""
    from skimage.feature import canny

    grey = (to_channels(rgb, 1)[0] + 1) / 2  # BT.601 luma in [0, 1]
    return torch.from_numpy(canny(grey.numpy(), sigma=sigma)).float()[None] * 2 - 1


NOISE_STD = 0.2  # on the [-1, 1] scale


def gaussian_blur(img: torch.Tensor, sigma: float) -> torch.Tensor:
    """(C, H, W) -> the same blurred by a separable Gaussian (radius 3 sigma, reflected borders)."""
    import torch.nn.functional as F

    radius = math.ceil(3 * sigma)
    t = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-t**2 / (2 * sigma**2))
    k = (k / k.sum()).view(1, 1, -1)
    c = img.shape[0]
    x = F.pad(img[None], (radius, radius, radius, radius), mode="reflect")
    x = F.conv2d(x, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)  # along W
    return F.conv2d(x, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)[0]  # along H


@functools.lru_cache(maxsize=8)
def scaled_photos(names: tuple[str, ...], size: int, with_edges: bool = False) -> tuple[torch.Tensor, ...]:
    """Every photo at every scale, (C, H, W) in [-1, 1], 3 channels (+ the edge map first when asked)."""
    out = []
    for name in names:
        x = bundled_photo(name).expand(3, -1, -1)  # grey photos repeated to 3 channels
        for scale in SCALES:
            h, w = x.shape[-2:]
            f = scale * size / min(h, w)
            img = resize(x, (round(h * f), round(w * f)))
            out.append(torch.cat([canny_edges(img), img]) if with_edges else img.contiguous())
    return tuple(out)


def crop_table(images: tuple[torch.Tensor, ...], size: int, split: str, seed: int) -> torch.Tensor:
    """(n, 4) rows of (image index, top, left, flip): 'test' crops lie in each image's held-out
    right-most columns, 'train' crops left of them; only 'train' crops are flipped."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; valid: {', '.join(SPLITS)}")
    g = torch.Generator().manual_seed(seed * 7 + SPLITS.index(split))
    n = N_CROPS[split]
    k = torch.randint(len(images), (n,), generator=g)
    rows = []
    for i, u, v, f in zip(k.tolist(), torch.rand(n, generator=g).tolist(), torch.rand(n, generator=g).tolist(),
                          torch.rand(n, generator=g).tolist()):
        h, w = images[i].shape[-2:]
        held = max(math.ceil(HELD_OUT * w), size)
        lo, hi = (w - held, w - size) if split == "test" else (0, w - held - size)
        rows.append((i, int(u * (h - size + 1)), lo + int(v * (hi - lo + 1)), int(split == "train" and f < 0.5)))
    return torch.tensor(rows)


class PhotoCrops(Dataset):
    """Crops of `images` listed in a crop table; with `split_at`, items are (x[:split_at], x[split_at:])."""

    def __init__(self, images: tuple[torch.Tensor, ...], size: int, split: str, seed: int = 0,
                 split_at: int | None = None):
        self.images, self.size, self.split_at = images, size, split_at
        self.table = crop_table(images, size, split, seed)

    def __len__(self) -> int:
        return len(self.table)

    def __getitem__(self, i: int):
        k, top, left, flip = self.table[i].tolist()
        x = self.images[k][:, top:top + self.size, left:left + self.size]
        x = x.flip(-1) if flip else x
        return x if self.split_at is None else (x[:self.split_at], x[self.split_at:])


class Unpaired(Dataset):
    """(A, B) items from two datasets of equal length (independent positions: no pairing)."""

    def __init__(self, a: Dataset, b: Dataset):
        self.a, self.b = a, b

    def __len__(self) -> int:
        return min(len(self.a), len(self.b))

    def __getitem__(self, i: int):
        return self.a[i], self.b[i]


def edges_to_photo(split: str, size: int = 64, direction: str = "AtoB") -> Dataset:
    """(edge map (1, size, size), photo (3, size, size)) pairs; BtoA swaps them."""
    data = PhotoCrops(scaled_photos(TASK_COLOUR_PHOTOS, size, with_edges=True), size, split, seed=0, split_at=1)
    return data if direction == "AtoB" else _Swapped(data)


class Noisy(Dataset):
    """(crop + fixed Gaussian noise, clipped; crop) pairs of a dataset of crops; item i's noise comes from
    a generator seeded by (`seed`, i) alone."""

    def __init__(self, crops: Dataset, std: float = NOISE_STD, seed: int = 0):
        self.crops, self.std, self.seed = crops, std, seed

    def __len__(self) -> int:
        return len(self.crops)

    def __getitem__(self, i: int):
        clean = self.crops[i]
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + i)
        return (clean + self.std * torch.randn(clean.shape, generator=g)).clamp(-1, 1), clean


def denoising(split: str, size: int = 64) -> Dataset:
    """(noisy crop, clean crop) pairs, both (3, size, size)."""
    return Noisy(PhotoCrops(scaled_photos(TASK_COLOUR_PHOTOS, size), size, split, seed=3),
                 seed=SPLITS.index(split) + 1)


def colour_and_grey(split: str, size: int = 64) -> Dataset:
    """(colour crop, black-and-white crop) items, both (3, size, size), unpaired."""
    return Unpaired(PhotoCrops(scaled_photos(TASK_COLOUR_PHOTOS, size), size, split, seed=1),
                    PhotoCrops(scaled_photos(TASK_GREY_PHOTOS, size), size, split, seed=2))


class _Swapped(Dataset):
    def __init__(self, data: Dataset):
        self.data = data

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int):
        a, b = self.data[i]
        return b, a
