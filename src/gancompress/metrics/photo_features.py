"""A small photo-patch CNN: the offline feature network for FID/KID on natural-photo GANs.

It is *not* Inception: FID computed on its features is only comparable with other
FIDs computed on the same features. It is trained, on one CPU thread in minutes, on
random crops of the 20 real photographs bundled with scikit-image and scikit-learn,
with two heads: which photo a crop comes from (content and texture) and which
corruption was applied to it (none, blur, noise, colour shift, JPEG-like blocks,
transposed-convolution checkerboard), so the features react to the artefacts that
compressing an image-to-image GAN tends to cause. Rebuild the shipped weights with

    python -m gancompress.metrics.photo_features --seed 0 --steps 1200
"""
from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass
from pathlib import Path

import click
import torch
import torch.nn.functional as F
from torch import nn

from gancompress.data.bundled import bundled_photo
from gancompress.metrics.asset_training import save_asset

ASSET = Path(__file__).resolve().parent.parent / "assets" / "feature_nets" / "photo_patches.safetensors"
# the photos the feature network is trained on (more than any task uses, and grey ones in colour layout)
FEATURE_RGB_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry",
                      "retina", "motorcycle_left", "china", "flower")
FEATURE_GREY_PHOTOS = ("camera", "coins", "moon", "page", "text", "brick", "grass", "gravel", "clock", "cell")
CORRUPTIONS = ("none", "blur", "noise", "colour", "blocks", "checker")
HELD_OUT = 0.2  # the right-most fifth of every photo is never trained on


def _conv(cin: int, cout: int, stride: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]


