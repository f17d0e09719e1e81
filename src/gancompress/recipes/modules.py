"""Your own GAN as a recipe: a generator and a discriminator as modules, images, and a loss.

`ModuleRecipe` wraps an unconditional GAN that is not in the zoo: ``G(z) -> images`` for
noise ``z`` of shape ``(N, *z_shape)``, ``D(images) -> scores`` of any shape ``(N, ...)``,
real images (a tensor, a dataset, or an iterable of batches), and a loss: one of
`STANDARD_LOSSES` (``vanilla``, ``lsgan``, ``hinge``, ``wgan-gp``) or a `GANLoss` of your
own callables returning named per-sample terms. Everything else (techniques, schedules,
granularities, checkpoints, reports) works on it as on the built-in families;
`gancompress.api.compress_gan` runs it from Python, and a ``--recipe-file`` that registers a
subclass runs it from the command line.

Without a feature network there is no FID: evaluation then reports ``d_score``, the mean
score the *original* discriminator (frozen at the start) gives the samples, and says that
no feature network was used.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Mapping

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from gancompress.recipes.base import Batch, EvalContext, Recipe, Terms, gathered
from gancompress.recipes.losses import _per_sample, gradient_penalty
from gancompress.registry import Registry

Critic = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class GANLoss:
    """Named per-sample loss terms: ``generator(D, fake, batch)`` and ``discriminator(D, real, fake, batch)``
    each return ``{name: (N,) tensor}``; the weights name every term (the trainer and the method's
    normalised differences use them)."""

    generator: Callable[[Critic, torch.Tensor, Batch], Terms]
    discriminator: Callable[[Critic, torch.Tensor, torch.Tensor, Batch], Terms]
    g_weights: Mapping[str, float]
    d_weights: Mapping[str, float]
    n_critic: int = 1  # discriminator steps per generator step


STANDARD_LOSSES: Registry[GANLoss] = Registry("loss")
STANDARD_LOSSES.register("vanilla", GANLoss(  # non-saturating BCE on logits
    lambda d, fake, b: {"adv": _per_sample(F.softplus(-d(fake)))},
    lambda d, real, fake, b: {"real": _per_sample(F.softplus(-d(real))), "fake": _per_sample(F.softplus(d(fake)))},
    {"adv": 1.0}, {"real": 1.0, "fake": 1.0}))
STANDARD_LOSSES.register("lsgan", GANLoss(
    lambda d, fake, b: {"adv": _per_sample((d(fake) - 1) ** 2)},
    lambda d, real, fake, b: {"real": _per_sample((d(real) - 1) ** 2), "fake": _per_sample(d(fake) ** 2)},
    {"adv": 1.0}, {"real": 0.5, "fake": 0.5}))
STANDARD_LOSSES.register("hinge", GANLoss(
    lambda d, fake, b: {"adv": -_per_sample(d(fake))},
    lambda d, real, fake, b: {"real": _per_sample(F.relu(1 - d(real))), "fake": _per_sample(F.relu(1 + d(fake)))},
    {"adv": 1.0}, {"real": 1.0, "fake": 1.0}))
STANDARD_LOSSES.register("wgan-gp", GANLoss(
    lambda d, fake, b: {"adv": -_per_sample(d(fake))},
    lambda d, real, fake, b: {"real": -_per_sample(d(real)), "fake": _per_sample(d(fake)),
                              "gp": gradient_penalty(d, real, fake)},
    {"adv": 1.0}, {"real": 1.0, "fake": 1.0, "gp": 10.0}, n_critic=5))


class _Images(Dataset):
    def __init__(self, images: torch.Tensor):
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.images[i]


def as_image_dataset(data: torch.Tensor | Dataset | Iterable) -> Dataset:
    """Images as a dataset: a (N, C, H, W) tensor, a dataset of images (or of (image, ...) tuples),
    or an iterable of image batches (a DataLoader; read once into memory)."""
    if isinstance(data, torch.Tensor):
        return _Images(data)
    if isinstance(data, Dataset) and hasattr(data, "__len__"):
        return data
    batches = [b[0] if isinstance(b, (tuple, list)) else b for b in data]
    if not batches or not all(isinstance(b, torch.Tensor) for b in batches):
        raise ValueError("data: expected a tensor of images, a dataset, or an iterable of image batches")
    return _Images(torch.cat(batches))


def _reinitialised(net: nn.Module) -> nn.Module:
    """A copy of `net` with fresh weights (each layer's own ``reset_parameters``), for baselines that start
    from scratch."""
    net = copy.deepcopy(net)
    for m in net.modules():
        if hasattr(m, "reset_parameters"):
            m.reset_parameters()
    return net


@dataclass(frozen=True)
class ModuleOptions:
    z_shape: tuple = (128,)  # noise per sample: z ~ N(0, 1) of shape (N, *z_shape)


class ModuleRecipe(Recipe):
    """A GAN given as modules: G(z) -> images in [-1, 1], D(images) -> scores, real images, a loss."""

    Options = ModuleOptions
    default_feature_net = None

    def __init__(self, generator: nn.Module, discriminator: nn.Module, data: Any, loss: str | GANLoss = "hinge",
                 z_shape: int | tuple = 128, eval_data: Any = None, feature_net: nn.Module | None = None):
        super().__init__(ModuleOptions(tuple(z_shape) if isinstance(z_shape, (tuple, list)) else (int(z_shape),)))
        self.loss = STANDARD_LOSSES.get(loss) if isinstance(loss, str) else loss
        self.g_weights, self.d_weights = dict(self.loss.g_weights), dict(self.loss.d_weights)
        self.n_critic = self.loss.n_critic
        self._g, self._d = generator, discriminator
        self._judge = copy.deepcopy(discriminator).eval().requires_grad_(False)  # the original critic
        self._train = as_image_dataset(data)
        self._test = as_image_dataset(eval_data) if eval_data is not None else self._train
        self.feature_net = feature_net

    # -- networks and data ------------------------------------------------------------
    def build_generators(self) -> nn.ModuleDict:
        return nn.ModuleDict({"G": _reinitialised(self._g)})

    def build_discriminators(self) -> nn.ModuleDict:
        return nn.ModuleDict({"D": _reinitialised(self._d)})

    def dataset(self, split: str) -> Dataset:
        return self._train if split == "train" else self._test

    def _noise(self, n: int, rng: torch.Generator) -> torch.Tensor:
        return torch.randn(n, *self.opt.z_shape, generator=rng)

    def make_batch(self, items, rng: torch.Generator) -> Batch:
        real = items[0] if isinstance(items, (tuple, list)) else items
        return {"real": real, "z": self._noise(real.shape[0], rng)}

    # -- forward and losses -----------------------------------------------------------
    def generate(self, gens: nn.ModuleDict, batch: Batch) -> dict[str, torch.Tensor]:
        return {"fake": gens["G"](batch["z"])}

    def generator_terms(self, gens, discs, batch, out) -> Terms:
        return self.loss.generator(discs["D"], out["fake"], batch)

    def discriminator_terms(self, discs, batch, out) -> Terms:
        return self.loss.discriminator(discs["D"], batch["real"], out["fake"], batch)

    def teacher_as_data(self, batch: Batch, out: Mapping[str, torch.Tensor]) -> Batch:
        return {**batch, "real": out["fake"].detach()}

    # -- evaluation -------------------------------------------------------------------
    def eval_batches(self, n: int, seed: int, batch_size: int = 250) -> Iterator[Batch]:
        rng = torch.Generator().manual_seed(seed)
        for start in range(0, n, batch_size):
            yield {"z": self._noise(min(batch_size, n - start), rng)}

    @torch.no_grad()
    def evaluate(self, gens: nn.ModuleDict, ctx: EvalContext) -> dict:
        fakes = gathered(self.eval_outputs(gens, ctx), "fake")["fake"]
        judge = self._judge.to(ctx.device)
        scores = torch.cat([_per_sample(judge(part.to(ctx.device))).cpu() for part in fakes.split(250)])
        metrics: dict = {"d_score": float(scores.mean()), "n_fake": len(fakes)}
        if not isinstance(ctx.feature_net, nn.Module):
            return {**metrics, "features": ctx.feature_net.description}
        from gancompress.metrics import evaluate_generated

        real = torch.stack([self._test[i] if isinstance(self._test[i], torch.Tensor) else self._test[i][0]
                            for i in range(min(len(self._test), ctx.n_samples))])
        return {**metrics, **evaluate_generated(real, fakes, ctx.feature_net)}

    def display(self, batch: Batch, out: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return out["fake"][:, :3].clamp(-1, 1)

