"""CycleGAN (Zhu et al.): unpaired translation with two generators and two PatchGANs.

As in junyanz/pytorch-CycleGAN-and-pix2pix: G_A maps A -> B and is judged by D_A, G_B maps
B -> A and is judged by D_B; LSGAN; cycle weight 10, identity weight 0.5 * 10; each D's
loss is halved; D updates see fakes drawn from a 50-image pool per domain. Networks and
keys follow the reference, so ``latest_net_G_A.pth`` ... ``latest_net_D_B.pth`` load as they are.

Term names (the reference's): ``adv_A`` = D_A(G_A(A)) -> real, ``cycle_A`` = |G_B(G_A(A)) - A|,
``idt_A`` = |G_A(B) - B|, and the mirrored ``*_B``. Discriminator terms are named after the
images scored: ``real_B``/``fake_B`` by D_A, ``real_A``/``fake_A`` by D_B.
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


class ImagePool:
    """The reference's history of generated images: once full, each query image is swapped with
    probability 1/2 for a random stored one (which it replaces). Draws use torch's global RNG."""

    def __init__(self, size: int):
        self.size = size
        self.images: list[torch.Tensor] = []

    def query(self, images: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return images
        out = []
        for image in images.detach():
            if len(self.images) < self.size:
                self.images.append(image)
                out.append(image)
            elif bool(torch.rand(()) < 0.5):
                i = int(torch.randint(self.size, ()))
                out.append(self.images[i])
                self.images[i] = image
            else:
                out.append(image)
        return torch.stack(out)

    def state_dict(self) -> dict:
        return {"images": torch.stack(self.images) if self.images else torch.empty(0)}

    def load_state_dict(self, state: Mapping) -> None:
        self.images = list(state["images"].unbind(0)) if state["images"].numel() else []


@dataclass(frozen=True)
class CycleGANOptions(TranslationOptions):
    BUILT_IN = ("photos",)  # colour <-> black-and-white photo crops (gancompress.data.photo_tasks)
    dataset: str = "photos"
    netG: str = "resnet_6blocks"
    ngf: int = 16
    ndf: int = 32
    norm: str = "instance"
    gan_mode: str = "lsgan"
    pool_size: int = 50

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.input_nc != self.output_nc:
            raise ValueError(f"input_nc={self.input_nc}, output_nc={self.output_nc}: the identity terms need them equal")
        if self.pool_size < 0:
            raise ValueError(f"pool_size={self.pool_size}: must be >= 0")
        if self.dataset == "photos" and self.input_nc != 3:
            raise ValueError(f"dataset=photos has 3-channel images; input_nc={self.input_nc}")


@RECIPES.register("cyclegan-photos")
class CycleGANRecipe(Recipe):
    """CycleGAN on colour <-> black-and-white photo crops (64 px): two ResNet generators, LSGAN, cycle + identity."""

    Options = CycleGANOptions
    g_weights = {"adv_A": 1.0, "adv_B": 1.0, "cycle_A": 10.0, "cycle_B": 10.0, "idt_A": 5.0, "idt_B": 5.0}
    d_weights = {"real_B": 0.5, "fake_B": 0.5, "real_A": 0.5, "fake_A": 0.5}
    display_legend = "each tile is real | translated | reconstructed, A and B tiles alternating"
    width_options = ("ngf",)
    default_feature_net = "photo-patches"
    checkpoint_aliases = {k: (f"latest_net_{k}.pth", f"*_net_{k}.pth") for k in ("G_A", "G_B", "D_A", "D_B")}

    def __init__(self, options=None):
        super().__init__(options)
        self.pools = {"A": ImagePool(self.opt.pool_size), "B": ImagePool(self.opt.pool_size)}

    def state_dict(self) -> dict:
        """The image pools: a resumed run draws the fakes an uninterrupted one would."""
        return {f"pool_{k}": pool.state_dict() for k, pool in self.pools.items()}

    def load_state_dict(self, state: Mapping) -> None:
        for k, pool in self.pools.items():
            pool.load_state_dict(state[f"pool_{k}"])

    def build_generators(self) -> nn.ModuleDict:
        o = self.opt
        make = lambda: build_generator(o.netG, o.input_nc, o.output_nc, o.ngf, o.norm, o.use_dropout, o.image_size)
        return nn.ModuleDict({"G_A": make(), "G_B": make()})

    def build_discriminators(self) -> nn.ModuleDict:
        o = self.opt
        return nn.ModuleDict({"D_A": build_discriminator(o.output_nc, o.ndf, o.n_layers_D, o.norm),
                              "D_B": build_discriminator(o.input_nc, o.ndf, o.n_layers_D, o.norm)})

    def dataset(self, split: str) -> Dataset:
        o = self.opt
        if o.dataset == "folder":
            from gancompress.data.unaligned import UnalignedDataset

            return UnalignedDataset(Path(o.data_root), "train" if split == "train" else "test", o.transform(),
                                    o.input_nc, o.output_nc, o.repeats)
        from gancompress.data.photo_tasks import colour_and_grey

        return colour_and_grey("train" if split == "train" else "test", o.image_size)

    def make_batch(self, items, rng: torch.Generator) -> Batch:
        a, b = items
        return {"A": a, "B": b}

    def generate(self, gens: nn.ModuleDict, batch: Batch) -> dict[str, torch.Tensor]:
        a, b = batch["A"], batch["B"]
        fake_b, fake_a = gens["G_A"](a), gens["G_B"](b)
        return {"fake_B": fake_b, "rec_A": gens["G_B"](fake_b), "fake_A": fake_a, "rec_B": gens["G_A"](fake_a),
                "idt_A": gens["G_A"](b), "idt_B": gens["G_B"](a)}

    def generator_terms(self, gens, discs, batch, out) -> Terms:
        mode = self.opt.gan_mode
        return {"adv_A": adversarial(discs["D_A"](out["fake_B"]), 1.0, mode),
                "adv_B": adversarial(discs["D_B"](out["fake_A"]), 1.0, mode),
                "cycle_A": l1(out["rec_A"], batch["A"]), "cycle_B": l1(out["rec_B"], batch["B"]),
                "idt_A": l1(out["idt_A"], batch["B"]), "idt_B": l1(out["idt_B"], batch["A"])}

    def discriminator_terms(self, discs, batch, out) -> Terms:
        """Real examples are batch["real_A"/"real_B"] when present (see teacher_as_data), else the inputs."""
        mode = self.opt.gan_mode
        real_a, real_b = batch.get("real_A", batch["A"]), batch.get("real_B", batch["B"])
        return {"real_B": adversarial(discs["D_A"](real_b), 1.0, mode),
                "fake_B": adversarial(discs["D_A"](out["fake_B"]), 0.0, mode),
                "real_A": adversarial(discs["D_B"](real_a), 1.0, mode),
                "fake_A": adversarial(discs["D_B"](out["fake_A"]), 0.0, mode)}

    def fakes_for_d_update(self, out: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        fakes = {k: v.detach() for k, v in out.items()}
        fakes["fake_B"] = self.pools["B"].query(fakes["fake_B"])
        fakes["fake_A"] = self.pools["A"].query(fakes["fake_A"])
        return fakes

    def teacher_as_data(self, batch: Batch, out: Mapping[str, torch.Tensor]) -> Batch:
        return {**batch, "real_B": out["fake_B"].detach(), "real_A": out["fake_A"].detach()}

    def eval_batches(self, n: int, seed: int, batch_size: int = 250) -> Iterator[Batch]:
        """The first n held-out (A, B) items (fixed; `seed` is not needed: nothing is random)."""
        for a, b in first_items(self.dataset("test"), n, batch_size):
            yield {"A": a, "B": b}

    @torch.no_grad()
    def evaluate(self, gens: nn.ModuleDict, ctx: EvalContext) -> dict:
        """FID/KID per direction (G_A(A) vs held-out B: ``fid_A2B``; ``fid_B2A``) and their mean ``fid``."""
        from gancompress.metrics.generative import features_of, fid_kid_of_features

        def translate(gens: nn.ModuleDict, b: Batch) -> dict[str, torch.Tensor]:  # no cycles needed here
            return {"fake_B": gens["G_A"](b["A"]), "fake_A": gens["G_B"](b["B"])}

        parts = gathered(self.eval_outputs(gens, ctx, forward=translate), "A", "B", "fake_B", "fake_A")
        feats = {k: features_of(v, ctx.feature_net) for k, v in parts.items()}
        metrics: dict = {"features": ctx.feature_net.description, "n_real": len(feats["A"])}
        for direction, real, fake in (("A2B", "B", "fake_B"), ("B2A", "A", "fake_A")):
            for key, value in fid_kid_of_features(feats[real], feats[fake]).items():
                metrics[f"{key}_{direction}"] = value
        metrics["fid"] = (metrics["fid_A2B"] + metrics["fid_B2A"]) / 2
        metrics["kid"] = (metrics["kid_A2B"] + metrics["kid_B2A"]) / 2
        return metrics

    def baseline(self) -> tuple[str, nn.ModuleDict]:
        from gancompress.recipes.baselines import Desaturate, Passthrough

        if self.opt.dataset == "photos":  # colour -> black and white is desaturation; the reverse has none
            return "desaturation (A -> B); the black-and-white input as it is (B -> A)", \
                nn.ModuleDict({"G_A": Desaturate(), "G_B": Passthrough(3)})
        return "identity: every input unchanged", \
            nn.ModuleDict({"G_A": Passthrough(self.opt.output_nc), "G_B": Passthrough(self.opt.input_nc)})

    @torch.no_grad()
    def real_metrics(self, ctx: EvalContext) -> dict:
        """Per domain, as many training images as held-out ones against the held-out images
        (``fid_A2B``: training B vs held-out B, as G_A's outputs are compared with held-out B)."""
        from gancompress.metrics.generative import features_of, fid_kid_of_features

        held_out = gathered(self.eval_outputs(nn.ModuleDict(), ctx, forward=lambda g, b: {}), "A", "B")
        a, b = next(iter(first_items(self.dataset("train"), len(held_out["A"]), len(held_out["A"]))))
        metrics: dict = {"features": ctx.feature_net.description, "n_real": len(held_out["A"])}
        for direction, domain, train in (("A2B", "B", b), ("B2A", "A", a)):
            scores = fid_kid_of_features(features_of(held_out[domain], ctx.feature_net),
                                         features_of(train, ctx.feature_net))
            metrics.update({f"{key}_{direction}": value for key, value in scores.items()})
        metrics["fid"] = (metrics["fid_A2B"] + metrics["fid_B2A"]) / 2
        metrics["kid"] = (metrics["kid_A2B"] + metrics["kid_B2A"]) / 2
        return metrics

    def display(self, batch: Batch, out: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Alternating tiles: real A | G_A(A) | G_B(G_A(A)) and real B | G_B(B) | G_A(G_B(B))."""
        a2b = side_by_side(batch["A"], out["fake_B"], out["rec_A"])
        b2a = side_by_side(batch["B"], out["fake_A"], out["rec_B"])
        return torch.stack([a2b, b2a], 1).flatten(0, 1)


@dataclass(frozen=True)
class CycleGANFolderOptions(CycleGANOptions):
    dataset: str = "folder"
    image_size: int = 256
    load_size: int | None = 286
    netG: str = "resnet_9blocks"
    ngf: int = 64
    ndf: int = 64


@RECIPES.register("cyclegan")
class CycleGANFolderRecipe(CycleGANRecipe):
    """CycleGAN on your unpaired images (data_root/{train,test}{A,B}); the reference's defaults (256 px)."""

    Options = CycleGANFolderOptions
