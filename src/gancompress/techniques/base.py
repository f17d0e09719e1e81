"""What a technique is: something that builds the networks it trains and does one step.

The trainer owns the loop (batches, seeding, logging, checkpoints, evaluation); a
technique owns one optimisation step and the objects whose state must be saved.
"""
from __future__ import annotations

import copy
import dataclasses
from abc import ABC, abstractmethod
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar, Iterator, Mapping

import torch
from torch import nn

from gancompress.errors import NonFiniteLossError
from gancompress.pruning import GRANULARITIES, Pruner, PruneConfig, output_layers
from gancompress.pruning.channel_graph import ChannelGraph, silenced_tensors
from gancompress.nets import example_inputs
from gancompress.recipes.base import Batch, Recipe, weighted_total
from gancompress.registry import Registry

TECHNIQUES: Registry[type["Technique"]] = Registry("technique")


def finite(prefix: str, terms: Mapping[str, torch.Tensor]) -> Mapping[str, torch.Tensor]:
    """Raise NonFiniteLossError before any optimiser step can spread a NaN/inf into the weights."""
    for name, value in terms.items():
        if not torch.isfinite(value).all():
            bad = value[~torch.isfinite(value)].flatten()[0].item()
            raise NonFiniteLossError(f"{prefix}/{name}", bad)
    return terms


@dataclass
class Setup:
    """What every technique gets: the recipe, the teacher (if any) and the run settings."""

    recipe: Recipe
    teacher_gens: nn.ModuleDict | None
    teacher_discs: nn.ModuleDict | None
    prune: PruneConfig
    total_steps: int
    lr_g: float
    lr_d: float
    device: torch.device


@dataclass(frozen=True)
class NoOptions:
    """A technique without options."""


