"""SRGAN (Ledig et al.): x4 super-resolution with an SRResNet generator and a VGG-style critic.

G: conv9-PReLU, residual blocks (conv3-BN-PReLU-conv3-BN, skip), conv3-BN plus a global
skip, log2(scale) pixel-shuffle x2 stages, conv9, tanh. D: conv3 blocks doubling the
channels every second block and halving the size at every other, BN, LeakyReLU(0.2),
then a dense head (global pooling and 1x1 convs, so any crop size works).

Losses with the paper's weights: G: content (MSE by default; VGG54 features when the user
gives VGG19 weights) and adv (1e-3, BCE); D: real, fake (BCE). Adam(1e-4, 0.9).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Iterator, Mapping

import torch
from torch import nn
from torch.utils.data import Dataset

from gancompress.recipes.base import RECIPES, Batch, EvalContext, Recipe, Terms
from gancompress.recipes.losses import bce_on_logits, mse


class ResidualBlock(nn.Module):
    def __init__(self, nf: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(nf, nf, 3, 1, 1), nn.BatchNorm2d(nf), nn.PReLU(),
                                  nn.Conv2d(nf, nf, 3, 1, 1), nn.BatchNorm2d(nf))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class Generator(nn.Module):
    """SRResNet: LR (N, 3, h, w) in [-1, 1] -> SR (N, 3, scale*h, scale*w) in [-1, 1]."""

    def __init__(self, n_feats: int = 64, n_blocks: int = 16, scale: int = 4):
        super().__init__()
        self.head = nn.Sequential(nn.Conv2d(3, n_feats, 9, 1, 4), nn.PReLU())  # (N, nf, h, w)
        self.body = nn.Sequential(*[ResidualBlock(n_feats) for _ in range(n_blocks)])
        self.body_end = nn.Sequential(nn.Conv2d(n_feats, n_feats, 3, 1, 1), nn.BatchNorm2d(n_feats))
        ups: list[nn.Module] = []
        for _ in range(int(math.log2(scale))):  # each: (N, nf, h, w) -> (N, 4nf, h, w) -> (N, nf, 2h, 2w)
            ups += [nn.Conv2d(n_feats, 4 * n_feats, 3, 1, 1), nn.PixelShuffle(2), nn.PReLU()]
        self.upsample = nn.Sequential(*ups)
        self.tail = nn.Conv2d(n_feats, 3, 9, 1, 4)  # (N, 3, H, W)

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        h = self.head(lr)
        h = h + self.body_end(self.body(h))
        return torch.tanh(self.tail(self.upsample(h)))


class Discriminator(nn.Module):
    """HR image (N, 3, H, W) -> real/fake logit (N, 1, 1, 1)."""

    def __init__(self, ndf: int = 64):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(3, ndf, 3, 1, 1), nn.LeakyReLU(0.2, True)]
        cin = ndf
        for i, (cout, stride) in enumerate([(ndf, 2), (2 * ndf, 1), (2 * ndf, 2), (4 * ndf, 1), (4 * ndf, 2),
                                            (8 * ndf, 1), (8 * ndf, 2)]):  # H, W halved 4 times
            layers += [nn.Conv2d(cin, cout, 3, stride, 1), nn.BatchNorm2d(cout), nn.LeakyReLU(0.2, True)]
            cin = cout
        layers += [nn.AdaptiveAvgPool2d(1), nn.Conv2d(cin, 16 * ndf, 1), nn.LeakyReLU(0.2, True),  # dense 1024
                   nn.Conv2d(16 * ndf, 1, 1)]  # (N, 1, 1, 1)
        self.main = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x)


class VGGFeatures(nn.Module):
    """VGG19 up to relu5_4 ("VGG54"), torchvision's ``features.N`` keys; weights loaded weights-only."""

    CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512)
    RESCALE = 1 / 12.75**2  # the paper's rescaling of VGG feature maps

    def __init__(self, weights: str | Path):
        super().__init__()
        from gancompress.io import load_into, load_state_dict_file

        layers: list[nn.Module] = []
        cin = 3
        for v in self.CFG:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(cin, v, 3, padding=1), nn.ReLU(inplace=False)]
                cin = v
        self.features = nn.Sequential(*layers)
        state = {k: v for k, v in load_state_dict_file(weights).items() if k.startswith("features.")}
        load_into(self, state, f"VGG19 weights {Path(weights).name}")
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1), persistent=False)
        self.eval().requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(((x + 1) / 2 - self.mean) / self.std)


