"""Paired-image metrics: PSNR and SSIM (torchmetrics), with the SR Y-channel convention."""
from __future__ import annotations

import torch
from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure


def rgb_to_y(x01: torch.Tensor) -> torch.Tensor:
    """ITU-R BT.601 luma of RGB in [0, 1], as MATLAB's rgb2ycbcr: (N, 1, H, W) in [16/255, 235/255]."""
    r, g, b = x01[:, 0:1], x01[:, 1:2], x01[:, 2:3]
    return (16.0 + 65.481 * r + 128.553 * g + 24.966 * b) / 255.0


@torch.no_grad()
def psnr_ssim(pred: torch.Tensor, target: torch.Tensor, y_channel: bool = False, crop: int = 0) -> dict[str, float]:
    """Mean PSNR (dB) and SSIM of images in [-1, 1].

    For super-resolution, ``y_channel=True, crop=scale`` follows the usual convention:
    luma only, a border of `crop` pixels removed.
    """
    p, t = ((pred.float().clamp(-1, 1) + 1) / 2), ((target.float().clamp(-1, 1) + 1) / 2)
    if y_channel and p.shape[1] == 3:
        p, t = rgb_to_y(p), rgb_to_y(t)
    if crop:
        p, t = p[..., crop:-crop, crop:-crop], t[..., crop:-crop, crop:-crop]
    psnr = peak_signal_noise_ratio(p, t, data_range=1.0, reduction="none", dim=(1, 2, 3))
    ssim = structural_similarity_index_measure(p, t, data_range=1.0, reduction="none")
    return {"psnr": float(psnr.mean()), "ssim": float(ssim.mean())}
