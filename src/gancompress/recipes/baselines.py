"""Non-learned baselines, shaped like the generators they stand in for, so a recipe's own
``evaluate`` scores them exactly as it scores a model (`gancompress evaluate`)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gancompress.data.aligned import to_channels


class Passthrough(nn.Module):
    """The input itself as the output (channels converted: grey repeated, colour to BT.601 luma);
    extra arguments (a target label) are ignored."""

    def __init__(self, out_channels: int):
        super().__init__()
        self.out_channels = out_channels

    def forward(self, x: torch.Tensor, *ignored) -> torch.Tensor:
        return torch.stack([to_channels(img, self.out_channels) for img in x])


class Desaturate(Passthrough):
    """Colour -> black and white: BT.601 luma, repeated to 3 channels."""

    def __init__(self):
        super().__init__(3)

    def forward(self, x: torch.Tensor, *ignored) -> torch.Tensor:
        return torch.stack([to_channels(to_channels(img, 1), 3) for img in x])


class GaussianSmoothing(nn.Module):
    """The classical linear denoiser: every channel blurred by a Gaussian of `sigma` pixels."""

    def __init__(self, sigma: float):
        super().__init__()
        self.sigma = sigma

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from gancompress.data.photo_tasks import gaussian_blur

        return torch.stack([gaussian_blur(img, self.sigma) for img in x])


class Bicubic(nn.Module):
    """Bicubic upsampling by `scale` (the super-resolution baseline)."""

    def __init__(self, scale: int):
        super().__init__()
        self.scale = scale

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        return F.interpolate(lr, scale_factor=self.scale, mode="bicubic", align_corners=False).clamp(-1, 1)


class PCAGaussian(nn.Module):
    """Unconditional generation without learning: a Gaussian on the first `k` principal components of the
    training images. z (N, nz, 1, 1) -> mean + sum_i z_i sqrt(var_i) pc_i, clamped to [-1, 1]."""

    def __init__(self, images: torch.Tensor, nz: int, k: int = 32):
        super().__init__()
        flat = images.flatten(1).double()
        mean = flat.mean(0)
        k = min(k, nz, len(flat) - 1)
        _, s, v = torch.linalg.svd(flat - mean, full_matrices=False)
        self.register_buffer("mean", mean.float())
        self.register_buffer("basis", (v[:k] * (s[:k, None] / (len(flat) - 1) ** 0.5)).float())  # (k, pixels)
        self.shape = tuple(images.shape[1:])

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        coeffs = z.flatten(1)[:, :len(self.basis)]
        return (self.mean + coeffs @ self.basis).clamp(-1, 1).view(len(z), *self.shape)
