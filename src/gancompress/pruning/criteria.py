"""Importance criteria: weight tensor -> per-element score (higher = keep)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from gancompress.pruning.granularity import from_canonical, layer_kind, to_canonical
from gancompress.registry import Registry

Criterion = Callable[[torch.Tensor], torch.Tensor]
CRITERIA: Registry[Criterion] = Registry("criterion")


@CRITERIA.register("magnitude")
def magnitude(weight: torch.Tensor) -> torch.Tensor:
    """|w|: the classic magnitude criterion."""
    return weight.detach().abs()


# -- channel-importance criteria (for filter granularity; element scores averaged per filter) --------
@dataclass(frozen=True)
class Layer:
    """What a context-aware criterion may look at besides the weight: the layer and its network."""

    name: str
    module: nn.Module
    model: nn.Module


def wants_layer(fn: Criterion) -> Criterion:
    """Mark a criterion as taking ``(weight, layer: Layer)``."""
    fn.wants_layer = True
    return fn


def score(fn: Criterion, name: str, module: nn.Module, model: nn.Module) -> torch.Tensor:
    """Scores of `module.weight` under criterion `fn` (weight-only or context-aware)."""
    if getattr(fn, "wants_layer", False):
        return fn(module.weight, Layer(name, module, model))
    return fn(module.weight)


@CRITERIA.register("l2")
def l2(weight: torch.Tensor) -> torch.Tensor:
    """w^2: with filter granularity, ranks output channels by the L2 norm of their filters."""
    return weight.detach().float().square()


@CRITERIA.register("taylor")
def taylor(weight: torch.Tensor) -> torch.Tensor:
    """|w * dL/dw| (first-order Taylor estimate of the loss change from removing w).

    Uses the gradient of the latest backward pass (the previous training step's); before
    any gradient exists (the first pruning step, or right after a resume) it falls back to |w|.
    """
    if weight.grad is None:
        return weight.detach().abs()
    return (weight.detach() * weight.grad.detach()).abs()


def following_norm(model: nn.Module, name: str, channels: int) -> nn.Module | None:
    """The first normalisation layer after layer `name` (in module order) with `channels` features,
    if one comes before any other conv/linear layer."""
    found = False
    for other, m in model.named_modules():
        if other == name:
            found = True
        elif found:
            if isinstance(m, (nn.modules.batchnorm._NormBase, nn.GroupNorm)):
                features = getattr(m, "num_features", getattr(m, "num_channels", None))
                return m if features == channels else None
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
                return None
    return None


@CRITERIA.register("norm-scale")
@wants_layer
def norm_scale(weight: torch.Tensor, layer: Layer) -> torch.Tensor:
    """|w| * |gamma_c| / scale_c: magnitude of the weights with the following norm folded in.

    A norm right after a layer cancels the scale of its filters; what a channel passes on is
    set by the norm's |gamma| (network slimming). scale_c is the norm's running std when it
    has running statistics, else the filter's mean |w| (so a filter scores |gamma_c|).
    Without an affine norm after the layer: |w|.
    """
    kind = layer_kind(layer.module)
    w = to_canonical(weight.detach().abs(), kind)  # (out, in, kH, kW)
    norm = following_norm(layer.model, layer.name, w.shape[0])
    if norm is None or getattr(norm, "weight", None) is None:
        return weight.detach().abs()
    gamma = norm.weight.detach().abs().float()
    if getattr(norm, "running_var", None) is not None and isinstance(norm, nn.modules.batchnorm._BatchNorm):
        scale = (norm.running_var.detach().float() + norm.eps).sqrt()
    else:
        scale = w.float().mean(dim=(1, 2, 3)).clamp_min(1e-12)
    return from_canonical(w * (gamma / scale)[:, None, None, None], kind)
