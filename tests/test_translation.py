"""pix2pix / CycleGAN: reference checkpoint layout, data loaders, image pool, metrics, a compress run."""
import json

import pytest
import torch
from torch import nn

from gancompress.recipes import get_recipe
from gancompress.recipes.translation_nets import (NLayerDiscriminator, ResnetGenerator, UnetGenerator,
                                                  build_generator)


# -- the reference's state-dict layout, written out from junyanz/pytorch-CycleGAN-and-pix2pix ----------
def _conv(prefix, cin, cout, k, bias=True, transposed=False):
    shape = (cin, cout, k, k) if transposed else (cout, cin, k, k)
    return {f"{prefix}.weight": shape, **({f"{prefix}.bias": (cout,)} if bias else {})}


def _norm(prefix, c, norm):
    if norm != "batch":  # InstanceNorm2d(affine=False, track_running_stats=False) and Identity hold nothing
        return {}
    return {f"{prefix}.weight": (c,), f"{prefix}.bias": (c,), f"{prefix}.running_mean": (c,),
            f"{prefix}.running_var": (c,), f"{prefix}.num_batches_tracked": ()}


def ref_unet(input_nc, output_nc, num_downs, ngf, norm):
    """UnetGenerator: blocks nested through index 1 (outermost) / 3 (middle) of each block's Sequential."""
    bias = norm == "instance"
    levels = [(output_nc, ngf, input_nc)] + [(ngf * m, ngf * m * 2, None) for m in (1, 2, 4)]
    levels += [(ngf * 8, ngf * 8, None)] * (num_downs - 4)  # the last one is the innermost
    keys, prefix = {}, "model.model"
    for depth, (outer, inner, inp) in enumerate(levels):
        if depth == 0:  # [downconv, sub, relu, upconv, tanh]
            keys |= _conv(f"{prefix}.0", inp, inner, 4, bias=bias)
            keys |= _conv(f"{prefix}.3", inner * 2, outer, 4, bias=True, transposed=True)
            prefix += ".1.model"
        elif depth == len(levels) - 1:  # [lrelu, downconv, relu, upconv, upnorm]
            keys |= _conv(f"{prefix}.1", outer, inner, 4, bias=bias)
            keys |= _conv(f"{prefix}.3", inner, outer, 4, bias=bias, transposed=True) | _norm(f"{prefix}.4", outer, norm)
        else:  # [lrelu, downconv, downnorm, sub, relu, upconv, upnorm]
            keys |= _conv(f"{prefix}.1", outer, inner, 4, bias=bias) | _norm(f"{prefix}.2", inner, norm)
            keys |= _conv(f"{prefix}.5", inner * 2, outer, 4, bias=bias, transposed=True) | _norm(f"{prefix}.6", outer, norm)
            prefix += ".3.model"
    return keys


def ref_resnet(input_nc, output_nc, ngf, n_blocks, norm, use_dropout=False):
    bias = norm == "instance"
    keys = _conv("model.1", input_nc, ngf, 7, bias) | _norm("model.2", ngf, norm)
    keys |= _conv("model.4", ngf, ngf * 2, 3, bias) | _norm("model.5", ngf * 2, norm)
    keys |= _conv("model.7", ngf * 2, ngf * 4, 3, bias) | _norm("model.8", ngf * 4, norm)
    second = 6 if use_dropout else 5  # [pad, conv, norm, relu, (dropout), pad, conv, norm]
    for i in range(n_blocks):
        p = f"model.{10 + i}.conv_block"
        keys |= _conv(f"{p}.1", ngf * 4, ngf * 4, 3, bias) | _norm(f"{p}.2", ngf * 4, norm)
        keys |= _conv(f"{p}.{second}", ngf * 4, ngf * 4, 3, bias) | _norm(f"{p}.{second + 1}", ngf * 4, norm)
    j = 10 + n_blocks
    keys |= _conv(f"model.{j}", ngf * 4, ngf * 2, 3, bias, transposed=True) | _norm(f"model.{j + 1}", ngf * 2, norm)
    keys |= _conv(f"model.{j + 3}", ngf * 2, ngf, 3, bias, transposed=True) | _norm(f"model.{j + 4}", ngf, norm)
    return keys | _conv(f"model.{j + 7}", ngf, output_nc, 7, True)


