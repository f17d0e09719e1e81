"""E-M pruning in the style of QGAN (Wang et al., 2019): Table 1's technique (m).

QGAN quantises a GAN with an expectation-maximisation loop: the E-step assigns every
weight to a quantisation level given the current weights, the M-step trains the weights
given that assignment. The pruning analogue here, a binary "level" per weight:

- the student keeps dense *latent* weights; every ``e_every`` steps (and whenever the
  schedule raises the level) the E-step recomputes the masks from the latent weights'
  magnitudes, so a pruned weight can come back (unlike the other rows, whose masks only
  grow);
- in the M-steps the masked weights run the forward pass and the gradients update the
  latent weights (straight-through), with the student's own GAN loss against the
  pretrained discriminator, which keeps training (as in (d) and (e));
- the level follows the run's schedule; the saved student is latent x mask.

Left out: QGAN's multi-precision levels and its per-layer bit allocation.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from gancompress.techniques.base import TECHNIQUES
from gancompress.techniques.gan_finetune import FinetuneOptions, GANFinetune


@dataclass(frozen=True)
class EMOptions(FinetuneOptions):
    e_every: int = 10  # steps between E-steps (mask re-assignment from the latent weights)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.e_every < 1:
            raise ValueError(f"technique_options.e_every={self.e_every}: must be >= 1")
        if self.prune == "none":
            raise ValueError("technique_options.prune=none: E-M pruning needs a pruning schedule")


class LatentWeights:
    """Dense copies of the pruned layers' weights, with state_dict/load_state_dict for checkpoints."""

    def __init__(self, layers):
        self.layers = layers
        self.values = {name: m.weight.detach().clone() for name, m in layers.items()}

    @torch.no_grad()
    def load_into_layers(self) -> None:
        for name, m in self.layers.items():
            m.weight.copy_(self.values[name])

    @torch.no_grad()
    def take_from_layers(self) -> None:
        for name, m in self.layers.items():
            self.values[name].copy_(m.weight)

    def state_dict(self) -> dict:
        return {name: v.clone() for name, v in self.values.items()}

    def load_state_dict(self, state: dict) -> None:
        for name in self.values:
            self.values[name].copy_(state[name])


@TECHNIQUES.register("em-pruning")
class EMPruning(GANFinetune):
    """Alternate mask assignment (E) and weight training through the masks (M), as QGAN does for levels."""

    Options = EMOptions

    def __init__(self, setup, options=None):
        super().__init__(setup, options)
        self.pruner.remove()  # masks are re-assigned, not grown: no hook re-zeroing the latent weights
        self.latent = LatentWeights(self.pruner.layers)

    @torch.no_grad()
    def update_masks(self, step: int) -> float:
        level = self.pruner.scheduled(step)
        if step % self.opt.e_every == 0 or level > self.pruner.level:  # E-step
            self.latent.load_into_layers()
            self.pruner.reset_masks()
            self.pruner.prune_now(level)  # masks from the latent magnitudes, applied to the weights
        return self.pruner.level

    def update_student(self) -> None:  # M-step: straight-through update of the latent weights
        self.latent.load_into_layers()
        self.optimizer_step(self.opt_g)
        self.latent.take_from_layers()
        self.pruner.apply_masks()

    def stateful(self) -> dict[str, Any]:
        return {**super().stateful(), "latent": self.latent}
