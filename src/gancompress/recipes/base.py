"""The recipe protocol: everything family-specific about one GAN.

A recipe builds its generators and discriminators, owns its data, names its loss
terms (with the weights of the original training recipe) and its metrics. The
trainer and every technique talk to GANs only through this interface.

Conventions
- Networks come as ``nn.ModuleDict`` (e.g. ``{"G": ...}`` or ``{"G_A": ..., "G_B": ...}``);
  the keys are also the file names of saved weights (``G.safetensors``).
- A *batch* is a dict of tensors; ``make_batch`` adds everything random (noise,
  target labels), so teacher and student see exactly the same inputs.
- Loss terms are ``{name: tensor}`` with per-sample values, shape (N,), unweighted;
  ``g_weights`` / ``d_weights`` hold the original weights.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Iterable, Iterator, Mapping

import torch
from torch import nn
from torch.utils.data import Dataset

from gancompress.registry import Registry

Batch = dict[str, torch.Tensor]
Terms = dict[str, torch.Tensor]

RECIPES: Registry[type["Recipe"]] = Registry("recipe")


@dataclass(frozen=True)
class EvalContext:
    """What an evaluation may use: the feature network for FID, a device, a sample count."""

    feature_net: Any
    n_samples: int = 1000
    device: torch.device = torch.device("cpu")
    seed: int = 1234


class Recipe(ABC):
    """Base class of every GAN family; subclasses register with ``@RECIPES.register``."""

    Options: ClassVar[type]  # frozen dataclass of architecture and data options
    g_weights: ClassVar[dict[str, float]]
    d_weights: ClassVar[dict[str, float]]
    lr_g: ClassVar[float] = 2e-4
    lr_d: ClassVar[float] = 2e-4
    betas: ClassVar[tuple[float, float]] = (0.5, 0.999)
    n_critic: ClassVar[int] = 1  # discriminator steps per generator step in the original training (WGAN-GP: 5)
    default_feature_net: ClassVar[str | None] = "digits-classifier"  # None: the recipe's own `feature_net`
    feature_net: nn.Module | None = None  # a feature network the recipe brings (a user's, for ModuleRecipe)
    width_options: ClassVar[tuple[str, ...]] = ()  # options that scale the generators' channel widths
    display_legend: ClassVar[str] = ""  # what each tile of `display` shows, for the picture sheets' titles
    # extra file-name patterns per network key, for checkpoints saved by a reference implementation
    checkpoint_aliases: ClassVar[dict[str, tuple[str, ...]]] = {}

    def __init__(self, options: Any = None):
        self.opt = options if options is not None else self.Options()

    # -- networks ---------------------------------------------------------------------
    @abstractmethod
    def build_generators(self) -> nn.ModuleDict: ...

    @abstractmethod
    def build_discriminators(self) -> nn.ModuleDict: ...

    # -- data -------------------------------------------------------------------------
    @abstractmethod
    def dataset(self, split: str) -> Dataset:
        """Training ('train') or held-out ('test') examples."""

    @abstractmethod
    def make_batch(self, items: Any, rng: torch.Generator) -> Batch:
        """Collated dataset items -> batch dict, adding noise / target labels from `rng`."""

    # -- forward and losses -----------------------------------------------------------
    @abstractmethod
    def generate(self, gens: nn.ModuleDict, batch: Batch) -> dict[str, torch.Tensor]:
        """All generator outputs the loss terms need (fakes, reconstructions, ...)."""

    @abstractmethod
    def generator_terms(self, gens: nn.ModuleDict, discs: nn.ModuleDict, batch: Batch,
                        out: Mapping[str, torch.Tensor]) -> Terms:
        """Unweighted per-sample generator loss terms, e.g. {"adv": (N,), "l1": (N,)}."""

    @abstractmethod
    def discriminator_terms(self, discs: nn.ModuleDict, batch: Batch,
                            out: Mapping[str, torch.Tensor]) -> Terms:
        """Unweighted per-sample discriminator loss terms on real data vs `out`'s fakes."""

    def fakes_for_d_update(self, out: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The (detached) fakes a discriminator *update* sees; CycleGAN draws them from an image pool.

        Consistency terms always score the current outputs; only D's own training step goes
        through here. The identity by default.
        """
        return {k: v.detach() for k, v in out.items()}

    def teacher_as_data(self, batch: Batch, out: Mapping[str, torch.Tensor]) -> Batch:
        """`batch` with its real examples replaced by the (teacher's) outputs `out`.

        Adversarial distillation trains a discriminator to tell a teacher's outputs from a
        student's; each recipe says which outputs stand for which real examples.
        """
        raise NotImplementedError(f"recipe {type(self).__name__} does not define teacher_as_data()")

    # -- evaluation -------------------------------------------------------------------
    @abstractmethod
    def eval_batches(self, n: int, seed: int, batch_size: int = 250) -> Iterator[Batch]:
        """Fixed evaluation inputs (same for every model evaluated with the same seed)."""

    @abstractmethod
    def evaluate(self, gens: nn.ModuleDict, ctx: EvalContext) -> dict[str, Any]:
        """Metrics of `gens` on held-out data, e.g. {"fid": ..., "coverage": ...}."""

    @abstractmethod
    def display(self, batch: Batch, out: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Images (N, C, H, W) in [-1, 1] that show these outputs in a picture grid."""

    # -- reference points for `gancompress evaluate` ------------------------------------
    def baseline(self) -> tuple[str, nn.ModuleDict] | None:
        """The task's non-learned baseline as generators with the model's keys (bicubic upsampling,
        desaturation, the input itself), which ``evaluate`` scores exactly like a model; None: none."""
        return None

    def real_metrics(self, ctx: EvalContext) -> dict[str, Any] | None:
        """Real data scored against itself: two disjoint real samples of what ``evaluate`` compares a
        model's outputs with, on the same features (the floor a perfect model would reach); None: none."""
        return None

    # -- shared helpers ---------------------------------------------------------------
    def narrowed(self, factor: float) -> "Recipe":
        """The same recipe with every generator width option times `factor` (a small dense net)."""
        from dataclasses import replace

        if not self.width_options:
            raise ValueError(f"recipe {type(self).__name__} declares no width_options; it cannot build a narrow generator")
        scaled = {name: max(1, round(getattr(self.opt, name) * factor)) for name in self.width_options}
        return type(self)(replace(self.opt, **scaled))

    # -- state a training checkpoint must hold (CycleGAN's image pools); none by default -------
    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if state:
            raise ValueError(f"recipe {type(self).__name__} keeps no state, but the checkpoint holds {sorted(state)}")

    # -- the evaluation loop every recipe shares ------------------------------------------
    @torch.no_grad()
    def eval_outputs(self, gens: nn.ModuleDict, ctx: EvalContext, batches: Iterable[Batch] | None = None,
                     forward: Callable[[nn.ModuleDict, Batch], Mapping[str, torch.Tensor]] | None = None
                     ) -> Iterator[tuple[Batch, dict[str, torch.Tensor]]]:
        """(batch, outputs) on the CPU for each evaluation batch (``eval_batches(ctx.n_samples, ctx.seed)``
        by default), the outputs of `forward` (``generate`` by default) run on ``ctx.device``."""
        forward = forward or self.generate
        for batch in batches if batches is not None else self.eval_batches(ctx.n_samples, ctx.seed):
            out = forward(gens, {k: v.to(ctx.device) for k, v in batch.items()})
            yield batch, {k: v.cpu() for k, v in out.items()}


def gathered(pairs: Iterable[tuple[Batch, Mapping[str, torch.Tensor]]], *keys: str) -> dict[str, torch.Tensor]:
    """Each named output (or, failing that, batch entry) of `Recipe.eval_outputs`, concatenated over batches."""
    parts: dict[str, list[torch.Tensor]] = {k: [] for k in keys}
    for batch, out in pairs:
        for k in keys:
            parts[k].append(out[k] if k in out else batch[k])
    return {k: torch.cat(v) for k, v in parts.items()}


def weighted_total(terms: Terms, weights: Mapping[str, float]) -> torch.Tensor:
    """Sum of batch means of `terms`, each times its weight (missing weight = 1)."""
    return sum(weights.get(name, 1.0) * value.mean() for name, value in terms.items())


def get_recipe(name: str, options: Mapping[str, Any] | None = None) -> Recipe:
    """Instantiate a registered recipe with validated options."""
    from gancompress.config import options_from

    cls = RECIPES.get(name)
    return cls(options_from(cls.Options, options or {}, "recipe_options"))