def ref_patchgan(input_nc, ndf, n_layers, norm):
    bias = norm == "instance"
    keys, mult, i = _conv("model.0", input_nc, ndf, 4), 1, 2
    for n in range(1, n_layers + 1):
        prev, mult = mult, min(2**n, 8)
        keys |= _conv(f"model.{i}", ndf * prev, ndf * mult, 4, bias) | _norm(f"model.{i + 1}", ndf * mult, norm)
        i += 3
    return keys | _conv(f"model.{i}", ndf * mult, 1, 4)


def _random_state(layout, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {k: (torch.tensor(3) if k.endswith("num_batches_tracked") else torch.randn(s, generator=g))
            for k, s in layout.items()}


def _shapes(net):
    return {k: tuple(v.shape) for k, v in net.state_dict().items()}


def _params(net):
    return sum(p.numel() for p in net.parameters())


@pytest.mark.parametrize("num_downs, norm, dropout", [(8, "batch", True), (6, "batch", False), (6, "instance", True),
                                                      (5, "none", False)])
def test_unet_matches_reference_layout(num_downs, norm, dropout):
    net = UnetGenerator(3, 3, num_downs, ngf=8, norm=norm, use_dropout=dropout)
    assert _shapes(net) == ref_unet(3, 3, num_downs, 8, norm)
    net.load_state_dict(_random_state(ref_unet(3, 3, num_downs, 8, norm)), strict=True)
    if num_downs <= 6:
        size = 2**num_downs
        assert net(torch.randn(2, 3, size, size)).shape == (2, 3, size, size)


@pytest.mark.parametrize("n_blocks, norm, dropout", [(9, "instance", False), (6, "batch", True), (2, "none", False)])
def test_resnet_matches_reference_layout(n_blocks, norm, dropout):
    net = ResnetGenerator(3, 3, ngf=8, norm=norm, use_dropout=dropout, n_blocks=n_blocks)
    layout = ref_resnet(3, 3, 8, n_blocks, norm, dropout)
    assert _shapes(net) == layout
    net.load_state_dict(_random_state(layout), strict=True)
    assert net(torch.randn(1, 3, 16, 16)).shape == (1, 3, 16, 16)


@pytest.mark.parametrize("n_layers, norm", [(3, "batch"), (3, "instance"), (2, "batch"), (5, "none")])
def test_patchgan_matches_reference_layout(n_layers, norm):
    net = NLayerDiscriminator(6, ndf=8, n_layers=n_layers, norm=norm)
    assert _shapes(net) == ref_patchgan(6, 8, n_layers, norm)
    net.load_state_dict(_random_state(ref_patchgan(6, 8, n_layers, norm)), strict=True)


def test_full_size_parameter_counts_match_the_reference_printout():
    """The reference prints 54.414 M (pix2pix unet_256), 11.378 M (CycleGAN resnet_9blocks),
    2.765 M / 2.769 M (basic PatchGAN on 3 / 6 channels) parameters."""
    assert round(_params(build_generator("unet_256", 3, 3, 64, "batch", True, 256)) / 1e6, 3) == 54.414
    assert round(_params(build_generator("resnet_9blocks", 3, 3, 64, "instance", False, 256)) / 1e6, 3) == 11.378
    assert round(_params(NLayerDiscriminator(3, 64, 3, "instance")) / 1e6, 3) == 2.765
    assert round(_params(NLayerDiscriminator(6, 64, 3, "batch")) / 1e6, 3) == 2.769


# -- reference checkpoint files: found by name, loaded with weights_only, compressed ---------------------
PIX2PIX_TINY = {"image_size": 32, "ngf": 4, "ndf": 4, "n_layers_D": 2}
CYCLEGAN_TINY = {"image_size": 32, "netG": "resnet_2blocks", "ngf": 4, "ndf": 4, "n_layers_D": 2}


def test_load_networks_finds_reference_pth_files(tmp_path):
    from gancompress.api import load_networks

    recipe = get_recipe("pix2pix-edges", PIX2PIX_TINY)
    g_state = _random_state(ref_unet(1, 3, 5, 4, "batch"), seed=1)
    torch.save(_random_state(ref_unet(1, 3, 5, 4, "batch"), seed=2), tmp_path / "5_net_G.pth")
    torch.save(g_state, tmp_path / "latest_net_G.pth")
    torch.save(_random_state(ref_patchgan(4, 4, 2, "batch")), tmp_path / "latest_net_D.pth")
    torch.save(_random_state(ref_resnet(3, 3, 4, 2, "instance")), tmp_path / "latest_net_G_A.pth")  # not G's
    gens = load_networks(recipe.build_generators(), tmp_path, recipe)
    assert all(torch.equal(gens["G"].state_dict()[k], v) for k, v in g_state.items())
    load_networks(recipe.build_discriminators(), tmp_path, recipe)

    cycle = get_recipe("cyclegan-photos", CYCLEGAN_TINY)
    for key in ("G_A", "G_B"):
        torch.save(_random_state(ref_resnet(3, 3, 4, 2, "instance")), tmp_path / f"latest_net_{key}.pth")
    for key in ("D_A", "D_B"):
        torch.save(_random_state(ref_patchgan(3, 4, 2, "instance")), tmp_path / f"latest_net_{key}.pth")
    load_networks(cycle.build_generators(), tmp_path, cycle)
    load_networks(cycle.build_discriminators(), tmp_path, cycle)


def test_pickled_code_in_a_pth_is_refused(tmp_path):
    from gancompress.errors import CheckpointError
    from gancompress.io import load_state_dict_file

    torch.save({"x": nn.Linear(2, 2)}, tmp_path / "latest_net_G.pth")  # a module: needs full unpickling
    with pytest.raises(CheckpointError, match="weights-only"):
        load_state_dict_file(tmp_path / "latest_net_G.pth")


class _MeanStdFeatures(nn.Module):
    """A stand-in feature net: per-channel means and stds of 4x4 pooled images (8-d per channel)."""

    num_features = 12
    description = "test features"

    def forward(self, x):
        x = x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x
        pooled = nn.functional.avg_pool2d(x, x.shape[-1] // 2).flatten(1)
        return torch.cat([pooled, x.std(dim=(2, 3))], 1)


@pytest.mark.slow
def test_reference_cyclegan_checkpoint_compresses(tmp_path, monkeypatch):
    from gancompress import api
    from gancompress.config import load_config

    teacher = tmp_path / "teacher"
    teacher.mkdir()
    for key, layout in (("G_A", ref_resnet(3, 3, 4, 2, "instance")), ("G_B", ref_resnet(3, 3, 4, 2, "instance")),
                        ("D_A", ref_patchgan(3, 4, 2, "instance")), ("D_B", ref_patchgan(3, 4, 2, "instance"))):
        torch.save({k: v * 0.05 for k, v in _random_state(layout).items()}, teacher / f"latest_net_{key}.pth")
    monkeypatch.setattr(api, "feature_net_for", lambda recipe, inception: _MeanStdFeatures())
    sets = [f"recipe_options.{k}={v}" for k, v in CYCLEGAN_TINY.items()]
    cfg = load_config(None, ["recipe=cyclegan-photos", f"teacher={teacher}", f"out={tmp_path / 'out'}",
                             "train.steps=3", "train.batch_size=2", "train.eval_samples=8", "prune.target=0.5",
                             "prune.end=0.5", *sets])
    metrics = api.compress(cfg)
    assert metrics["student"]["sparsity"] == pytest.approx(0.5, abs=0.01)
    for key in ("fid_A2B_ratio", "fid_B2A_ratio", "fid_ratio"):
        assert metrics[key] > 0
    assert json.loads((tmp_path / "out" / "metrics.json").read_text())["teacher"]["fid_A2B"] >= 0


# -- data -------------------------------------------------------------------------------------------------
def _write_ab(path, a_rgb, b_rgb, h=20, w=30):
    import numpy as np
    from PIL import Image

    arr = np.zeros((h, 2 * w, 3), np.uint8)
    arr[:, :w], arr[:, w:] = a_rgb, b_rgb
    arr[:, 0] = 255  # a white left column shows flips
    Image.fromarray(arr).save(path)


def test_aligned_splits_halves_and_applies_one_crop_to_both(tmp_path):
    from gancompress.data.aligned import AlignedDataset, Transform

    for split in ("train", "test"):
        (tmp_path / split).mkdir()
        for i in range(3):
            _write_ab(tmp_path / split / f"{i}.png", (255, 0, 0), (0, 0, 255))
    t = Transform("resize_and_crop", load_size=24, crop_size=16, flip=True)
    train = AlignedDataset(tmp_path, "train", t, repeats=4)
    assert len(train) == 12
    a, b = train[5]
    assert a.shape == b.shape == (3, 16, 16)
    assert a[0].mean() > 0.9 and b[2].mean() > 0.5 and b[0].mean() < 0  # A red, B blue
    assert all(torch.equal(x, y) for x, y in zip(train[5], train[5]))  # repeatable draws
    whole = AlignedDataset(tmp_path, "train", Transform("resize_and_crop", 16, 16, flip=True), repeats=4)
    white_left = {bool(whole[i][0][1, :, 0].mean() > whole[i][0][1, :, -1].mean()) for i in range(12)}  # flips
    assert white_left == {True, False}
    bgr = AlignedDataset(tmp_path, "test", t, direction="BtoA", input_nc=1, output_nc=3)
    x, y = bgr[0]
    assert x.shape == (1, 16, 16) and y.shape == (3, 16, 16) and y[0].mean() > 0.9  # input: B as grey; target: A
    assert torch.equal(bgr[0][0], bgr[0][0])


@pytest.mark.parametrize("preprocess, shape", [("crop", (3, 16, 16)), ("scale_width", (3, 16, 16)),
                                               ("scale_width_and_crop", (3, 16, 16)), ("none", (3, 20, 32))])
def test_aligned_preprocess_options(tmp_path, preprocess, shape):
    from gancompress.data.aligned import AlignedDataset, Transform

    (tmp_path / "train").mkdir()
    _write_ab(tmp_path / "train" / "0.png", (0, 255, 0), (0, 0, 0), h=20, w=30)
    ds = AlignedDataset(tmp_path, "train", Transform(preprocess, load_size=24, crop_size=16, flip=False))
    assert ds[0][0].shape == shape and ds[0][1].shape == shape


def test_loader_errors_name_the_problem(tmp_path):
    from gancompress.data.aligned import AlignedDataset, Transform
    from gancompress.data.images import DataError
    from gancompress.data.unaligned import UnalignedDataset

    with pytest.raises(ValueError, match="preprocess='zoom'"):
        Transform("zoom")
    with pytest.raises(DataError, match="does not exist"):
        AlignedDataset(tmp_path, "train", Transform())
    (tmp_path / "trainA").mkdir()
    with pytest.raises(DataError, match="trainA"):
        UnalignedDataset(tmp_path, "train", Transform())
    with pytest.raises(ValueError, match="direction='AB'"):
        get_recipe("pix2pix-edges", {"direction": "AB"})
    with pytest.raises(ValueError, match="netG='unet_100'"):
        get_recipe("cyclegan-photos", {"netG": "unet_100"})


def test_unaligned_pairs_random_b_in_train_only(tmp_path):
    from conftest import write_translation_fixture
    from gancompress.data.aligned import Transform
    from gancompress.data.unaligned import UnalignedDataset

    root = write_translation_fixture(tmp_path / "u", paired=False, n=5, size=40)
    t = Transform("resize_and_crop", load_size=36, crop_size=32)
    train, test = UnalignedDataset(root, "train", t, repeats=2), UnalignedDataset(root, "test", t, nc_b=1)
    assert len(train) == 10 and len(test) == 5
    a, b = train[3]
    assert a.shape == b.shape == (3, 32, 32) and all(torch.equal(x, y) for x, y in zip(train[3], train[3]))
    assert test[2][1].shape == (1, 32, 32)


def test_photo_tasks_hold_out_the_right_fifth():
    from gancompress.data.photo_tasks import HELD_OUT, TASK_COLOUR_PHOTOS, crop_table, edges_to_photo, scaled_photos

    images = scaled_photos(TASK_COLOUR_PHOTOS, 32)
    for split in ("train", "test"):
        table = crop_table(images, 32, split, seed=0)
        for k, top, left, flip in table.tolist():
            h, w = images[k].shape[-2:]
            border = w - max(-(-int(HELD_OUT * w * 1000) // 1000), 32)
            assert 0 <= top <= h - 32
            assert (left >= border - 1) if split == "test" else (left + 32 <= border + 1)
            assert flip == 0 or split == "train"
    edges, photo = edges_to_photo("test", 32)[0]
    assert edges.shape == (1, 32, 32) and photo.shape == (3, 32, 32)
    assert set(edges.unique().tolist()) <= {-1.0, 1.0}


def test_image_pool_follows_the_reference_and_round_trips():
    from gancompress.recipes.cyclegan import ImagePool

    pool = ImagePool(3)
    first = torch.arange(3.0).view(3, 1, 1, 1)
    assert torch.equal(pool.query(first), first)  # filling up: returned as they are
    torch.manual_seed(0)
    new = torch.full((20, 1, 1, 1), 9.0)
    out = pool.query(new)
    assert set(out.flatten().tolist()) == {0.0, 1.0, 2.0, 9.0}  # some swapped for stored ones
    fresh = ImagePool(3)
    fresh.load_state_dict(pool.state_dict())
    assert torch.equal(torch.stack(fresh.images), torch.stack(pool.images))
    assert torch.equal(ImagePool(0).query(new), new)


# -- terms and metrics ------------------------------------------------------------------------------------
def test_reference_loss_weights():
    p2p, cyc = get_recipe("pix2pix-edges", PIX2PIX_TINY), get_recipe("cyclegan-photos", CYCLEGAN_TINY)
    assert p2p.g_weights == {"adv": 1.0, "l1": 100.0} and p2p.d_weights == {"real": 0.5, "fake": 0.5}
    assert cyc.g_weights["cycle_A"] == 10.0 and cyc.g_weights["idt_B"] == 5.0 and cyc.g_weights["adv_A"] == 1.0
    assert set(cyc.d_weights.values()) == {0.5}
    assert p2p.opt.gan_mode == "vanilla" and cyc.opt.gan_mode == "lsgan"


def test_evaluate_reports_each_direction_and_paired_fidelity():
    from gancompress.api import quality_ratios
    from gancompress.recipes.base import EvalContext

    ctx = EvalContext(_MeanStdFeatures(), n_samples=24)
    p2p = get_recipe("pix2pix-edges", PIX2PIX_TINY)
    m = p2p.evaluate(p2p.build_generators().eval(), ctx)
    assert m["n_fake"] == 24 and m["fid"] > 0 and 0 < m["psnr"] < 60 and -1 <= m["ssim"] <= 1
    cyc = get_recipe("cyclegan-photos", CYCLEGAN_TINY)
    gens = cyc.build_generators().eval()
    teacher = cyc.evaluate(gens, ctx)
    assert teacher["fid"] == pytest.approx((teacher["fid_A2B"] + teacher["fid_B2A"]) / 2)
    with torch.no_grad():
        gens["G_B"].model[-2].weight.mul_(0.5)  # a worse B -> A generator only
    student = cyc.evaluate(gens, ctx)
    ratios = quality_ratios(teacher, student)
    assert ratios["fid_A2B_ratio"] == pytest.approx(1.0) and ratios["fid_B2A_ratio"] != pytest.approx(1.0)
