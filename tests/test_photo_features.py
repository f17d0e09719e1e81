"""The shipped offline photo-patch feature net ("photo-patches") for FID/KID on photo GANs."""
import pytest
import torch

from gancompress.metrics import load_feature_net
from gancompress.metrics.generative import features_of, fid_kid, fid_kid_of_features
from gancompress.metrics.photo_features import ASSET, CORRUPTIONS, PhotoPatchNet, corrupt, random_crops


@pytest.fixture(scope="module")
def net():
    return load_feature_net("photo-patches")


@pytest.fixture(scope="module")
def crops():
    """Two disjoint sets of 32-px crops of the held-out right fifth of the bundled photos."""
    a, _ = random_crops(256, 32, "test", torch.Generator().manual_seed(1))
    b, _ = random_crops(256, 32, "test", torch.Generator().manual_seed(2))
    return a, b


def test_shipped_file_is_small_and_says_it_is_not_inception(net):
    assert ASSET.is_file() and ASSET.stat().st_size < 3 * 2**20
    assert "not Inception" in net.description and not net.training
    assert not any(p.requires_grad for p in net.parameters())


def test_features_are_deterministic_and_match_a_fresh_load(net):
    from safetensors.torch import load_file

    fresh = PhotoPatchNet()
    fresh.load_state_dict(load_file(str(ASSET)))
    x = torch.rand(4, 3, 48, 48, generator=torch.Generator().manual_seed(0)) * 2 - 1
    first = net(x)
    assert torch.equal(first, net(x))
    assert torch.allclose(first, fresh.eval()(x), atol=1e-6)


@pytest.mark.parametrize("size", [32, 64, 128])
def test_any_size_and_grey_or_rgb_input(net, size):
    grey = torch.rand(2, 1, size, size, generator=torch.Generator().manual_seed(size)) * 2 - 1
    f = net(grey)
    assert f.shape == (2, net.num_features) and torch.isfinite(f).all()
    assert torch.allclose(f, net(grey.expand(-1, 3, -1, -1)), atol=1e-6)


def test_too_small_or_wrong_channel_input_is_refused(net):
    with pytest.raises(ValueError, match="H, W >= 32"):
        net(torch.zeros(1, 3, 16, 16))
    with pytest.raises(ValueError, match="1 or 3"):
        net(torch.zeros(1, 4, 32, 32))
    with pytest.raises(ValueError, match="split"):
        random_crops(1, 32, "val", torch.Generator())


def test_corrupt_leaves_kind_none_untouched(crops):
    a, _ = crops
    kinds = torch.arange(len(CORRUPTIONS)).repeat_interleave(2)
    out = corrupt(a[: len(kinds)], kinds, torch.Generator().manual_seed(0))
    assert torch.equal(out[:2], a[:2]) and not torch.equal(out[2:], a[2:len(kinds)])


def test_fid_separates_real_from_colour_shift_blur_and_noise(net, crops):
    a, b = crops
    g = torch.Generator().manual_seed(3)
    real = fid_kid(a, b, net)["fid"]
    fa = features_of(a, net)
    damaged = {
        "colour": b + torch.tensor([0.15, -0.10, 0.05])[:, None, None],
        "blur": corrupt(b, torch.full((len(b),), CORRUPTIONS.index("blur")), g),
        "noise": b + 0.1 * torch.randn(b.shape, generator=g),
    }
    fids = {k: fid_kid_of_features(fa, features_of(v.clamp(-1, 1), net))["fid"] for k, v in damaged.items()}
    # measured with the shipped weights: real 29, colour 585, blur 141, noise 531
    assert fids["colour"] > 10 * real and fids["noise"] > 10 * real and fids["blur"] > 3 * real, (real, fids)
