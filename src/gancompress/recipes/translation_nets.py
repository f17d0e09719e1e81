"""Image-to-image networks, options and helpers shared by pix2pix and CycleGAN.

Module nesting, layer order and so state-dict keys follow junyanz/pytorch-CycleGAN-and-pix2pix
(``models/networks.py``), so ``latest_net_G.pth`` / ``latest_net_G_A.pth`` / ``latest_net_D_A.pth``
saved by that code load as they are, given the same options:

- U-Net: ``model.model.0`` (outer down-conv), ``model.model.1.model.1`` (next down-conv), ...
- ResNet: ``model.1`` (7x7 conv), ``model.10.conv_block.1`` (first residual block), ...
- PatchGAN: ``model.0``, ``model.2``, ``model.3`` (norm), ...

``norm``: batch (affine, running stats), instance (no affine, no running stats), none.
Convolutions followed by a norm carry a bias only with instance norm, as in the reference.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import partial
from typing import Callable, ClassVar

import torch
from torch import nn

from gancompress.data.aligned import Transform
from gancompress.recipes.losses import bce_on_logits, least_squares

NORMS = ("batch", "instance", "none")
GENERATORS = "unet (depth from the image size), unet_<size> (e.g. unet_256), resnet_<n>blocks (e.g. resnet_9blocks)"


def norm_layer(kind: str) -> Callable[[int], nn.Module]:
    if kind == "batch":
        return partial(nn.BatchNorm2d, affine=True, track_running_stats=True)
    if kind == "instance":
        return partial(nn.InstanceNorm2d, affine=False, track_running_stats=False)
    if kind == "none":
        return lambda channels: nn.Identity()
    raise ValueError(f"norm={kind!r}: valid: {', '.join(NORMS)}")


class UnetSkipConnectionBlock(nn.Module):
    """x (N, outer, H, W) -> cat[x, up(sub(down(x)))] (N, 2*outer, H, W); the outermost block
    returns up(sub(down(x))) (N, outer, H, W) only."""

    def __init__(self, outer_nc: int, inner_nc: int, input_nc: int | None = None,
                 submodule: nn.Module | None = None, outermost: bool = False, innermost: bool = False,
                 norm: str = "batch", use_dropout: bool = False):
        super().__init__()
        self.outermost = outermost
        make_norm, bias = norm_layer(norm), norm == "instance"
        down = nn.Conv2d(input_nc or outer_nc, inner_nc, 4, 2, 1, bias=bias)  # H -> H/2
        if outermost:
            up = nn.ConvTranspose2d(inner_nc * 2, outer_nc, 4, 2, 1)  # H/2 -> H
            layers = [down, submodule, nn.ReLU(True), up, nn.Tanh()]
        elif innermost:
            up = nn.ConvTranspose2d(inner_nc, outer_nc, 4, 2, 1, bias=bias)
            layers = [nn.LeakyReLU(0.2, True), down, nn.ReLU(True), up, make_norm(outer_nc)]
        else:
            up = nn.ConvTranspose2d(inner_nc * 2, outer_nc, 4, 2, 1, bias=bias)
            layers = [nn.LeakyReLU(0.2, True), down, make_norm(inner_nc), submodule,
                      nn.ReLU(True), up, make_norm(outer_nc)] + ([nn.Dropout(0.5)] if use_dropout else [])
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x) if self.outermost else torch.cat([x, self.model(x)], 1)


class UnetGenerator(nn.Module):
    """(N, input_nc, S, S) -> (N, output_nc, S, S) in [-1, 1], S = 2**num_downs (1x1 bottleneck)."""

    def __init__(self, input_nc: int, output_nc: int, num_downs: int, ngf: int = 64,
                 norm: str = "batch", use_dropout: bool = False):
        super().__init__()
        if num_downs < 5:
            raise ValueError(f"U-Net depth {num_downs}: needs >= 5 down-samplings (images of >= 32 px)")
        block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, innermost=True, norm=norm)
        for _ in range(num_downs - 5):  # extra 8*ngf levels; dropout lives here
            block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, submodule=block, norm=norm, use_dropout=use_dropout)
        for mult in (4, 2, 1):  # 8*ngf -> 4*ngf -> 2*ngf -> ngf channels on the outer levels
            block = UnetSkipConnectionBlock(ngf * mult, ngf * mult * 2, submodule=block, norm=norm)
        self.model = UnetSkipConnectionBlock(output_nc, ngf, input_nc=input_nc, submodule=block,
                                             outermost=True, norm=norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class ResnetBlock(nn.Module):
    """x (N, dim, H, W) -> x + conv(relu(conv(x))) with reflection padding."""

    def __init__(self, dim: int, norm: str = "batch", use_dropout: bool = False):
        super().__init__()
        make_norm, bias = norm_layer(norm), norm == "instance"
        layers = [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=bias), make_norm(dim), nn.ReLU(True)]
        layers += [nn.Dropout(0.5)] if use_dropout else []
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=bias), make_norm(dim)]
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    """(N, input_nc, H, W) -> (N, output_nc, H, W) in [-1, 1]; two stride-2 stages around n_blocks
    residual blocks at H/4 with 4*ngf channels (H, W multiples of 4)."""

    def __init__(self, input_nc: int, output_nc: int, ngf: int = 64, norm: str = "batch",
                 use_dropout: bool = False, n_blocks: int = 6):
        super().__init__()
        make_norm, bias = norm_layer(norm), norm == "instance"
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, ngf, 7, bias=bias),
                                   make_norm(ngf), nn.ReLU(True)]  # (N, ngf, H, W)
        for mult in (1, 2):  # -> (N, 4*ngf, H/4, W/4)
            layers += [nn.Conv2d(ngf * mult, ngf * mult * 2, 3, 2, 1, bias=bias), make_norm(ngf * mult * 2), nn.ReLU(True)]
        layers += [ResnetBlock(ngf * 4, norm, use_dropout) for _ in range(n_blocks)]
        for mult in (4, 2):  # -> (N, ngf, H, W)
            layers += [nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, 3, 2, 1, output_padding=1, bias=bias),
                       make_norm(ngf * mult // 2), nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class NLayerDiscriminator(nn.Module):
    """PatchGAN: (N, input_nc, H, W) -> real/fake scores (logits) per patch, (N, 1, H', W')."""

    def __init__(self, input_nc: int, ndf: int = 64, n_layers: int = 3, norm: str = "batch"):
        super().__init__()
        make_norm, bias = norm_layer(norm), norm == "instance"
        layers: list[nn.Module] = [nn.Conv2d(input_nc, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers + 1):  # n_layers - 1 stride-2 convs, then one stride-1 conv
            prev, mult = mult, min(2**n, 8)
            stride = 2 if n < n_layers else 1
            layers += [nn.Conv2d(ndf * prev, ndf * mult, 4, stride, 1, bias=bias), make_norm(ndf * mult),
                       nn.LeakyReLU(0.2, True)]
        layers += [nn.Conv2d(ndf * mult, 1, 4, 1, 1)]  # (N, 1, H', W')
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """Scores of images `x`; a conditional D (pix2pix) scores (condition, x) stacked on channels. Taking
        the two apart lets a caller that memoises D by its input tensors see the same fakes again."""
        return self.model(x if condition is None else torch.cat([condition, x], 1))


def init_weights(net: nn.Module, gain: float = 0.02) -> nn.Module:
    """The reference's 'normal' initialisation: N(0, gain) convs, N(1, gain) batch-norm scales, zero biases."""
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, gain)
            nn.init.zeros_(m.bias)
    return net


