"""Plain GAN training of a fresh generator and discriminator: what `gancompress train` runs."""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import torch

from gancompress.recipes.base import Batch, weighted_total
from gancompress.techniques.base import TECHNIQUES, Technique, finite, overridden_weights, scalars


@dataclass(frozen=True)
class DenseOptions:
    # generator term weights by logged name, e.g. {"G/adv": 0}: SRGAN's generator on its content loss
    # alone (the SRGAN paper's MSE pretraining); the other terms keep the recipe's weights
    weights: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, weight in self.weights.items():
            if not weight >= 0:
                raise ValueError(f"weights[{name!r}]={weight}: must be >= 0")


@TECHNIQUES.register("dense")
class DenseGANTraining(Technique):
    """The family's original training: a D step every step, a G step every ``recipe.n_critic`` steps.

    Fresh networks, or copies of ``setup``'s teacher networks when there are some (``train --init``).
    """

    Options = DenseOptions

    def __init__(self, setup, options=None):
        super().__init__(setup, options)
        dev = setup.device
        if setup.teacher_gens is None:
            self.gens = self.recipe.build_generators().to(dev).train()
            self.discs = self.recipe.build_discriminators().to(dev).train()
        else:  # warm start
            self.gens = self.copy_of_teacher()
            self.discs = copy.deepcopy(setup.teacher_discs).requires_grad_(True).train()
        self.g_weights = overridden_weights({"G": self.recipe.g_weights}, self.opt.weights)["G"]
        self.opt_g = self.adam(self.gens.parameters(), setup.lr_g)
        self.opt_d = self.adam(self.discs.parameters(), setup.lr_d)

    def train_step(self, batch: Batch, step: int) -> dict[str, torch.Tensor]:
        r = self.recipe
        g_step = (step + 1) % r.n_critic == 0
        with torch.set_grad_enabled(g_step):  # critic-only steps need no generator graph
            out = r.generate(self.gens, batch)
        # (1) discriminator: real vs detached fakes
        d_terms = self.discriminator_step(self.discs, self.opt_d, batch, r.fakes_for_d_update(out))
        # (2) generator: its own weighted terms against the updated discriminator (logged every step)
        with torch.set_grad_enabled(g_step):
            g_terms = finite("G", r.generator_terms(self.gens, self.discs, batch, out))
            g_loss = weighted_total(g_terms, self.g_weights)
        if g_step:
            self.opt_g.zero_grad(set_to_none=True)
            self.backward(g_loss)
            self.optimizer_step(self.opt_g)
        return {**scalars("G", g_terms), **scalars("D", d_terms), "G/total": g_loss.detach()}

    def stateful(self) -> dict[str, Any]:
        return {"gens": self.gens, "discs": self.discs, "opt_g": self.opt_g, "opt_d": self.opt_d}
