"""An exponential moving average of the student's weights (Polyak averaging).

GAN training ends wherever its last noisy step leaves it; the average of the last
few hundred steps is a steadier network. The average keeps the student's zeros: a
weight the pruner has zeroed is zero in the average too, so sparsity is unchanged.
"""
from __future__ import annotations

import torch
from torch import nn


class WeightAverage:
    """``average = decay * average + (1 - decay) * weights`` after every step; `copy_into` swaps it in."""

    def __init__(self, nets: nn.Module, decay: float):
        self.nets, self.decay = nets, decay
        self.average = {k: v.detach().clone() for k, v in nets.state_dict().items()}

    @torch.no_grad()
    def update(self) -> None:
        for name, value in self.nets.state_dict().items():
            avg = self.average[name]
            if value.is_floating_point():
                avg.lerp_(value, 1.0 - self.decay).masked_fill_(value == 0, 0.0)
            else:  # counters such as BatchNorm's num_batches_tracked
                avg.copy_(value)

    def copy_into(self) -> None:
        """Give the networks the averaged weights (at the end of training)."""
        self.nets.load_state_dict(self.average)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {k: v.clone() for k, v in self.average.items()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        missing = sorted(set(self.average) - set(state))
        if missing:
            raise KeyError(f"weight average has no entry for {missing[0]!r}")
        for name, avg in self.average.items():
            avg.copy_(state[name])