@dataclass(frozen=True)
class SRGANOptions:
    dataset: str = "photos"  # photos (built in) | div2k (data_root = DIV2K root) | folder (data_root = HR images)
    data_root: str | None = None
    eval_sets: tuple[str, ...] = ()  # more evaluation sets: "set5=HR_DIR" or "set14=HR_DIR,LR_DIR"
    scale: int = 4
    hr_crop: int = 48  # HR training crop (the paper: 96)
    crops_per_image: int = 200  # training items per image and epoch
    n_feats: int = 32
    n_blocks: int = 6
    ndf: int = 16
    content: str = "mse"  # mse | vgg (needs vgg_weights)
    vgg_weights: str | None = None  # VGG19 state dict (torchvision keys features.N.*), .safetensors or .pth
    fid_patch: int = 32  # FID compares non-overlapping patches of this size of SR and HR images
    max_fid_patches: int = 5000

    def __post_init__(self) -> None:
        if self.dataset not in ("photos", "div2k", "folder"):
            raise ValueError(f"dataset={self.dataset!r}: valid: photos, div2k, folder")
        if self.dataset != "photos" and not self.data_root:
            raise ValueError(f"dataset={self.dataset} needs data_root (a DIV2K root or a folder of HR images)")
        if self.scale not in (2, 4, 8):
            raise ValueError(f"scale={self.scale}: valid: 2, 4, 8")
        if self.hr_crop % self.scale or self.hr_crop < 16:
            raise ValueError(f"hr_crop={self.hr_crop}: must be >= 16 and a multiple of scale={self.scale}")
        for name in ("n_feats", "n_blocks", "ndf", "crops_per_image", "fid_patch", "max_fid_patches"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)}: must be >= 1")
        if self.content not in ("mse", "vgg"):
            raise ValueError(f"content={self.content!r}: valid: mse, vgg")
        if self.content == "vgg" and not self.vgg_weights:
            raise ValueError("content=vgg needs vgg_weights (a VGG19 state dict file)")
        from gancompress.data.sr import parse_eval_spec

        for spec in self.eval_sets:
            parse_eval_spec(spec)


