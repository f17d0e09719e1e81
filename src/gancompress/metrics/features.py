"""Feature networks for FID/KID: the shipped offline ones, and Inception when its weights exist.

Every feature net is an ``nn.Module`` mapping images in [-1, 1] (N, C, H, W) to
(N, D) features, with ``num_features`` and a ``description`` that reports name it.
"""
from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from gancompress.registry import Registry

FEATURE_NETS: Registry[Callable[[], nn.Module]] = Registry("feature network")
INCEPTION_FILE = "inception-2015-12-05.pt"  # the TorchScript file of StyleGAN2-ADA / clean-fid


def _shipped(net: nn.Module, asset: Path) -> nn.Module:
    from safetensors.torch import load_file

    net.load_state_dict(load_file(str(asset)))
    return net.eval().requires_grad_(False)


@FEATURE_NETS.register("digits-classifier")
def _digits() -> nn.Module:
    from gancompress.metrics.digits_classifier import ASSETS, DigitClassifier

    return _shipped(DigitClassifier("digits"), ASSETS["digits"])


@FEATURE_NETS.register("mnist-classifier")
def _mnist() -> nn.Module:
    from gancompress.metrics.digits_classifier import ASSETS, DigitClassifier

    return _shipped(DigitClassifier("mnist5k"), ASSETS["mnist5k"])


@FEATURE_NETS.register("photo-patches")
def _photo_patches() -> nn.Module:
    from gancompress.metrics.photo_features import ASSET, PhotoPatchNet

    return _shipped(PhotoPatchNet(), ASSET)


@functools.lru_cache(maxsize=None)
def load_feature_net(name: str) -> nn.Module:
    """A registered, shipped feature network (cached, eval mode, frozen)."""
    return FEATURE_NETS.get(name)()


def _check_torchscript_archive(path: Path) -> None:
    """A TorchScript file is a zip archive holding ``code/`` and ``constants.pkl``; anything else (text,
    a pickle, safetensors) is refused before torch.jit.load reads it."""
    import zipfile

    if not zipfile.is_zipfile(path):
        raise ValueError(f"--inception {str(path)!r} is not a TorchScript file (not a zip archive); expected "
                         "the inception-2015-12-05.pt of StyleGAN2-ADA / clean-fid")
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    if not any("/code/" in n or n.startswith("code/") for n in names):
        raise ValueError(f"--inception {str(path)!r} is a zip archive but not TorchScript (no code/ inside): "
                         "a torch.save file or another archive")


CLEAN_FID_SIZE = 299
CLEAN_FID_PROTOCOL = "clean-fid protocol: uint8 quantisation, per-channel PIL bicubic resize to 299x299"


def quantise_uint8(x: torch.Tensor) -> torch.Tensor:
    """Images in [-1, 1] -> the uint8 values a saved PNG holds: round((x + 1) * 127.5), clamped."""
    return ((x.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def clean_fid_resize(x: torch.Tensor, size: int = CLEAN_FID_SIZE) -> torch.Tensor:
    """clean-fid's preprocessing (Parmar et al. 2022): (N, C, H, W) in [-1, 1] -> uint8 values -> each channel
    resized by PIL's bicubic filter on a float image, clipped to [0, 255]; (N, 3, size, size) float 0..255."""
    import numpy as np
    from PIL import Image

    values = quantise_uint8(x if x.shape[1] == 3 else x.expand(-1, 3, -1, -1)).numpy().astype(np.float32)
    out = np.empty((len(values), 3, size, size), dtype=np.float32)
    for i, image in enumerate(values):
        for c, channel in enumerate(image):
            resized = Image.fromarray(channel, mode="F").resize((size, size), resample=Image.BICUBIC)
            out[i, c] = np.asarray(resized).clip(0, 255)
    return torch.from_numpy(out)


class InceptionFeatures(nn.Module):
    """2048-d pool features of the TorchScript Inception-v3 used by StyleGAN2-ADA and clean-fid, on images
    preprocessed as clean-fid does (`clean_fid_resize`); the protocol moves FID by several points."""

    num_features = 2048

    def __init__(self, path: str | Path):
        super().__init__()
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"Inception weights {str(path)!r} not found")
        _check_torchscript_archive(path)
        try:  # TorchScript runs the code stored in the file: only a file you trust (docs: --inception)
            self.net = torch.jit.load(str(path), map_location="cpu").eval()
        except RuntimeError as err:
            raise ValueError(f"--inception {str(path)!r}: not a loadable TorchScript model "
                             f"({str(err).splitlines()[0][:200]})") from None
        self.description = f"inception-v3: standard Inception-FID features from {path.name} ({CLEAN_FID_PROTOCOL})"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        device = next(iter(self.net.parameters()), torch.empty(0)).device
        return self.net(clean_fid_resize(x.cpu()).to(device), return_features=True)  # 0..255 at 299: no resize inside


def standard_inception_path() -> Path | None:
    """The Inception file in the usual caches, if a user has one."""
    home = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    for candidate in (home / "clean-fid" / INCEPTION_FILE, home / "gancompress" / INCEPTION_FILE,
                      Path(os.environ.get("TORCH_HOME", home / "torch")) / INCEPTION_FILE):
        if candidate.is_file():
            return candidate
    return None


class NoFeatures:
    """Stands in for a feature network when there is none: nothing computes FID, and outputs say so."""

    description = "none: no feature network given (no FID / KID)"


def describe(net) -> str:
    """What a feature network is called in outputs (a user's module may not say)."""
    return getattr(net, "description", None) or f"{type(net).__name__} (a feature network given by the user)"


def resolve_feature_net(inception: str | Path | None, default: str) -> nn.Module:
    """Inception from `inception` (or a standard cache) when present, else the recipe's offline net."""
    path = Path(inception) if inception else standard_inception_path()
    if path is not None:
        return InceptionFeatures(path).requires_grad_(False)
    return load_feature_net(default)
