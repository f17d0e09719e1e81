"""Adversarial learning of a student (Wang et al., AAAI 2018): Table 1's technique (j).

Their idea: a *new* discriminator learns to tell the teacher's outputs from the
student's, and the student learns to fool it, alongside a knowledge-distillation term.
Here, at the level of generated images:

- the student has the teacher's architecture, starts from random weights and is pruned
  on the run's schedule while it learns (as in the paper's row: a sparse student, a new D);
- the new discriminator has the recipe's architecture, random weights, and trains with
  the recipe's discriminator loss where the teacher's outputs play the real data
  (``recipe.teacher_as_data``);
- the student minimises the recipe's generator loss against that discriminator on the
  same teacher-as-data batch, plus ``distill`` x the L1 distance to the teacher's outputs.

Left out: Wang et al. discriminate intermediate features of classification nets and
use a teacher's soft labels; generators have neither labels nor a canonical feature
layer, so the outputs stand in for both. Both nets train at the recipe's original
learning rates (they start from random weights).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from gancompress.recipes.base import Batch, weighted_total
from gancompress.techniques.base import TECHNIQUES, Technique, distillation, finite, scalars


@dataclass(frozen=True)
class AdversarialKDOptions:
    distill: float = 1.0  # weight of the L1 distance to the teacher's outputs

    def __post_init__(self) -> None:
        if self.distill < 0:
            raise ValueError(f"technique_options.distill={self.distill}: must be >= 0")


@TECHNIQUES.register("adversarial-kd")
class AdversarialKD(Technique):
    """A random student and a new D that tells teacher outputs from student outputs (Wang et al. 2018)."""

    Options = AdversarialKDOptions

    def __init__(self, setup, options=None):
        super().__init__(setup, options)
        self.teacher = self.frozen_teacher()
        self.gens = self.fresh_generators()
        self.discs = self.fresh_discriminators()
        lr_g, lr_d = self.learning_rates(from_scratch=True)
        self.opt_g = self.adam(self.gens.parameters(), lr_g)
        self.opt_d = self.adam(self.discs.parameters(), lr_d)
        self.pruner = self.make_pruner(self.gens, self.opt_g)

    def train_step(self, batch: Batch, step: int) -> dict[str, torch.Tensor]:
        r = self.recipe
        sparsity = self.pruner.step(step)
        with torch.no_grad():
            t_out = r.generate(self.teacher, batch)
        as_data = r.teacher_as_data(batch, t_out)  # the teacher's outputs play the real examples
        s_out = r.generate(self.gens, batch)
        # (1) new discriminator: teacher outputs are "real", student outputs "fake"
        d_terms = self.discriminator_step(self.discs, self.opt_d, as_data, r.fakes_for_d_update(s_out))
        # (2) student: fool the new D, and stay close to the teacher's outputs
        g_terms = finite("G", r.generator_terms(self.gens, self.discs, as_data, s_out))
        parts = {"adv_kd": weighted_total(g_terms, r.g_weights)}
        if self.opt.distill > 0:
            parts["distill"] = self.opt.distill * distillation(t_out, s_out, "l1")
        loss = sum(parts.values())
        self.opt_g.zero_grad(set_to_none=True)
        self.backward(loss)
        self.optimizer_step(self.opt_g)
        return {**scalars("G", g_terms), **scalars("D", d_terms),
                **{f"loss/{k}": v.detach() for k, v in parts.items()}, "loss/total": loss.detach(),
                "prune/sparsity": torch.tensor(sparsity)}

    def stateful(self) -> dict[str, Any]:
        return {"gens": self.gens, "discs": self.discs, "opt_g": self.opt_g, "opt_d": self.opt_d,
                "pruner": self.pruner}