class Technique(ABC):
    """Base class; subclasses register with ``@TECHNIQUES.register(name)``."""

    Options: ClassVar[type] = NoOptions

    def __init__(self, setup: Setup, options: Any = None):
        self.setup = setup
        self.opt = options if options is not None else self.Options()
        self.recipe = setup.recipe
        self.student_recipe = setup.recipe  # builds the student's architecture (narrower for a small net)
        self.pruner: Pruner | None = None

    gens: nn.ModuleDict  # set by subclasses: the generator(s) being trained
    discs: nn.ModuleDict | None = None  # ... and the discriminator(s), if any

    @property
    def student(self) -> nn.ModuleDict:
        """The generator(s) this technique produces."""
        return self.gens

    @property
    def discriminators(self) -> nn.ModuleDict | None:
        return self.discs

    @abstractmethod
    def train_step(self, batch: Batch, step: int) -> dict[str, torch.Tensor]:
        """One optimisation step; returns named scalars to log (``G/adv``, ``D/real``, ...)."""

    @abstractmethod
    def stateful(self) -> dict[str, Any]:
        """Objects with ``state_dict``/``load_state_dict`` that a checkpoint must hold."""

    # -- helpers shared by techniques -------------------------------------------------
    scaler: torch.amp.GradScaler | None = None  # set by the trainer for fp16 steps (train.amp=fp16)

    def backward(self, loss: torch.Tensor) -> None:
        """``loss.backward()``, through the fp16 loss scaler when there is one."""
        (loss if self.scaler is None else self.scaler.scale(loss)).backward()

    def optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        """``optimizer.step()``; with the fp16 scaler: unscaled, and skipped when a gradient overflowed."""
        if self.scaler is None:
            optimizer.step()
        else:
            self.scaler.step(optimizer)

    def adam(self, params, lr: float) -> torch.optim.Adam:
        return torch.optim.Adam(params, lr=lr, betas=self.recipe.betas)

    def copy_of_teacher(self) -> nn.ModuleDict:
        if self.setup.teacher_gens is None:
            raise ValueError(f"technique {type(self).__name__} needs a teacher")
        student = copy.deepcopy(self.setup.teacher_gens)
        student.requires_grad_(True).train()
        return student

    def make_pruner(self, nets: nn.ModuleDict, optimizer: torch.optim.Optimizer,
                    prune: PruneConfig | None = None, generators: bool = True) -> Pruner:
        """A pruner over `nets` whose masks survive `optimizer`'s steps (`generator_pruner` for generators)."""
        cfg = prune or self.setup.prune
        if generators:
            pruner = generator_pruner(self.student_recipe, nets, cfg, self.setup.total_steps)
        else:  # a discriminator: per-layer targets name generator layers
            pruner = Pruner(nets, dataclasses.replace(cfg, layer_targets={}), self.setup.total_steps)
        pruner.attach(optimizer)
        return pruner

    def discriminator_step(self, discs: nn.ModuleDict, opt_d: torch.optim.Optimizer, batch: Batch,
                           fakes: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """One update of `discs` with the recipe's weighted D loss on `batch`'s real data vs `fakes`.

        Leaves `discs` frozen (requires_grad False) for the generator phase that follows.
        """
        r = self.recipe
        set_trainable(discs, True)
        terms = finite("D", r.discriminator_terms(discs, batch, fakes))
        opt_d.zero_grad(set_to_none=True)
        self.backward(weighted_total(terms, r.d_weights))
        self.optimizer_step(opt_d)
        set_trainable(discs, False)
        return terms

    def fresh_generators(self, recipe: Recipe | None = None) -> nn.ModuleDict:
        """Randomly initialised generators (of `recipe`'s architecture; the run's by default)."""
        return (recipe or self.recipe).build_generators().to(self.setup.device).train()

    def fresh_discriminators(self) -> nn.ModuleDict:
        return self.recipe.build_discriminators().to(self.setup.device).train()

    def learning_rates(self, from_scratch: bool) -> tuple[float, float]:
        """(lr_g, lr_d): the run's, or the recipe's original ones for nets trained from random weights."""
        return (self.recipe.lr_g, self.recipe.lr_d) if from_scratch else (self.setup.lr_g, self.setup.lr_d)

    def frozen_teacher(self) -> nn.ModuleDict:
        if self.setup.teacher_gens is None:
            raise ValueError(f"technique {type(self).__name__} needs a teacher")
        return self.setup.teacher_gens.eval().requires_grad_(False)


def generator_pruner(recipe: Recipe, nets: nn.ModuleDict, cfg: PruneConfig, total_steps: int) -> Pruner:
    """A pruner over generators `nets` of `recipe`. For filter pruning it keeps every output (colour)
    channel of the layers that produce the images, prunes residual-coupled layers together and silences
    dead channels (so they can be removed for real without changing the output)."""
    keep, couple, silence = set(), [], None
    if GRANULARITIES.get(cfg.granularity).whole_channels:
        inputs = example_inputs(recipe, nets)
        keep = output_layers(nets, inputs)
        graphs = {key: ChannelGraph(net, inputs[key], f"{key}.") for key, net in nets.items()}  # traced once
        couple = [[f"{key}.{name}" for name in group] for key, graph in graphs.items()
                  for group in graph.coupled_layers()]
        silence = partial(silenced_tensors, nets, graphs)
    return Pruner(nets, cfg, total_steps, keep_filters=keep, couple=couple, silence=silence)


def get_technique(name: str, setup: Setup, options: Mapping[str, Any] | None = None) -> Technique:
    """Instantiate a registered technique with validated options."""
    from gancompress.config import options_from

    cls = TECHNIQUES.get(name)
    return cls(setup, options_from(cls.Options, options or {}, "technique_options"))


def overridden_weights(groups: Mapping[str, Mapping[str, float]], overrides: Mapping[str, float]
                       ) -> dict[str, dict[str, float]]:
    """Term weights per group (e.g. ``{"GC": recipe.g_weights}``) with ``overrides`` by logged name
    (``{"GC/cls": 0.1}``); an override naming no term is an error listing the valid names."""
    valid = [f"{group}/{term}" for group, weights in groups.items() for term in weights]
    unknown = sorted(set(overrides) - set(valid))
    if unknown:
        raise ValueError(f"technique_options.weights: unknown term {unknown[0]!r}; valid: {', '.join(valid)}")
    return {group: {term: overrides.get(f"{group}/{term}", w) for term, w in weights.items()}
            for group, weights in groups.items()}


def set_trainable(module: nn.Module | None, flag: bool) -> None:
    if module is not None:
        module.requires_grad_(flag)


def distillation(teacher_out: Mapping[str, torch.Tensor], student_out: Mapping[str, torch.Tensor],
                 kind: str = "l1") -> torch.Tensor:
    """Mean L1 (or squared) distance between every student output and the teacher's (a constant)."""
    parts = [(s - teacher_out[k].detach()).abs().mean() if kind == "l1" else (s - teacher_out[k].detach()).pow(2).mean()
             for k, s in student_out.items()]
    return sum(parts) / len(parts)


@contextmanager
def recording(layers: Mapping[str, nn.Module], inputs: bool = False) -> Iterator[dict[str, list[torch.Tensor]]]:
    """Record every output each layer produces while the block runs (``inputs``: every input it receives,
    detached, instead); a layer may run several times."""
    seen: dict[str, list[torch.Tensor]] = {name: [] for name in layers}
    if inputs:
        handles = [m.register_forward_pre_hook(lambda mod, args, name=name: seen[name].append(args[0].detach()))
                   for name, m in layers.items()]
    else:
        handles = [m.register_forward_hook(lambda mod, args, out, name=name: seen[name].append(out))
                   for name, m in layers.items()]
    try:
        yield seen
    finally:
        for h in handles:
            h.remove()


def feature_distance(teacher: Mapping[str, list[torch.Tensor]], student: Mapping[str, list[torch.Tensor]],
                     eps: float = 1e-8) -> torch.Tensor:
    """Mean over layers (and calls) of the squared distance of the student's layer outputs to the
    teacher's (constants), each divided by the variance of the teacher's output so that every layer
    counts alike whatever its scale."""
    parts = [(s - t.detach()).pow(2).mean() / (t.detach().var() + eps)
             for name, outs in student.items() for s, t in zip(outs, teacher[name])]
    return sum(parts) / len(parts)


def scalars(prefix: str, terms: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``{"adv": t}`` -> ``{"G/adv": t.mean().detach()}`` for logging."""
    return {f"{prefix}/{k}": v.detach().mean() for k, v in terms.items()}
