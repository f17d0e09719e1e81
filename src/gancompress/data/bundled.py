"""The photographs bundled with scikit-image (``skimage/data/``) and scikit-learn
(``sklearn/datasets/images/``): real images with no download, read from the package folders."""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import torch

from gancompress.data.images import DataError

# skimage.data getters whose file has another name
FILE_NAMES = {"clock": "clock_motion", "immunohistochemistry": "ihc"}


def _folders() -> tuple[Path, ...]:
    import skimage.data
    import sklearn.datasets

    return Path(skimage.data.__file__).parent, Path(sklearn.datasets.__file__).parent / "images"


@functools.lru_cache(maxsize=None)
def bundled_photo(name: str) -> torch.Tensor:
    """Photo `name` (e.g. "astronaut", "china", "brick") as (C, H, W) in [-1, 1]: C = 1 for grey
    photos, 3 for colour ones (an alpha channel is dropped)."""
    from PIL import Image

    stem = FILE_NAMES.get(name, name)
    for folder in _folders():
        for path in (folder / f"{stem}.png", folder / f"{stem}.jpg"):
            if path.is_file():
                with Image.open(path) as img:
                    x = torch.from_numpy(np.array(img)).float() / 127.5 - 1
                return x[None] if x.ndim == 2 else x[..., :3].permute(2, 0, 1).contiguous()
    raise DataError(f"bundled photo {name!r} not found in scikit-image or scikit-learn")
