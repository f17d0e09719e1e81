"""pix2pix (Isola et al.): paired image translation with a conditional PatchGAN and L1.

Terms as in junyanz/pytorch-CycleGAN-and-pix2pix: G minimises adv + 100 * L1(G(x), y);
D scores (input, image) pairs and its loss is halved (0.5 * (real + fake)). Networks and
state-dict keys follow the reference (`translation_nets`), so its ``latest_net_G.pth`` /
``latest_net_D.pth`` load as they are.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping

import torch
from torch import nn
from torch.utils.data import Dataset

from gancompress.recipes.base import RECIPES, Batch, EvalContext, Recipe, Terms, gathered
from gancompress.recipes.losses import l1
from gancompress.recipes.translation_nets import (TranslationOptions, adversarial, build_discriminator,
                                                  build_generator, first_items, side_by_side)

EVAL_SPLITS = ("test", "val")
# sigma 0.5 / 0.75 / 1.0 / 1.5 on the held-out crops: PSNR 24.09 / 26.85 / 27.47 / 27.55 dB, FID 563 / 111 / 55 / 93:
# 1.0 is within 0.1 dB of the best PSNR and far the best FID
DENOISE_BASELINE_SIGMA = 1.0


@dataclass(frozen=True)
class Pix2PixOptions(TranslationOptions):
    # edges -> photo, noisy -> clean crops of the bundled photographs (gancompress.data.photo_tasks)
    BUILT_IN = ("edges", "denoise")
    dataset: str = "edges"
    direction: str = "AtoB"  # AtoB: A (left half / edge map) is the input
    eval_split: str = "test"  # folder data: test | val
    input_nc: int = 1
    output_nc: int = 3
    ngf: int = 16
    ndf: int = 32
    use_dropout: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.direction not in ("AtoB", "BtoA"):
            raise ValueError(f"direction={self.direction!r}: valid: AtoB, BtoA")
        if self.eval_split not in EVAL_SPLITS:
            raise ValueError(f"eval_split={self.eval_split!r}: valid: {', '.join(EVAL_SPLITS)}")
        if self.dataset == "denoise" and self.direction != "AtoB":
            raise ValueError("dataset=denoise: direction must be AtoB (noisy -> clean)")
        if self.dataset in self.BUILT_IN:
            want = (1, 3) if self.dataset == "edges" else (3, 3)
            want = want if self.direction == "AtoB" else want[::-1]
            if (self.input_nc, self.output_nc) != want:
                raise ValueError(f"dataset={self.dataset}, direction={self.direction}: input_nc, output_nc "
                                 f"must be {want}")


@RECIPES.register("pix2pix-edges")
class Pix2PixRecipe(Recipe):
    """pix2pix on edges -> photo crops (64 px) of the bundled photographs: U-Net, PatchGAN, GAN + 100 L1."""

    Options = Pix2PixOptions
    g_weights = {"adv": 1.0, "l1": 100.0}
    d_weights = {"real": 0.5, "fake": 0.5}
    display_legend = "each tile is input | output | target"
    width_options = ("ngf",)
    default_feature_net = "photo-patches"
    checkpoint_aliases = {"G": ("latest_net_G.pth", "*_net_G.pth"), "D": ("latest_net_D.pth", "*_net_D.pth")}

    def build_generators(self) -> nn.ModuleDict:
        o = self.opt
        return nn.ModuleDict({"G": build_generator(o.netG, o.input_nc, o.output_nc, o.ngf, o.norm, o.use_dropout,
                                                   o.image_size)})

    def build_discriminators(self) -> nn.ModuleDict:
        o = self.opt  # conditional: D sees the input and the (real or generated) output stacked
        return nn.ModuleDict({"D": build_discriminator(o.input_nc + o.output_nc, o.ndf, o.n_layers_D, o.norm)})

    def dataset(self, split: str) -> Dataset:
        o = self.opt
        if o.dataset == "folder":
            from gancompress.data.aligned import AlignedDataset

            return AlignedDataset(Path(o.data_root), "train" if split == "train" else o.eval_split, o.transform(),
                                  o.direction, o.input_nc, o.output_nc, o.repeats)
        from gancompress.data.photo_tasks import denoising, edges_to_photo

        split = "train" if split == "train" else "test"
        if o.dataset == "denoise":
            return denoising(split, o.image_size)
        return edges_to_photo(split, o.image_size, o.direction)

    def make_batch(self, items, rng: torch.Generator) -> Batch:
        source, target = items
        return {"input": source, "target": target}

    def generate(self, gens: nn.ModuleDict, batch: Batch) -> dict[str, torch.Tensor]:
        return {"fake": gens["G"](batch["input"])}

    def _scores(self, discs: nn.ModuleDict, batch: Batch, image: torch.Tensor) -> torch.Tensor:
        return discs["D"](image, batch["input"])

    def generator_terms(self, gens, discs, batch, out) -> Terms:
        return {"adv": adversarial(self._scores(discs, batch, out["fake"]), 1.0, self.opt.gan_mode),
                "l1": l1(out["fake"], batch["target"])}

    def discriminator_terms(self, discs, batch, out) -> Terms:
        mode = self.opt.gan_mode
        return {"real": adversarial(self._scores(discs, batch, batch["target"]), 1.0, mode),
                "fake": adversarial(self._scores(discs, batch, out["fake"]), 0.0, mode)}

    def teacher_as_data(self, batch: Batch, out: Mapping[str, torch.Tensor]) -> Batch:
        return {**batch, "target": out["fake"].detach()}

    def eval_batches(self, n: int, seed: int, batch_size: int = 250) -> Iterator[Batch]:
        """The first n held-out pairs (fixed; `seed` is not needed: nothing is random)."""
        for source, target in first_items(self.dataset("test"), n, batch_size):
            yield {"input": source, "target": target}

    @torch.no_grad()
    def evaluate(self, gens: nn.ModuleDict, ctx: EvalContext) -> dict:
        """FID/KID of outputs vs the held-out targets, and PSNR/SSIM against each target."""
        from gancompress.metrics import evaluate_generated, psnr_ssim

        got = gathered(self.eval_outputs(gens, ctx), "fake", "target")
        fake, real = got["fake"], got["target"]
        return {**evaluate_generated(real, fake, ctx.feature_net), **psnr_ssim(fake, real)}

    def baseline(self) -> tuple[str, nn.ModuleDict]:
        from gancompress.recipes.baselines import Passthrough

        return "input: the condition image itself as the output", \
            nn.ModuleDict({"G": Passthrough(self.opt.output_nc)})

    @torch.no_grad()
    def real_metrics(self, ctx: EvalContext) -> dict:
        """FID/KID between two disjoint halves of the held-out targets (alternate crops): the floor of the
        FID at this sample size (PSNR/SSIM of a target with itself say nothing)."""
        from gancompress.metrics.generative import fid_kid

        held_out = gathered(self.eval_outputs(nn.ModuleDict(), ctx, forward=lambda g, b: {}), "target")["target"]
        return fid_kid(held_out[0::2], held_out[1::2], ctx.feature_net)

    def display(self, batch: Batch, out: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """input | output | target, side by side."""
        return side_by_side(batch["input"], out["fake"], batch["target"])


@dataclass(frozen=True)
class Pix2PixDenoiseOptions(Pix2PixOptions):
    dataset: str = "denoise"
    input_nc: int = 3


@RECIPES.register("pix2pix-denoise")
class Pix2PixDenoiseRecipe(Pix2PixRecipe):
    """pix2pix on noisy -> clean crops (64 px) of the bundled photographs: a well-posed paired task."""

    Options = Pix2PixDenoiseOptions

    def baseline(self) -> tuple[str, nn.ModuleDict]:
        from gancompress.recipes.baselines import GaussianSmoothing

        return f"gaussian smoothing (sigma {DENOISE_BASELINE_SIGMA} px) of the noisy input", \
            nn.ModuleDict({"G": GaussianSmoothing(DENOISE_BASELINE_SIGMA)})


@dataclass(frozen=True)
class Pix2PixFolderOptions(Pix2PixOptions):
    dataset: str = "folder"
    image_size: int = 256
    load_size: int | None = 286
    input_nc: int = 3
    ngf: int = 64
    ndf: int = 64
    netG: str = "unet_256"


@RECIPES.register("pix2pix")
class Pix2PixFolderRecipe(Pix2PixRecipe):
    """pix2pix on your aligned A|B images (data_root/{train,val,test}); the reference's defaults (256 px)."""

    Options = Pix2PixFolderOptions
