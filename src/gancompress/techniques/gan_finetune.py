"""The standard ways to get a small generator: prune and fine-tune, distil, or train small.

One configurable technique covers Table 1's rows (c)-(i) and (k) (see `table1.py`):

- the student starts as the teacher's copy (``init: dense``), from random weights of the
  same architecture (``random``), or as a narrower dense net from scratch (``narrow``,
  widths times sqrt(1 - target) so its parameter count matches the sparse students');
- it is pruned on the run's schedule (``prune: run``), all at once before the first step
  (``oneshot``), or not at all (``none``);
- its loss is ``gan`` x the recipe's own weighted generator loss against a discriminator
  (the teacher's, or a new random one; trained with its original loss on real vs student
  fakes, or fixed, in eval mode) plus ``distill`` x an L1 / squared distance to the teacher's outputs on
  the same inputs.

Nets that start from random weights train with the recipe's original learning rates.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import torch

from gancompress.recipes.base import Batch, weighted_total
from gancompress.techniques.base import TECHNIQUES, Technique, distillation, finite, scalars, set_trainable

INITS = ("dense", "random", "narrow")
PRUNES = ("run", "oneshot", "none")
DISCS = ("pretrained", "random", "none")


@dataclass(frozen=True)
class FinetuneOptions:
    init: str = "dense"  # dense (copy of the teacher) | random | narrow (small dense net, random)
    prune: str = "run"  # run (the config's schedule) | oneshot (target before the first step) | none
    disc: str = "pretrained"  # pretrained (the teacher's D) | random (a new D) | none
    train_d: bool = True  # D keeps training on real vs student fakes (False: fixed)
    gan: float = 1.0  # weight of the student's own GAN loss
    distill: float = 0.0  # weight of the distance to the teacher's outputs
    distill_loss: str = "l1"  # l1 | mse

    def __post_init__(self) -> None:
        for key, valid in (("init", INITS), ("prune", PRUNES), ("disc", DISCS), ("distill_loss", ("l1", "mse"))):
            if getattr(self, key) not in valid:
                raise ValueError(f"technique_options.{key}={getattr(self, key)!r}: valid: {', '.join(valid)}")
        if self.gan < 0 or self.distill < 0 or self.gan + self.distill == 0:
            raise ValueError(f"technique_options: gan={self.gan}, distill={self.distill}: need >= 0 and one > 0")
        if self.gan > 0 and self.disc == "none":
            raise ValueError("technique_options.disc=none: the GAN loss (gan > 0) needs a discriminator")
        if self.init == "narrow" and self.prune != "none":
            raise ValueError("technique_options.init=narrow is a small dense net: set prune=none")


@TECHNIQUES.register("gan-finetune")
class GANFinetune(Technique):
    """Prune / distil / train-small baselines: the student's own GAN loss and/or output distillation."""

    Options = FinetuneOptions

    def __init__(self, setup, options=None):
        super().__init__(setup, options)
        o = self.opt
        if o.init == "narrow":
            self.student_recipe = self.recipe.narrowed(math.sqrt(1.0 - setup.prune.final_sparsity))
        self.gens = self.copy_of_teacher() if o.init == "dense" else self.fresh_generators(self.student_recipe)
        self.teacher = self.frozen_teacher() if o.distill > 0 else None
        lr_g, lr_d = self.learning_rates(from_scratch=o.init != "dense")
        self.discs = {"pretrained": lambda: setup.teacher_discs, "random": self.fresh_discriminators,
                      "none": lambda: None}[o.disc]()
        self.opt_g = self.adam(self.gens.parameters(), lr_g)
        self.opt_d = None
        if self.discs is not None:  # a fixed D runs in eval mode: weights and norm statistics as trained
            self.discs.train(o.train_d)
            self.opt_d = self.adam(self.discs.parameters(), lr_d) if o.train_d else None
        set_trainable(self.discs, False)
        if o.prune != "none":
            prune = dataclasses.replace(setup.prune, schedule="oneshot", begin=0.0) if o.prune == "oneshot" else None
            self.pruner = self.make_pruner(self.gens, self.opt_g, prune)

    def train_step(self, batch: Batch, step: int) -> dict[str, torch.Tensor]:
        r, o = self.recipe, self.opt
        logs: dict[str, torch.Tensor] = {}
        if self.pruner is not None:
            logs["prune/sparsity"] = torch.tensor(self.update_masks(step))
        out = r.generate(self.gens, batch)
        # (1) discriminator: its original loss on real vs the student's fakes
        if self.opt_d is not None and o.gan > 0:
            logs.update(scalars("D", self.discriminator_step(self.discs, self.opt_d, batch, r.fakes_for_d_update(out))))
        # (2) student: own GAN loss and/or distance to the teacher's outputs
        parts: dict[str, torch.Tensor] = {}
        if o.gan > 0:
            g_terms = finite("G", r.generator_terms(self.gens, self.discs, batch, out))
            parts["gan"] = o.gan * weighted_total(g_terms, r.g_weights)
            logs.update(scalars("G", g_terms))
        if o.distill > 0:
            with torch.no_grad():
                t_out = r.generate(self.teacher, batch)
            parts["distill"] = o.distill * distillation(t_out, out, o.distill_loss)
        loss = sum(parts.values())
        self.opt_g.zero_grad(set_to_none=True)
        self.backward(loss)
        self.update_student()
        logs.update({f"loss/{k}": v.detach() for k, v in parts.items()})
        logs["loss/total"] = loss.detach()
        return logs

    def update_masks(self, step: int) -> float:
        """Move the masks along the schedule; returns the sparsity level."""
        return self.pruner.step(step)

    def update_student(self) -> None:
        """The student's optimiser step (gradients are in place)."""
        self.optimizer_step(self.opt_g)

    def stateful(self) -> dict[str, Any]:
        state: dict[str, Any] = {"gens": self.gens, "opt_g": self.opt_g}
        if self.discs is not None:
            state["discs"] = self.discs
        if self.opt_d is not None:
            state["opt_d"] = self.opt_d
        if self.pruner is not None:
            state["pruner"] = self.pruner
        return state