def check_generator_name(name: str, image_size: int) -> None:
    """Raise ValueError unless `name` is a generator that fits `image_size`."""
    if name == "unet":
        ok = image_size >= 32 and image_size & (image_size - 1) == 0
        why = f"needs a power-of-two image_size >= 32, not {image_size}"
    elif m := re.fullmatch(r"unet_(\d+)", name):
        size = int(m.group(1))
        ok = size >= 32 and size & (size - 1) == 0 and image_size % size == 0
        why = f"the size must be a power of two >= 32 dividing image_size={image_size}"
    elif re.fullmatch(r"resnet_(\d+)blocks", name):
        ok, why = image_size % 4 == 0, f"needs image_size divisible by 4, not {image_size}"
    else:
        ok, why = False, f"valid: {GENERATORS}"
    if not ok:
        raise ValueError(f"netG={name!r}: {why}")


def build_generator(name: str, input_nc: int, output_nc: int, ngf: int, norm: str, use_dropout: bool,
                    image_size: int) -> nn.Module:
    """A freshly initialised generator by reference name (see GENERATORS)."""
    check_generator_name(name, image_size)
    if name.startswith("unet"):
        size = image_size if name == "unet" else int(name.split("_")[1])
        net = UnetGenerator(input_nc, output_nc, int(math.log2(size)), ngf, norm, use_dropout)
    else:
        n_blocks = int(re.fullmatch(r"resnet_(\d+)blocks", name).group(1))
        net = ResnetGenerator(input_nc, output_nc, ngf, norm, use_dropout, n_blocks)
    return init_weights(net)


