"""Shared test settings: deterministic, single-threaded-friendly, tiny."""
import os

import pytest
import torch

os.environ.setdefault("TQDM_DISABLE", "1")
if os.environ.get("PYTEST_XDIST_WORKER"):  # one of several test processes (pytest -n): a thread each,
    os.environ["OMP_NUM_THREADS"] = "1"  # and each CLI process a test starts
    torch.set_num_threads(1)
else:
    torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def invoke_ok(command, *args) -> str:
    """Run a click command in-process; fail with its output unless it exits 0."""
    from click.testing import CliRunner

    result = CliRunner().invoke(command, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def recipe_option_args(options: dict) -> list[str]:
    """``--set recipe_options.KEY=VALUE`` for each option."""
    return [x for key, value in options.items() for x in ("--set", f"recipe_options.{key}={value}")]


# Tiny options per recipe, for registry-parametrised tests. A recipe that needs
# external data gets a fixture-backed entry here; every other one uses TINY_DEFAULT.
TINY_DEFAULT: dict = {}
TINY = {
    "dcgan-digits": {"image_size": 32, "nz": 8, "ngf": 4, "ndf": 4},
    "dcgan-mnist": {"dataset": "mnist", "image_size": 32, "nz": 8, "ngf": 4, "ndf": 4, "data_root": "<mnist>"},
    "pix2pix-edges": {"image_size": 32, "ngf": 4, "ndf": 4, "n_layers_D": 2},
    "pix2pix-denoise": {"image_size": 32, "ngf": 4, "ndf": 4, "n_layers_D": 2},
    "pix2pix": {"image_size": 32, "load_size": 36, "netG": "unet", "ngf": 4, "ndf": 4, "n_layers_D": 2,
                "data_root": "<aligned>"},
    "cyclegan-photos": {"image_size": 32, "netG": "resnet_2blocks", "ngf": 4, "ndf": 4, "n_layers_D": 2},
    "cyclegan": {"image_size": 32, "load_size": 36, "netG": "resnet_2blocks", "ngf": 4, "ndf": 4, "n_layers_D": 2,
                 "data_root": "<unaligned>"},
    "stargan-textures": {"image_size": 16, "g_conv_dim": 4, "d_conv_dim": 4, "g_repeat_num": 1, "d_repeat_num": 2},
    "stargan-celeba": {"image_size": 16, "crop_size": 20, "g_conv_dim": 4, "d_conv_dim": 4, "g_repeat_num": 1,
                       "d_repeat_num": 2, "data_root": "<celeba>"},
    "srgan-photos": {"hr_crop": 16, "n_feats": 4, "n_blocks": 1, "ndf": 2, "crops_per_image": 2},
    "srgan-div2k": {"hr_crop": 16, "n_feats": 4, "n_blocks": 1, "ndf": 2, "crops_per_image": 2, "fid_patch": 16,
                    "data_root": "<div2k>"},
    "srgan-leftthomas": {"hr_crop": 16, "n_feats": 4, "ndf": 2, "crops_per_image": 2},  # its 5 blocks stay
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


def write_translation_fixture(root, paired, n=6, size=40, seed=0):
    """Random RGB images in the pix2pix (A|B side by side in train/val/test) or CycleGAN
    (trainA/trainB/testA/testB) layout."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    folders = ("train", "val", "test") if paired else ("trainA", "trainB", "testA", "testB")
    for folder in folders:
        (root / folder).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            shape = (size, 2 * size if paired else size, 3)
            Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(root / folder / f"{i}.png")
    return root


CELEBA_ATTRS = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Smiling", "Young")


def write_celeba_fixture(root, n=2010, seed=0):
    """CelebA layout: list_attr_celeba.txt (n lines; the reference holds out 1,999) and tiny JPEGs."""
    import io

    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    (root / "img_align_celeba").mkdir(parents=True, exist_ok=True)
    blobs = []
    for _ in range(4):
        buf = io.BytesIO()
        Image.fromarray(rng.integers(0, 256, (24, 20, 3), dtype=np.uint8)).save(buf, "JPEG")
        blobs.append(buf.getvalue())
    lines = [str(n), " ".join(CELEBA_ATTRS)]
    for i in range(n):
        name = f"{i + 1:06d}.jpg"
        (root / "img_align_celeba" / name).write_bytes(blobs[i % 4])
        lines.append(name + " " + " ".join(rng.choice(["1", "-1"], len(CELEBA_ATTRS))))
    (root / "list_attr_celeba.txt").write_text("\n".join(lines) + "\n")
    return root


def write_div2k_fixture(root, seed=0):
    """DIV2K layout: 3 train HR images, 2 validation HR images with their x4 LR versions."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    for folder, count, size in (("DIV2K_train_HR", 3, 40), ("DIV2K_valid_HR", 2, 36),
                                ("DIV2K_valid_LR_bicubic/X4", 2, 9)):
        (root / folder).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(root / folder / f"{801 + i:04d}.png")
    return root


FIXTURES = {"<celeba>": write_celeba_fixture, "<div2k>": write_div2k_fixture,
            "<mnist>": write_mnist_fixture, "<aligned>": lambda root: write_translation_fixture(root, True),
            "<unaligned>": lambda root: write_translation_fixture(root, False)}


@pytest.fixture
def tiny_recipe(tmp_path):
    """Factory: a registered recipe with tiny options (and fixture data when it needs some)."""
    from gancompress.recipes import get_recipe

    def make(name):
        options = dict(TINY.get(name, TINY_DEFAULT))
        if options.get("data_root") in FIXTURES:
            options["data_root"] = str(FIXTURES[options["data_root"]](tmp_path / options["data_root"].strip("<>")))
        return get_recipe(name, options)

    return make