@RECIPES.register("srgan-photos")
class SRGANRecipe(Recipe):
    """SRGAN x4 on real photos bundled with scikit-image/scikit-learn (3 held out); MSE content + 1e-3 adv."""

    Options = SRGANOptions
    g_weights = {"content": 1.0, "adv": 1e-3}
    d_weights = {"real": 1.0, "fake": 1.0}
    lr_g = 1e-4
    lr_d = 1e-4
    betas = (0.9, 0.999)
    default_feature_net = "photo-patches"
    display_legend = "bicubic, SR, HR in turn"
    width_options = ("n_feats",)

    @cached_property
    def vgg(self) -> VGGFeatures | None:
        return VGGFeatures(self.opt.vgg_weights) if self.opt.content == "vgg" else None

    def build_generators(self) -> nn.ModuleDict:
        return nn.ModuleDict({"G": Generator(self.opt.n_feats, self.opt.n_blocks, self.opt.scale)})

    def build_discriminators(self) -> nn.ModuleDict:
        return nn.ModuleDict({"D": Discriminator(self.opt.ndf)})

    # -- data -------------------------------------------------------------------------
    def dataset(self, split: str) -> Dataset:
        from gancompress.data import sr

        o = self.opt
        if split not in ("train", "test"):
            raise ValueError(f"unknown split {split!r}; valid: train, test")
        if split == "test":  # the first evaluation set, as crops
            ev = self.eval_sets[0]
            return sr.HRCrops(ev.hr, o.hr_crop, o.scale, per_image=8, seed=1)
        if o.dataset == "photos":
            return sr.photo_crops(o.hr_crop, o.scale, o.crops_per_image)
        from gancompress.data.images import list_images

        root = sr.div2k_paths(o.data_root, o.scale)[0] if o.dataset == "div2k" else Path(o.data_root)
        files = list_images(root)
        return sr.HRCrops(sr.ImageFiles(files, cache=len(files) <= 64), o.hr_crop, o.scale, o.crops_per_image)

    @cached_property
    def eval_sets(self) -> list:
        """The evaluation sets: the built-in held-out photos or DIV2K validation, then `eval_sets`."""
        from gancompress.data import sr

        o = self.opt
        sets = []
        if o.dataset == "photos":
            sets.append(sr.photo_eval_set(o.scale))
        elif o.dataset == "div2k":
            _, valid, lr = sr.div2k_paths(o.data_root, o.scale)
            sets.append(sr.folder_eval_set("div2k", valid, o.scale, lr))
        for spec in o.eval_sets:
            name, hr_dir, lr_dir = sr.parse_eval_spec(spec)
            sets.append(sr.folder_eval_set(name, hr_dir, o.scale, lr_dir))
        if not sets:
            raise ValueError("no evaluation set: dataset=folder needs recipe_options.eval_sets")
        return sets

    def make_batch(self, items, rng: torch.Generator) -> Batch:
        hr, lr = items
        flip = (torch.rand(hr.shape[0], generator=rng) < 0.5)[:, None, None, None]  # random horizontal flips
        return {"hr": torch.where(flip, hr.flip(-1), hr), "lr": torch.where(flip, lr.flip(-1), lr)}

    # -- forward and losses -----------------------------------------------------------
    def generate(self, gens: nn.ModuleDict, batch: Batch) -> dict[str, torch.Tensor]:
        return {"sr": gens["G"](batch["lr"])}

    def content_loss(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        if self.vgg is None:
            return mse(sr, hr)
        vgg = self.vgg.to(sr.device)
        return mse(vgg(sr), vgg(hr).detach()) * VGGFeatures.RESCALE

    def generator_terms(self, gens, discs, batch, out) -> Terms:
        return {"content": self.content_loss(out["sr"], batch["hr"]), "adv": bce_on_logits(discs["D"](out["sr"]), 1.0)}

    def discriminator_terms(self, discs, batch, out) -> Terms:
        return {"real": bce_on_logits(discs["D"](batch["hr"]), 1.0), "fake": bce_on_logits(discs["D"](out["sr"]), 0.0)}

    def teacher_as_data(self, batch: Batch, out: Mapping[str, torch.Tensor]) -> Batch:
        return {**batch, "hr": out["sr"].detach()}

    # -- evaluation -------------------------------------------------------------------
    def eval_batches(self, n: int, seed: int, batch_size: int = 250) -> Iterator[Batch]:
        """Fixed crops of the first evaluation set (for pictures; metrics use whole images)."""
        from gancompress.data.sr import HRCrops

        crops = HRCrops(self.eval_sets[0].hr, self.opt.hr_crop, self.opt.scale, per_image=max(1, n), seed=seed)
        for start in range(0, n, batch_size):
            hr, lr = zip(*(crops[i] for i in range(start, min(n, start + batch_size))))
            yield {"hr": torch.stack(hr), "lr": torch.stack(lr)}

    @torch.no_grad()
    def evaluate(self, gens: nn.ModuleDict, ctx: EvalContext) -> dict:
        """PSNR / SSIM (Y channel, `scale`-px border cropped) and FID on patches, per evaluation set."""
        sets = self.eval_sets
        metrics: dict = {"features": ctx.feature_net.description}
        for ev in sets:
            m = self.evaluate_set(gens, ev, ctx)
            metrics.update(m if len(sets) == 1 else {f"{k}_{ev.name}": v for k, v in m.items()})
        return metrics

    def baseline(self) -> tuple[str, nn.ModuleDict]:
        from gancompress.recipes.baselines import Bicubic

        return f"bicubic x{self.opt.scale} upsampling", nn.ModuleDict({"G": Bicubic(self.opt.scale)})

    @torch.no_grad()
    def real_metrics(self, ctx: EvalContext) -> dict:
        """FID/KID between two disjoint halves of each evaluation set's HR patches (alternate patches): the
        floor of the patch FID at this sample size (PSNR/SSIM of an image with itself say nothing)."""
        from gancompress.data.images import grid_patches
        from gancompress.metrics.generative import fid_kid

        metrics: dict = {"features": ctx.feature_net.description}
        for ev in self.eval_sets:
            patches = torch.cat([grid_patches(hr, self.opt.fid_patch) for hr in ev.hr[:ctx.n_samples]])
            m = fid_kid(patches[0::2], patches[1::2], ctx.feature_net)
            metrics.update(m if len(self.eval_sets) == 1 else {f"{k}_{ev.name}": v for k, v in m.items()})
        return metrics

    def evaluate_set(self, gens: nn.ModuleDict, ev, ctx: EvalContext) -> dict:
        from gancompress.data.images import grid_patches, spread_indices
        from gancompress.metrics import psnr_ssim
        from gancompress.metrics.generative import fid_kid

        o = self.opt
        scores, sr_patches, hr_patches = [], [], []
        hrs, lrs = ev.hr[:ctx.n_samples], ev.lr[:ctx.n_samples]
        for hr, (_, out) in zip(hrs, self.eval_outputs(gens, ctx, batches=({"lr": lr[None]} for lr in lrs))):
            sr = out["sr"]
            scores.append(psnr_ssim(sr, hr[None], y_channel=True, crop=o.scale))
            sr_patches.append(grid_patches(sr[0], o.fid_patch))
            hr_patches.append(grid_patches(hr, o.fid_patch))
        sr_p, hr_p = torch.cat(sr_patches), torch.cat(hr_patches)
        sr_p, hr_p = sr_p[spread_indices(len(sr_p), o.max_fid_patches)], hr_p[spread_indices(len(hr_p), o.max_fid_patches)]
        fid = fid_kid(hr_p, sr_p, ctx.feature_net)
        return {"psnr": sum(s["psnr"] for s in scores) / len(scores), "ssim": sum(s["ssim"] for s in scores) / len(scores),
                "fid": fid["fid"], "kid": fid["kid"], "n_images": len(scores), "n_patches": len(sr_p)}

    def display(self, batch: Batch, out: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Bicubic upsampling, SR output and HR target, interleaved."""
        import torch.nn.functional as F

        up = F.interpolate(batch["lr"], size=batch["hr"].shape[-2:], mode="bicubic", align_corners=False)
        return torch.stack([up.clamp(-1, 1), out["sr"].clamp(-1, 1), batch["hr"]], 1).flatten(0, 1)


@dataclass(frozen=True)
class SRGANDiv2kOptions(SRGANOptions):
    dataset: str = "div2k"
    hr_crop: int = 96
    n_feats: int = 64
    n_blocks: int = 16
    ndf: int = 64
    fid_patch: int = 64


@RECIPES.register("srgan-div2k")
class SRGANDiv2kRecipe(SRGANRecipe):
    """SRGAN x4 on DIV2K (the paper's setting); data_root = DIV2K root, Set5/Set14 via eval_sets."""

    Options = SRGANDiv2kOptions


# -- leftthomas/SRGAN's layout -------------------------------------------------------------
# The most used public PyTorch SRGAN saves `epochs/netG_epoch_{scale}_{epoch}.pth` and
# `netD_epoch_...` state dicts of networks that take images in [0, 1] and whose generator
# returns (tanh + 1) / 2. These modules carry its attribute names (so its files load strictly
# and our students load back into its unmodified classes) and convert at the boundary:
# our images stay in [-1, 1], so scores mean here what they mean there.
class _ReferenceResidual(nn.Module):
    def __init__(self, nf: int):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(nf, nf, 3, padding=1), nn.BatchNorm2d(nf)
        self.prelu = nn.PReLU()
        self.conv2, self.bn2 = nn.Conv2d(nf, nf, 3, padding=1), nn.BatchNorm2d(nf)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.bn2(self.conv2(self.prelu(self.bn1(self.conv1(x)))))


class _ReferenceUpsample(nn.Module):
    def __init__(self, nf: int):
        super().__init__()
        self.conv = nn.Conv2d(nf, 4 * nf, 3, padding=1)  # (N, 4nf, h, w)
        self.pixel_shuffle = nn.PixelShuffle(2)  # (N, nf, 2h, 2w)
        self.prelu = nn.PReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.prelu(self.pixel_shuffle(self.conv(x)))


class ReferenceGenerator(nn.Module):
    """leftthomas/SRGAN's generator (5 residual blocks, 64 channels): LR in [-1, 1] -> SR in [-1, 1]."""

    N_BLOCKS = 5  # block2 ... block6 in its key names

    def __init__(self, scale: int = 4, n_feats: int = 64):
        super().__init__()
        self.block1 = nn.Sequential(nn.Conv2d(3, n_feats, 9, padding=4), nn.PReLU())  # (N, nf, h, w)
        for i in range(self.N_BLOCKS):
            setattr(self, f"block{2 + i}", _ReferenceResidual(n_feats))
        self.block7 = nn.Sequential(nn.Conv2d(n_feats, n_feats, 3, padding=1), nn.BatchNorm2d(n_feats))
        ups = [_ReferenceUpsample(n_feats) for _ in range(int(math.log2(scale)))]  # (N, nf, H, W)
        self.block8 = nn.Sequential(*ups, nn.Conv2d(n_feats, 3, 9, padding=4))  # (N, 3, H, W)

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        head = self.block1((lr + 1) / 2)  # its inputs are in [0, 1]
        h = head
        for i in range(self.N_BLOCKS):
            h = getattr(self, f"block{2 + i}")(h)
        return torch.tanh(self.block8(head + self.block7(h)))  # = 2 * its output - 1


class ReferenceDiscriminator(nn.Module):
    """leftthomas/SRGAN's critic (keys ``net.N``): image in [-1, 1] -> the logit it takes the sigmoid of."""

    def __init__(self, ndf: int = 64):
        super().__init__()
        self.net = Discriminator(ndf).main  # the same layer sequence, under its attribute name
        for m in self.net:
            if isinstance(m, nn.LeakyReLU):
                m.inplace = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x + 1) / 2)  # (N, 1, 1, 1)


@dataclass(frozen=True)
class SRGANReferenceOptions(SRGANOptions):
    n_feats: int = 64
    n_blocks: int = ReferenceGenerator.N_BLOCKS
    ndf: int = 64

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.n_blocks != ReferenceGenerator.N_BLOCKS:
            raise ValueError(f"n_blocks={self.n_blocks}: leftthomas/SRGAN's generator has "
                             f"{ReferenceGenerator.N_BLOCKS} residual blocks")


@RECIPES.register("srgan-leftthomas")
class SRGANReferenceRecipe(SRGANRecipe):
    """SRGAN with leftthomas/SRGAN's networks and files (netG_epoch_4_N.pth); its [0, 1] range converted."""

    Options = SRGANReferenceOptions
    checkpoint_aliases = {"G": ("netG_epoch_*.pth",), "D": ("netD_epoch_*.pth",)}

    def build_generators(self) -> nn.ModuleDict:
        return nn.ModuleDict({"G": ReferenceGenerator(self.opt.scale, self.opt.n_feats)})

    def build_discriminators(self) -> nn.ModuleDict:
        return nn.ModuleDict({"D": ReferenceDiscriminator(self.opt.ndf)})
