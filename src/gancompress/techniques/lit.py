"""LIT: learning intermediate representations (Koratana et al., ICML 2019): Table 1's technique (l).

Their idea: cut teacher and student into sections; each student section gets the
*teacher's* input to that section and learns to reproduce the teacher's output of it
(so sections train in parallel, without compounding errors), next to ordinary
knowledge distillation of the final output. Here:

- sections are the spans between consecutive pruned layers (every conv / deconv the
  prune config selects), so any recipe's generator is cut the same way without naming
  layers; a forward pre-hook on each such student layer records what arrives there
  (the student's previous section's output) and replaces it with the teacher's input to
  the same layer;
- ``features``: the mean squared error of every section's output against the
  teacher's (the last section's output is the generator output);
- ``distill``: the L1 distance of the student's ordinary forward pass to the teacher's
  outputs (the KD term);
- the student has the teacher's architecture, starts from random weights (the table's
  row) and is pruned on the run's schedule while it learns.

Left out: LIT's students are also shallower than their teachers (some sections are
dropped), and its KD term is on class logits; here depth is kept, and compression comes
from sparsity, as in every row of the table.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

import torch
from torch import nn

from gancompress.pruning.pruner import select_layers
from gancompress.recipes.base import Batch
from gancompress.techniques.base import TECHNIQUES, Technique, distillation, recording


@dataclass(frozen=True)
class LITOptions:
    features: float = 1.0  # weight of the per-section (intermediate) loss
    distill: float = 1.0  # weight of the L1 distance of the full forward pass to the teacher

    def __post_init__(self) -> None:
        if self.features < 0 or self.distill < 0 or self.features + self.distill == 0:
            raise ValueError(f"technique_options: features={self.features}, distill={self.distill}: "
                             "need >= 0 and one > 0")


@contextmanager
def sections_fed_by(layers: dict[str, nn.Module], teacher_inputs: dict[str, list[torch.Tensor]]
                    ) -> Iterator[dict[str, list[torch.Tensor]]]:
    """Feed each layer the teacher's input instead of its own; record what arrived (section outputs)."""
    arrived: dict[str, list[torch.Tensor]] = {name: [] for name in layers}

    def swap(module, args, name):
        k = len(arrived[name])
        arrived[name].append(args[0])
        return (teacher_inputs[name][k], *args[1:])

    handles = [m.register_forward_pre_hook(lambda mod, args, name=name: swap(mod, args, name))
               for name, m in layers.items()]
    try:
        yield arrived
    finally:
        for h in handles:
            h.remove()


@TECHNIQUES.register("lit")
class LIT(Technique):
    """Intermediate-representation distillation: student sections fed the teacher's inputs (Koratana et al. 2019)."""

    Options = LITOptions

    def __init__(self, setup, options=None):
        super().__init__(setup, options)
        self.teacher = self.frozen_teacher()
        self.gens = self.fresh_generators()
        self.opt_g = self.adam(self.gens.parameters(), self.learning_rates(from_scratch=True)[0])
        self.pruner = self.make_pruner(self.gens, self.opt_g)
        self.t_layers = select_layers(self.teacher, setup.prune)
        self.s_layers = select_layers(self.gens, setup.prune)

    def train_step(self, batch: Batch, step: int) -> dict[str, torch.Tensor]:
        r, o = self.recipe, self.opt
        sparsity = self.pruner.step(step)
        with torch.no_grad(), recording(self.t_layers, inputs=True) as t_inputs:
            t_out = r.generate(self.teacher, batch)
        parts: dict[str, torch.Tensor] = {}
        if o.features > 0:
            with sections_fed_by(self.s_layers, t_inputs) as arrived:
                last = r.generate(self.gens, batch)  # the last section's output, fed the teacher's input
            errors = [(a - t).pow(2).mean() for name in self.s_layers
                      for a, t in zip(arrived[name], t_inputs[name]) if a.requires_grad]
            errors += [(last[k] - t_out[k]).pow(2).mean() for k in last]
            parts["features"] = o.features * sum(errors) / len(errors)
        if o.distill > 0:
            parts["distill"] = o.distill * distillation(t_out, r.generate(self.gens, batch), "l1")
        loss = sum(parts.values())
        self.opt_g.zero_grad(set_to_none=True)
        self.backward(loss)
        self.optimizer_step(self.opt_g)
        return {**{f"loss/{k}": v.detach() for k, v in parts.items()}, "loss/total": loss.detach(),
                "prune/sparsity": torch.tensor(sparsity)}

    def stateful(self) -> dict[str, Any]:
        return {"gens": self.gens, "opt_g": self.opt_g, "pruner": self.pruner}
