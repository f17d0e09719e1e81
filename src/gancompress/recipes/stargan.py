"""StarGAN (Choi et al.): one generator translating images between several domains.

Module layout and state-dict keys follow yunjey/stargan's ``model.py`` (Generator
``main.N``, residual blocks ``main.N.main.M``, Discriminator ``main.N`` plus the source
head ``conv1`` and the class head ``conv2``), so its ``G.ckpt`` / ``200000-G.ckpt`` files
load as they are (conv_dim 64, c_dim 5, repeat_num 6, image size 128).

Losses with the reference weights: G: adv (WGAN), cls (1), rec (10); D: real, fake (WGAN),
cls (1), gp (10). Target labels and the gradient-penalty interpolation weights are drawn
in `make_batch`, so teacher and student are scored on the same ones. Dense
training takes 5 D steps per G step, as the reference does; unlike the reference, the
learning rate is not decayed.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Mapping

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from gancompress.recipes.base import RECIPES, Batch, EvalContext, Recipe, Terms, gathered
from gancompress.recipes.losses import gradient_penalty, l1, wasserstein


class InstanceNorm(nn.InstanceNorm2d):
    """Affine instance norm with running-stat buffers (the reference's keys) that always
    normalises with each image's own statistics, as the reference does in training and test
    (it never switches its nets to eval mode)."""

    def __init__(self, channels: int):
        super().__init__(channels, affine=True, track_running_stats=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        track = self.training
        return F.instance_norm(x, self.running_mean if track else None, self.running_var if track else None,
                               self.weight, self.bias, True, self.momentum or 0.1, self.eps)


class ResidualBlock(nn.Module):
    """x + (conv3-IN-ReLU-conv3-IN)(x); channels unchanged."""

    def __init__(self, dim: int):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(dim, dim, 3, 1, 1, bias=False), InstanceNorm(dim), nn.ReLU(inplace=True),
            nn.Conv2d(dim, dim, 3, 1, 1, bias=False), InstanceNorm(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.main(x)


class Generator(nn.Module):
    """(image (N, 3, H, W), target label (N, c_dim)) -> translated image (N, 3, H, W) in [-1, 1]."""

    def __init__(self, conv_dim: int = 64, c_dim: int = 5, repeat_num: int = 6):
        super().__init__()
        layers: list[nn.Module] = [  # (N, 3+c, H, W) -> (N, conv_dim, H, W)
            nn.Conv2d(3 + c_dim, conv_dim, 7, 1, 3, bias=False), InstanceNorm(conv_dim), nn.ReLU(inplace=True)]
        dim = conv_dim
        for _ in range(2):  # each halves H, W and doubles channels -> (N, 4*conv_dim, H/4, W/4)
            layers += [nn.Conv2d(dim, dim * 2, 4, 2, 1, bias=False), InstanceNorm(dim * 2), nn.ReLU(inplace=True)]
            dim *= 2
        layers += [ResidualBlock(dim) for _ in range(repeat_num)]  # bottleneck, same shape
        for _ in range(2):  # each doubles H, W and halves channels -> (N, conv_dim, H, W)
            layers += [nn.ConvTranspose2d(dim, dim // 2, 4, 2, 1, bias=False), InstanceNorm(dim // 2),
                       nn.ReLU(inplace=True)]
            dim //= 2
        layers += [nn.Conv2d(dim, 3, 7, 1, 3, bias=False), nn.Tanh()]  # -> (N, 3, H, W)
        self.main = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        c = c.view(c.shape[0], c.shape[1], 1, 1).expand(-1, -1, x.shape[2], x.shape[3])  # label planes
        return self.main(torch.cat([x, c], dim=1))


class Discriminator(nn.Module):
    """PatchGAN critic: image (N, 3, S, S) -> (source scores (N, 1, S/2^r, S/2^r), class logits (N, c_dim))."""

    def __init__(self, image_size: int = 128, conv_dim: int = 64, c_dim: int = 5, repeat_num: int = 6):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(3, conv_dim, 4, 2, 1), nn.LeakyReLU(0.01)]
        dim = conv_dim
        for _ in range(1, repeat_num):  # each halves H, W and doubles channels
            layers += [nn.Conv2d(dim, dim * 2, 4, 2, 1), nn.LeakyReLU(0.01)]
            dim *= 2
        self.main = nn.Sequential(*layers)  # -> (N, conv_dim * 2^(r-1), S/2^r, S/2^r)
        self.conv1 = nn.Conv2d(dim, 1, 3, 1, 1, bias=False)  # source (real/fake) scores per patch
        self.conv2 = nn.Conv2d(dim, c_dim, image_size // 2**repeat_num, bias=False)  # -> (N, c_dim, 1, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.main(x)
        return self.conv1(h), self.conv2(h).flatten(1)


def classification_loss(logits: torch.Tensor, target: torch.Tensor, kind: str) -> torch.Tensor:
    """Per-sample domain loss: summed binary CE over attributes (CelebA) or softmax CE (one-hot domains)."""
    if kind == "bce":
        return F.binary_cross_entropy_with_logits(logits, target, reduction="none").sum(1)
    return F.cross_entropy(logits, target.argmax(1), reduction="none")


def edit_targets(labels: torch.Tensor, kind: str, groups: tuple[tuple[int, ...], ...] = ()) -> list[torch.Tensor]:
    """The reference's test-time targets, one per domain index i.

    One-hot domains: every image to domain i. Attributes: attribute i flipped, except in an
    exclusive group (hair colours), where i is set and the rest of its group cleared.
    """
    targets = []
    for i in range(labels.shape[1]):
        if kind == "ce":
            targets.append(F.one_hot(torch.full((len(labels),), i), labels.shape[1]).float())
            continue
        t = labels.clone()
        group = next((g for g in groups if i in g), None)
        if group is None:
            t[:, i] = 1 - t[:, i]
        else:
            t[:, list(group)] = 0
            t[:, i] = 1
        targets.append(t)
    return targets


@dataclass(frozen=True)
class StarGANOptions:
    dataset: str = "textures"  # textures | digits (built in) | celeba (data_root, or image_dir + attr_path)
    data_root: str | None = None  # celeba: holds images/ (or img_align_celeba/) and list_attr_celeba.txt
    image_dir: str | None = None  # celeba: the reference's --celeba_image_dir (default: under data_root)
    attr_path: str | None = None  # celeba: the reference's --attr_path (default: data_root/list_attr_celeba.txt)
    selected_attrs: tuple[str, ...] = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young")  # celeba only
    image_size: int = 32
    crop_size: int = 178  # celeba: centre crop before resizing (the reference's celeba_crop_size)
    g_conv_dim: int = 16
    d_conv_dim: int = 16
    g_repeat_num: int = 3
    d_repeat_num: int = 4
    hflip: bool = True  # random horizontal flips of training images (the reference's augmentation)

    def __post_init__(self) -> None:
        if self.dataset not in ("textures", "digits", "celeba"):
            raise ValueError(f"dataset={self.dataset!r}: valid: textures, digits, celeba")
        if self.dataset == "celeba" and not self.data_root and not (self.image_dir and self.attr_path):
            raise ValueError("dataset=celeba needs data_root (a folder with images/ or img_align_celeba/ and "
                             "list_attr_celeba.txt), or image_dir and attr_path")
        if self.dataset == "celeba" and not self.selected_attrs:
            raise ValueError("selected_attrs: name at least one CelebA attribute")
        for name in ("g_conv_dim", "d_conv_dim", "g_repeat_num", "d_repeat_num"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)}: must be >= 1")
        if self.image_size % 2**self.d_repeat_num or self.image_size % 4:
            raise ValueError(f"image_size={self.image_size}: must be divisible by 4 and by 2**d_repeat_num "
                             f"= {2**self.d_repeat_num}")


@RECIPES.register("stargan-textures")
class StarGANRecipe(Recipe):
    """StarGAN between three real texture photographs (brick, grass, gravel); WGAN-GP, Adam(1e-4, 0.5)."""

    Options = StarGANOptions
    g_weights = {"adv": 1.0, "cls": 1.0, "rec": 10.0}
    d_weights = {"real": 1.0, "fake": 1.0, "cls": 1.0, "gp": 10.0}
    lr_g = 1e-4
    lr_d = 1e-4
    n_critic = 5  # the reference's D steps per G step
    betas = (0.5, 0.999)
    default_feature_net = "photo-patches"
    display_legend = "input, translation in turn"
    width_options = ("g_conv_dim",)
    checkpoint_aliases = {"G": ("*-G.ckpt",), "D": ("*-D.ckpt",)}

    # -- domains ----------------------------------------------------------------------
    @property
    def domain_names(self) -> tuple[str, ...]:
        if self.opt.dataset == "celeba":
            return tuple(self.opt.selected_attrs)
        if self.opt.dataset == "digits":
            return tuple(str(d) for d in range(10))
        from gancompress.data.multidomain import TEXTURES

        return TEXTURES

    @property
    def cls_kind(self) -> str:
        return "bce" if self.opt.dataset == "celeba" else "ce"

    @property
    def exclusive_groups(self) -> tuple[tuple[int, ...], ...]:
        from gancompress.data.celeba import HAIR_COLOURS

        hair = tuple(i for i, a in enumerate(self.domain_names) if a in HAIR_COLOURS)
        return (hair,) if self.cls_kind == "bce" and hair else ()

    # -- networks ---------------------------------------------------------------------
    def build_generators(self) -> nn.ModuleDict:
        o = self.opt
        return nn.ModuleDict({"G": Generator(o.g_conv_dim, len(self.domain_names), o.g_repeat_num)})

    def build_discriminators(self) -> nn.ModuleDict:
        o = self.opt
        return nn.ModuleDict({"D": Discriminator(o.image_size, o.d_conv_dim, len(self.domain_names), o.d_repeat_num)})

    # -- data -------------------------------------------------------------------------
    def dataset(self, split: str) -> Dataset:
        cache = self.__dict__.setdefault("_datasets", {})
        if split not in cache:
            cache[split] = self._make_dataset(split)
        return cache[split]

    def _make_dataset(self, split: str) -> Dataset:
        o = self.opt
        if o.dataset == "celeba":
            from gancompress.data.celeba import CelebA

            return CelebA(o.data_root, split, o.selected_attrs, crop=o.crop_size, image_size=o.image_size,
                          image_dir=o.image_dir, attr_path=o.attr_path)
        from gancompress.data.multidomain import digit_domains, texture_domains

        return (digit_domains if o.dataset == "digits" else texture_domains)(split, o.image_size)

    def make_batch(self, items, rng: torch.Generator) -> Batch:
        images, labels = items
        n = images.shape[0]
        if self.opt.hflip:
            flip = torch.rand(n, generator=rng) < 0.5
            images = torch.where(flip[:, None, None, None], images.flip(-1), images)
        labels = labels.float()
        return {"real": images, "label_org": labels, "label_trg": labels[torch.randperm(n, generator=rng)],
                "gp_alpha": torch.rand(n, 1, 1, 1, generator=rng)}

    # -- forward and losses -----------------------------------------------------------
    def generate(self, gens: nn.ModuleDict, batch: Batch) -> dict[str, torch.Tensor]:
        fake = gens["G"](batch["real"], batch["label_trg"])
        if "label_org" not in batch:  # evaluation: translation only
            return {"fake": fake}
        return {"fake": fake, "rec": gens["G"](fake, batch["label_org"])}

    def generator_terms(self, gens, discs, batch, out) -> Terms:
        src, cls = discs["D"](out["fake"])
        return {"adv": wasserstein(src, 1.0), "cls": classification_loss(cls, batch["label_trg"], self.cls_kind),
                "rec": l1(batch["real"], out["rec"])}

    def discriminator_terms(self, discs, batch, out) -> Terms:
        d = discs["D"]
        src_real, cls_real = d(batch["real"])
        src_fake, _ = d(out["fake"])
        return {"real": wasserstein(src_real, 1.0), "fake": wasserstein(src_fake, -1.0),
                "cls": classification_loss(cls_real, batch["label_org"], self.cls_kind),
                "gp": gradient_penalty(lambda x: d(x)[0], batch["real"], out["fake"], batch["gp_alpha"])}

    def teacher_as_data(self, batch: Batch, out: Mapping[str, torch.Tensor]) -> Batch:
        """The teacher's translations are real images of their target domains."""
        return {**batch, "real": out["fake"].detach(), "label_org": batch["label_trg"], "label_trg": batch["label_org"]}

    # -- evaluation -------------------------------------------------------------------
    def _eval_pairs(self, n: int, seed: int) -> list[tuple[int, int]]:
        """`n` (held-out image index, edit index) pairs in a seeded order that takes the edits in turn (so
        any `n` spreads evenly over them); every image gets every edit of `edit_targets` (for one-hot
        domains, the edits to the other domains)."""
        from itertools import chain, zip_longest

        test = self.dataset("test")
        labels = self._test_labels(test)
        pairs = [(i, k) for k in range(labels.shape[1]) for i in range(len(test))
                 if self.cls_kind == "bce" or labels[i, k] == 0]
        shuffled = [pairs[int(j)] for j in torch.randperm(len(pairs), generator=torch.Generator().manual_seed(seed))]
        by_edit = [[p for p in shuffled if p[1] == k] for k in range(labels.shape[1])]
        return [p for p in chain.from_iterable(zip_longest(*by_edit)) if p is not None][:n]

    def _test_labels(self, test) -> torch.Tensor:
        if hasattr(test, "rows"):  # CelebA: labels without reading images
            return torch.tensor([row[1] for row in test.rows])
        return torch.stack([torch.as_tensor(test[i][1]).float() for i in range(len(test))])

    def eval_batches(self, n: int, seed: int, batch_size: int = 250) -> Iterator[Batch]:
        test = self.dataset("test")
        pairs = self._eval_pairs(n, seed)
        for start in range(0, len(pairs), batch_size):
            part = pairs[start:start + batch_size]
            items = [test[i] for i, _ in part]
            x = torch.stack([a for a, _ in items])
            y = torch.stack([torch.as_tensor(b).float() for _, b in items])
            edits = torch.tensor([k for _, k in part])
            t = torch.stack([edit_targets(y[j:j + 1], self.cls_kind, self.exclusive_groups)[int(k)][0]
                             for j, k in enumerate(edits)])
            yield {"real": x, "label_trg": t}

    @torch.no_grad()
    def evaluate(self, gens: nn.ModuleDict, ctx: EvalContext) -> dict:
        from gancompress.metrics.generative import fid_kid

        got = gathered(self.eval_outputs(gens, ctx), "fake", "label_trg")
        fakes, targets = got["fake"], got["label_trg"]
        if self.cls_kind == "ce":  # one domain per image: each translation is judged against its target domain
            metrics = {**self._per_domain_fid(fakes, targets, ctx), "features": ctx.feature_net.description}
        else:
            real = self._fid_reference(max(len(fakes), 2000))
            metrics = {**fid_kid(real, fakes, ctx.feature_net), "features": ctx.feature_net.description,
                       "n_real": len(real), "n_fake": len(fakes)}
        if self.opt.dataset != "celeba":
            from gancompress.metrics.domain_classifier import domain_accuracy

            metrics["domain_acc"] = domain_accuracy(self._domain_classifier(), fakes, targets)
        return metrics

    def _per_domain_fid(self, images: torch.Tensor, domains: torch.Tensor, ctx: EvalContext) -> dict:
        """FID/KID of the images meant for each domain against that domain's training images
        (``fid_<domain>``), and their means (``fid``, ``kid``): an output that keeps its input's domain,
        however realistic, scores badly, as it should."""
        from gancompress.metrics.generative import features_of, fid_kid_of_features

        real, real_domains = self.dataset("train").tensors
        f_real, f_fake = features_of(real, ctx.feature_net), features_of(images, ctx.feature_net)
        metrics: dict = {"n_real": len(real), "n_fake": len(images)}
        for k, name in enumerate(self.domain_names):
            scores = fid_kid_of_features(f_real[real_domains.argmax(1) == k], f_fake[domains.argmax(1) == k])
            metrics.update({f"{key}_{name}": value for key, value in scores.items()})
        for key in ("fid", "kid"):
            metrics[key] = sum(metrics[f"{key}_{name}"] for name in self.domain_names) / len(self.domain_names)
        return metrics

    def _domain_classifier(self) -> nn.Module:
        from gancompress.metrics.domain_classifier import load_domain_classifier

        return load_domain_classifier() if self.opt.dataset == "textures" else _DigitLogits()

    def baseline(self) -> tuple[str, nn.ModuleDict]:
        from gancompress.recipes.baselines import Passthrough

        return "input unchanged: no translation", nn.ModuleDict({"G": Passthrough(3)})

    @torch.no_grad()
    def real_metrics(self, ctx: EvalContext) -> dict:
        """The held-out real images (the translations' inputs) against the same training reference, and
        the domain classifier's accuracy on them with their own labels."""
        from gancompress.metrics.domain_classifier import domain_accuracy
        from gancompress.metrics.generative import fid_kid

        from gancompress.data.images import spread_indices

        test = self.dataset("test")
        items = [test[int(i)] for i in spread_indices(len(test), min(len(test), ctx.n_samples))]
        images = torch.stack([x for x, _ in items])
        labels = torch.stack([torch.as_tensor(y).float() for _, y in items])
        if self.cls_kind == "ce":
            metrics = {**self._per_domain_fid(images, labels, ctx), "features": ctx.feature_net.description}
        else:
            metrics = {**fid_kid(self._fid_reference(max(len(images), 2000)), images, ctx.feature_net),
                       "features": ctx.feature_net.description, "n_fake": len(images)}
        if self.opt.dataset != "celeba":
            metrics["domain_acc"] = domain_accuracy(self._domain_classifier(), images, labels)
        return metrics

    def _fid_reference(self, n: int) -> torch.Tensor:
        """Real images FID compares with: the training images (the held-out ones are the translations'
        inputs); for large sets, `n` of them spread evenly."""
        from gancompress.data.images import spread_indices

        train = self.dataset("train")
        return torch.stack([train[int(i)][0] for i in spread_indices(len(train), n)])

    def display(self, batch: Batch, out: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Inputs and their translations, interleaved (input, output, input, output, ...)."""
        pairs = torch.stack([batch["real"], out["fake"]], dim=1)  # (N, 2, 3, H, W)
        return pairs.flatten(0, 1).clamp(-1, 1)


class _DigitLogits(nn.Module):
    """The shipped digit classifier's logits (it averages the channels to grey)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from gancompress.metrics import load_feature_net

        return load_feature_net("digits-classifier").forward_logits(x)


@dataclass(frozen=True)
class StarGANDigitsOptions(StarGANOptions):
    dataset: str = "digits"


@RECIPES.register("stargan-digits")
class StarGANDigitsRecipe(StarGANRecipe):
    """StarGAN between the ten classes of real handwritten digits (scikit-learn); the digit classifier checks them."""

    Options = StarGANDigitsOptions
    default_feature_net = "digits-classifier"


@dataclass(frozen=True)
class StarGANCelebAOptions(StarGANOptions):
    dataset: str = "celeba"
    image_size: int = 128
    g_conv_dim: int = 64
    d_conv_dim: int = 64
    g_repeat_num: int = 6
    d_repeat_num: int = 6


@RECIPES.register("stargan-celeba")
class StarGANCelebARecipe(StarGANRecipe):
    """StarGAN on CelebA attributes at 128x128 (the reference's setting); needs recipe_options.data_root."""

    Options = StarGANCelebAOptions
