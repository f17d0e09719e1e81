"""A small domain classifier for the built-in texture task (brick / grass / gravel).

It tells which domain an image belongs to, so StarGAN's translations can be checked:
``domain_acc`` is the share of translated held-out patches classified as their target
domain. Rebuild the shipped weights with

    python -m gancompress.metrics.domain_classifier --seed 0 --epochs 8
"""
from __future__ import annotations

import functools
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from gancompress.metrics.asset_training import classifier_main

ASSET = Path(__file__).resolve().parent.parent / "assets" / "feature_nets" / "texture_domains.safetensors"


class DomainClassifier(nn.Module):
    """CNN on 32x32 images in [-1, 1] (any channel count, averaged to grey): 3 domain logits."""

    def __init__(self, n_domains: int = 3, width: int = 16):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (N, w, 16, 16)
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (N, 2w, 8, 8)
            nn.Conv2d(2 * width, 4 * width, 3, padding=1), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),  # (N, 4w)
        )
        self.head = nn.Linear(4 * width, n_domains)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.float().mean(1, keepdim=True)
        if x.shape[-2:] != (32, 32):
            x = F.interpolate(x, size=(32, 32), mode="bilinear", antialias=True, align_corners=False)
        return self.head(self.body(x))


@functools.lru_cache(maxsize=1)
def load_domain_classifier() -> DomainClassifier:
    from safetensors.torch import load_file

    net = DomainClassifier()
    net.load_state_dict(load_file(str(ASSET)))
    return net.eval().requires_grad_(False)


@torch.no_grad()
def domain_accuracy(model: nn.Module, images: torch.Tensor, targets: torch.Tensor) -> float:
    """Share of `images` classified as their one-hot `targets`' domain."""
    pred = torch.cat([model(part) for part in images.split(250)]).argmax(1)
    return float((pred == targets.argmax(1)).float().mean())


def train_domain_classifier(seed: int = 0, epochs: int = 8, batch_size: int = 64) -> tuple[DomainClassifier, float]:
    """Train on the texture training patches (random flips); returns the model and its held-out accuracy."""
    from gancompress.data.multidomain import texture_domains

    torch.manual_seed(seed)
    rng = torch.Generator().manual_seed(seed)
    x, y = texture_domains("train").tensors
    model = DomainClassifier()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    for _ in range(epochs):
        model.train()
        for idx in torch.randperm(len(x), generator=rng).split(batch_size):
            xb = x[idx]
            flip = torch.rand(len(idx), generator=rng) < 0.5
            xb = torch.where(flip[:, None, None, None], xb.flip(-1), xb)
            loss = F.cross_entropy(model(xb), y[idx].argmax(1))
            opt.zero_grad()
            loss.backward()
            opt.step()
    xt, yt = texture_domains("test").tensors
    return model.eval(), domain_accuracy(model.eval(), xt, yt)


main = classifier_main(__doc__, train_domain_classifier, epochs=8, asset=ASSET)


if __name__ == "__main__":
    main()