class PhotoPatchNet(nn.Module):
    """CNN on RGB images in [-1, 1] of any size >= 32 px; 128-d features, photo and corruption logits."""

    num_features = 128
    description = ("photo-patches: 128-d features of the bundled photo-patch CNN, trained on the "
                   "scikit-image/scikit-learn sample photos (offline; not Inception)")

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            *_conv(3, 32), *_conv(32, 32, 2),  # (N, 32, H/2, W/2)
            *_conv(32, 64), *_conv(64, 64, 2),  # (N, 64, H/4, W/4)
            *_conv(64, 128), *_conv(128, 128, 2),  # (N, 128, H/8, W/8)
            *_conv(128, 128),  # (N, 128, H/8, W/8)
        )
        self.layout = nn.AdaptiveAvgPool2d(2)  # (N, 128, 2, 2): coarse spatial layout at any size
        self.project = nn.Linear(128 * 4 + 128, self.num_features)  # layout + per-channel spread
        n_photos = len(FEATURE_RGB_PHOTOS + FEATURE_GREY_PHOTOS)
        self.photo_head = nn.Sequential(nn.ReLU(), nn.Dropout(0.2), nn.Linear(self.num_features, n_photos))
        self.corruption_head = nn.Sequential(nn.ReLU(), nn.Dropout(0.2), nn.Linear(self.num_features, len(CORRUPTIONS)))

    @staticmethod
    def prepare(x: torch.Tensor) -> torch.Tensor:
        """(N, 1 or 3, H, W) in [-1, 1] -> (N, 3, H, W) float."""
        if x.dim() != 4 or x.shape[1] not in (1, 3) or min(x.shape[-2:]) < 32:
            raise ValueError(f"expected (N, 1 or 3, H, W) images with H, W >= 32, got {tuple(x.shape)}")
        return x.float().expand(-1, 3, -1, -1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Features (N, 128); this is what FID/KID use."""
        h = self.body(self.prepare(x))  # (N, 128, H/8, W/8)
        spread = h.flatten(2).std(dim=2)  # (N, 128): texture energy, sensitive to blur and noise
        return self.project(torch.cat([self.layout(h).flatten(1), spread], 1))  # (N, 128)

    forward = features

    def forward_logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(photo logits (N, 20), corruption logits (N, 6))."""
        f = self.features(x)
        return self.photo_head(f), self.corruption_head(f)


@functools.lru_cache(maxsize=1)
def load_photos() -> tuple[torch.Tensor, ...]:
    """The 20 bundled photos as (3, H, W) tensors in [-1, 1] (grey ones repeated to RGB), no download."""
    return tuple(bundled_photo(name).expand(3, -1, -1).contiguous() for name in FEATURE_RGB_PHOTOS + FEATURE_GREY_PHOTOS)


def random_crops(n: int, size: int, split: str, rng: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """`n` random square crops (random photo, scale, position, flip) resized to `size`: ((n, 3, size, size), labels).

    split="train" crops the left 80% of each photo, split="test" the held-out right 20%.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split={split!r}: valid: train, test")
    photos = load_photos()
    labels = torch.randint(len(photos), (n,), generator=rng)
    crops = []
    for label in labels.tolist():
        photo = photos[label]
        h, w = photo.shape[-2:]
        cut = round(w * (1 - HELD_OUT))
        region = photo[..., :cut] if split == "train" else photo[..., cut:]
        hi = min(h, region.shape[-1])
        lo = min(size, hi)
        side = int(math.exp(math.log(lo) + float(torch.rand((), generator=rng)) * math.log(hi / lo)))
        top = int(torch.randint(h - side + 1, (), generator=rng))
        left = int(torch.randint(region.shape[-1] - side + 1, (), generator=rng))
        crop = region[None, :, top:top + side, left:left + side]
        if side != size:
            crop = F.interpolate(crop, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        crops.append(crop.flip(-1) if torch.rand((), generator=rng) < 0.5 else crop)
    return torch.cat(crops), labels


def _uniform(n: int, lo: float, hi: float, rng: torch.Generator, *shape: int) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(n, *shape, generator=rng)


def _blur(x: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
    n, c, h, w = x.shape
    t = torch.arange(-4, 5).float()
    k = torch.exp(-t ** 2 / (2 * _uniform(n, 0.5, 2.0, rng, 1) ** 2))  # (n, 9) Gaussians
    k = (k / k.sum(1, keepdim=True)).repeat_interleave(c, 0)  # (n*c, 9)
    y = F.pad(x.reshape(1, n * c, h, w), (4, 4, 4, 4), mode="reflect")
    y = F.conv2d(y, k[:, None, :, None], groups=n * c)
    return F.conv2d(y, k[:, None, None, :], groups=n * c).reshape(n, c, h, w)


def _noise(x: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
    return x + _uniform(len(x), 0.03, 0.25, rng, 1, 1, 1) * torch.randn(x.shape, generator=rng)


def _colour(x: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
    gain = torch.exp(_uniform(len(x), -0.3, 0.3, rng, 3, 1, 1))
    return x * gain + _uniform(len(x), -0.25, 0.25, rng, 3, 1, 1)


def _blocks(x: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
    """JPEG-like: keep each block's mean, quantise the detail inside it."""
    b = 8 if min(x.shape[-2:]) >= 64 else 4
    mean = F.interpolate(F.avg_pool2d(x, b, ceil_mode=True), size=x.shape[-2:], mode="nearest")
    q = _uniform(len(x), 0.15, 0.5, rng, 1, 1, 1)
    return mean + torch.round((x - mean) / q) * q


def _checker(x: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
    """Transposed-convolution artefacts: a random zero-mean 2x2 tile repeated over the image."""
    n, c, h, w = x.shape
    tile = torch.randn(n, c, 2, 2, generator=rng)
    tile = tile - tile.mean((2, 3), keepdim=True)
    tile = tile / tile.flatten(1).norm(dim=1).clamp_min(1e-6)[:, None, None, None] * 2  # unit RMS
    pattern = tile.repeat(1, 1, (h + 1) // 2, (w + 1) // 2)[..., :h, :w]
    return x + _uniform(n, 0.03, 0.12, rng, 1, 1, 1) * pattern


CORRUPT = {1: _blur, 2: _noise, 3: _colour, 4: _blocks, 5: _checker}


def corrupt(x: torch.Tensor, kinds: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
    """Apply CORRUPTIONS[kinds[i]] (random strength) to image i; result clamped to [-1, 1]."""
    x = x.clone()
    for kind, fn in CORRUPT.items():
        idx = (kinds == kind).nonzero().flatten()
        if len(idx):
            x[idx] = fn(x[idx], rng)
    return x.clamp(-1, 1)


@dataclass(frozen=True)
class PhotoTrainOptions:
    steps: int = 1200
    batch_size: int = 48
    sizes: tuple[int, ...] = (32, 48, 64)  # cycled batch by batch
    lr: float = 2e-3

    def __post_init__(self):
        if self.steps < 1:
            raise ValueError(f"steps={self.steps}: must be >= 1")
        if self.batch_size < 2:
            raise ValueError(f"batch_size={self.batch_size}: must be >= 2")
        if not self.sizes or min(self.sizes) < 32:
            raise ValueError(f"sizes={self.sizes}: need at least one size, all >= 32")
        if not self.lr > 0:
            raise ValueError(f"lr={self.lr}: must be > 0")


def _batch(n: int, size: int, split: str, rng: torch.Generator):
    x, photo = random_crops(n, size, split, rng)
    kinds = torch.randint(len(CORRUPTIONS), (n,), generator=rng)
    return corrupt(x, kinds, rng), photo, kinds


def train_photo_net(seed: int = 0, options: PhotoTrainOptions = PhotoTrainOptions(), log=print) -> PhotoPatchNet:
    """Train both heads on crops of the training region (left 80%) of every photo."""
    torch.manual_seed(seed)
    rng = torch.Generator().manual_seed(seed)
    model = PhotoPatchNet()
    opt = torch.optim.AdamW(model.parameters(), lr=options.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, options.lr, total_steps=options.steps, pct_start=0.1)
    start = time.time()
    for step in range(options.steps):
        model.train()
        x, photo, kinds = _batch(options.batch_size, options.sizes[step % len(options.sizes)], "train", rng)
        photo_logits, kind_logits = model.forward_logits(x)
        loss = F.cross_entropy(photo_logits, photo) + F.cross_entropy(kind_logits, kinds)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if (step + 1) % 100 == 0:
            log(f"step {step + 1}/{options.steps} loss {loss.item():.3f} ({time.time() - start:.0f} s)")
    return model.eval()


@torch.no_grad()
def held_out_accuracy(model: PhotoPatchNet, size: int, n: int = 600, seed: int = 1234) -> dict[str, float]:
    """Photo and corruption accuracy on `n` seeded crops of the held-out right 20% of the photos."""
    x, photo, kinds = _batch(n, size, "test", torch.Generator().manual_seed(seed))
    logits = [model.eval().forward_logits(part) for part in x.split(200)]
    photo_pred = torch.cat([p for p, _ in logits]).argmax(1)
    kind_pred = torch.cat([k for _, k in logits]).argmax(1)
    return {"photo": float((photo_pred == photo).float().mean()),
            "corruption": float((kind_pred == kinds).float().mean())}


@click.command(help=__doc__.splitlines()[0])
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--steps", type=int, default=PhotoTrainOptions.steps, show_default=True)
@click.option("--batch-size", type=int, default=PhotoTrainOptions.batch_size, show_default=True)
@click.option("--out", type=click.Path(path_type=Path), default=ASSET, show_default=True)
def main(seed: int, steps: int, batch_size: int, out: Path) -> None:
    start = time.time()
    model = train_photo_net(seed, PhotoTrainOptions(steps=steps, batch_size=batch_size))
    metadata = {"seed": str(seed), "steps": str(steps), "batch_size": str(batch_size),
                "train_seconds": f"{time.time() - start:.0f}"}
    for size in (32, 64, 128):
        acc = held_out_accuracy(model, size)
        metadata.update({f"held_out_photo_acc_{size}": f"{acc['photo']:.4f}",
                         f"held_out_corruption_acc_{size}": f"{acc['corruption']:.4f}"})
    save_asset(model, out, metadata)
    click.echo(" ".join(f"{k}={v}" for k, v in metadata.items()) + f"; written to {out}")


if __name__ == "__main__":
    main()
