"""Shared test settings: deterministic, single-threaded-friendly, tiny."""
import os

import pytest
import torch

os.environ.setdefault("TQDM_DISABLE", "1")
torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


# Tiny options per recipe, for registry-parametrised tests. A recipe that needs
# external data gets a fixture-backed entry here; every other one uses TINY_DEFAULT.
TINY_DEFAULT: dict = {}
TINY = {
    "dcgan-digits": {"image_size": 32, "nz": 8, "ngf": 4, "ndf": 4},
    "dcgan-mnist": {"image_size": 32, "nz": 8, "ngf": 4, "ndf": 4, "data_root": "<mnist>"},
}


def write_mnist_fixture(root, n=40, seed=0):
    """Tiny MNIST-format idx files (random strokes) in `root`."""
    import gzip
    import struct

    import numpy as np

    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    for prefix, count in (("train", n), ("t10k", n // 2)):
        images = (rng.random((count, 28, 28)) > 0.8).astype(np.uint8) * 255
        labels = rng.integers(0, 10, count).astype(np.uint8)
        with gzip.open(root / f"{prefix}-images-idx3-ubyte.gz", "wb") as f:
            f.write(struct.pack(">BBBB3I", 0, 0, 8, 3, count, 28, 28) + images.tobytes())
        (root / f"{prefix}-labels-idx1-ubyte").write_bytes(struct.pack(">BBBBI", 0, 0, 8, 1, count) + labels.tobytes())
    return root


@pytest.fixture
def tiny_recipe(tmp_path):
    """Factory: a registered recipe with tiny options (and fixture data when it needs some)."""
    from gancompress.recipes import get_recipe

    def make(name):
        options = dict(TINY.get(name, TINY_DEFAULT))
        if options.get("data_root") == "<mnist>":
            options["data_root"] = str(write_mnist_fixture(tmp_path / "mnist"))
        return get_recipe(name, options)

    return make