def build_discriminator(input_nc: int, ndf: int, n_layers: int, norm: str) -> nn.Module:
    return init_weights(NLayerDiscriminator(input_nc, ndf, n_layers, norm))


# -- what both families share besides networks ------------------------------------------
GAN_MODES = ("vanilla", "lsgan")


def adversarial(scores: torch.Tensor, target: float, gan_mode: str) -> torch.Tensor:
    """Per-sample GAN term on raw PatchGAN scores: BCE on logits (vanilla) or squared error (lsgan)."""
    return bce_on_logits(scores, target) if gan_mode == "vanilla" else least_squares(scores, target)


@dataclass(frozen=True)
class TranslationOptions:
    """Options common to pix2pix and CycleGAN (reference names); families add data and defaults."""

    BUILT_IN: ClassVar[tuple[str, ...]] = ()  # built-in dataset names; "folder" reads data_root
    dataset: str = "folder"
    data_root: str | None = None
    image_size: int = 64  # crop_size in the reference
    load_size: int | None = None  # None: image_size (the reference uses 286 for 256 crops)
    preprocess: str = "resize_and_crop"  # folder data only; see gancompress.data.aligned
    flip: bool = True
    repeats: int = 1  # folder data: random crops/flips per image per epoch
    input_nc: int = 3
    output_nc: int = 3
    netG: str = "unet"
    ngf: int = 64
    ndf: int = 64
    n_layers_D: int = 3
    norm: str = "batch"
    use_dropout: bool = False
    gan_mode: str = "vanilla"

    def __post_init__(self) -> None:
        valid = (*self.BUILT_IN, "folder")
        if self.dataset not in valid:
            raise ValueError(f"dataset={self.dataset!r}: valid: {', '.join(valid)}")
        if self.dataset == "folder" and not self.data_root:
            raise ValueError("dataset=folder needs data_root (a folder in the reference's layout)")
        for name in ("image_size", "input_nc", "output_nc", "ngf", "ndf", "n_layers_D", "repeats"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)}: must be >= 1")
        if self.load_size is not None and self.load_size < self.image_size:
            raise ValueError(f"load_size={self.load_size}: must be >= image_size={self.image_size}")
        if self.norm not in NORMS:
            raise ValueError(f"norm={self.norm!r}: valid: {', '.join(NORMS)}")
        if self.gan_mode not in GAN_MODES:
            raise ValueError(f"gan_mode={self.gan_mode!r}: valid: {', '.join(GAN_MODES)}")
        check_generator_name(self.netG, self.image_size)
        self.transform()  # validates preprocess

    def transform(self) -> Transform:
        return Transform(self.preprocess, self.load_size or self.image_size, self.image_size, self.flip)


def first_items(data, n: int, batch_size: int):
    """Collated batches of the first min(n, len(data)) items of `data`."""
    from torch.utils.data import default_collate

    n = min(n, len(data))
    for start in range(0, n, batch_size):
        yield default_collate([data[i] for i in range(start, min(start + batch_size, n))])


def side_by_side(*images: torch.Tensor) -> torch.Tensor:
    """(N, 1 or 3, H, W) images -> (N, 3, H, k*W) tiles, grey ones as 3 channels."""
    return torch.cat([x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x for x in images], dim=3).clamp(-1, 1)
