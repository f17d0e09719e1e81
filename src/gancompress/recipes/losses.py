"""Per-sample GAN loss terms shared by the recipes. Every function returns shape (N,)."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def _per_sample(x: torch.Tensor) -> torch.Tensor:
    return x.reshape(x.shape[0], -1).mean(dim=1)


def bce_on_probs(probs: torch.Tensor, target: float) -> torch.Tensor:
    """BCE for a discriminator that ends in a sigmoid (DCGAN)."""
    return _per_sample(F.binary_cross_entropy(probs, torch.full_like(probs, target), reduction="none"))


def bce_on_logits(logits: torch.Tensor, target: float) -> torch.Tensor:
    """BCE on raw scores (vanilla GAN with a logit head)."""
    return _per_sample(
        F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target), reduction="none")
    )


def least_squares(scores: torch.Tensor, target: float) -> torch.Tensor:
    """LSGAN: mean squared distance of the scores to the target label."""
    return _per_sample((scores - target) ** 2)


def wasserstein(scores: torch.Tensor, sign: float) -> torch.Tensor:
    """WGAN critic term: -scores for 'real' (sign=+1), +scores for 'fake' (sign=-1)."""
    return -sign * _per_sample(scores)


def l1(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return _per_sample((a - b).abs())


def mse(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return _per_sample((a - b) ** 2)


def gradient_penalty(critic, real: torch.Tensor, fake: torch.Tensor, rng_like: torch.Tensor | None = None) -> torch.Tensor:
    """WGAN-GP: (||grad_x critic(x_hat)||_2 - 1)^2 on random interpolates, per sample.

    `critic` maps images to scores; gradients flow into `fake` as well (create_graph),
    so the term can supervise a generator.
    """
    alpha = torch.rand(real.shape[0], 1, 1, 1, device=real.device) if rng_like is None else rng_like
    x_hat = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    scores = critic(x_hat)
    (grad,) = torch.autograd.grad(scores.sum(), x_hat, create_graph=True)
    return (grad.reshape(grad.shape[0], -1).norm(2, dim=1) - 1) ** 2
