"""SRGAN: network shapes, SR data layouts, VGG content loss, per-set evaluation, compression."""
import pytest
import torch

from gancompress.recipes.srgan import Discriminator, Generator


def test_generator_upsamples_by_pixel_shuffle_and_critic_takes_any_size():
    g = Generator(n_feats=8, n_blocks=2, scale=4)
    sr = g(torch.randn(2, 3, 10, 12))
    assert sr.shape == (2, 3, 40, 48) and sr.abs().max() <= 1
    assert sum(isinstance(m, torch.nn.PixelShuffle) for m in g.modules()) == 2
    d = Discriminator(ndf=4)
    assert d(torch.randn(2, 3, 48, 48)).shape == d(torch.randn(2, 3, 96, 64)).shape == (2, 1, 1, 1)


def test_div2k_layout_pairs_lr_files_and_checks_sizes(tiny_recipe, tmp_path):
    from PIL import Image

    from gancompress.data.images import DataError
    from gancompress.data.sr import downscale, folder_eval_set, parse_eval_spec

    recipe = tiny_recipe("srgan-div2k")
    (ev,) = recipe.eval_sets
    assert ev.name == "div2k" and [tuple(x.shape) for x in ev.lr] == [(3, 9, 9)] * 2
    hr, lr = recipe.dataset("train")[3]
    assert hr.shape == (3, 16, 16) and torch.allclose(lr, downscale(hr, 4))
    assert torch.equal(recipe.dataset("train")[3][0], hr)  # crops are a function of the index
    assert parse_eval_spec("set5=/a,/b") == ("set5", "/a", "/b") and parse_eval_spec("s=/a")[2] is None
    (tmp_path / "lr").mkdir()
    for i in range(2):
        Image.new("RGB", (8, 8)).save(tmp_path / "lr" / f"{i}.png")
    with pytest.raises(DataError, match="is not HR"):
        folder_eval_set("bad", f"{recipe.opt.data_root}/DIV2K_valid_HR", 4, tmp_path / "lr")


def test_per_set_metrics_and_ratios(tiny_recipe):
    from gancompress.api import quality_ratios
    from gancompress.metrics import load_feature_net
    from gancompress.recipes import get_recipe
    from gancompress.recipes.base import EvalContext

    tiny = tiny_recipe("srgan-div2k")
    hr_dir = f"{tiny.opt.data_root}/DIV2K_valid_HR"
    recipe = get_recipe("srgan-div2k", {**tiny.opt.__dict__, "eval_sets": (f"set5={hr_dir}",)})
    gens = recipe.build_generators().eval()
    ctx = EvalContext(load_feature_net("digits-classifier"), n_samples=10)
    m = recipe.evaluate(gens, ctx)
    assert {"psnr_div2k", "ssim_div2k", "fid_div2k", "psnr_set5", "fid_set5"} <= set(m)
    assert m["n_images_set5"] == m["n_images_div2k"] == 2 and m["psnr_set5"] > 0
    ratios = quality_ratios(m, {**m, "psnr_set5": m["psnr_set5"] / 2})
    assert ratios["psnr_set5_ratio"] == pytest.approx(0.5) and ratios["fid_div2k_ratio"] == pytest.approx(1.0)


def test_vgg_content_loss_from_torchvision_style_weights(tiny_recipe, tmp_path):
    from gancompress.recipes import get_recipe
    from gancompress.recipes.srgan import VGGFeatures
    from gancompress.errors import CheckpointError

    convs = [i for i, v in enumerate(_vgg_indices()) if v]
    state, cin, gen = {}, 3, torch.Generator().manual_seed(0)
    for idx, cout in convs_with_channels():
        state[f"features.{idx}.weight"] = torch.randn(cout, cin, 3, 3, generator=gen) * 0.05
        state[f"features.{idx}.bias"] = torch.zeros(cout)
        cin = cout
    state["classifier.0.weight"] = torch.zeros(2, 2)  # the classifier is not needed and ignored
    torch.save(state, tmp_path / "vgg19.pth")
    assert len(convs) == 16
    tiny = tiny_recipe("srgan-photos")
    recipe = get_recipe("srgan-photos", {**tiny.opt.__dict__, "content": "vgg", "vgg_weights": str(tmp_path / "vgg19.pth")})
    gens, discs = recipe.build_generators(), recipe.build_discriminators()
    batch = {"hr": torch.rand(2, 3, 16, 16) * 2 - 1, "lr": torch.rand(2, 3, 4, 4) * 2 - 1}
    terms = recipe.generator_terms(gens, discs, batch, recipe.generate(gens, batch))
    assert terms["content"].shape == (2,) and torch.isfinite(terms["content"]).all()
    terms["content"].sum().backward()
    assert all(p.grad is None for p in recipe.vgg.parameters())
    assert gens["G"].head[0].weight.grad is not None
    del state["features.34.weight"]
    torch.save(state, tmp_path / "bad.pth")
    with pytest.raises(CheckpointError, match="features.34.weight"):
        VGGFeatures(tmp_path / "bad.pth")


def _vgg_indices():
    """True at torchvision vgg19.features indices holding a conv (up to conv5_4)."""
    from gancompress.recipes.srgan import VGGFeatures

    flags = []
    for v in VGGFeatures.CFG:
        flags += [False] if v == "M" else [True, False]
    return flags


def convs_with_channels():
    from gancompress.recipes.srgan import VGGFeatures

    idx, out = 0, []
    for v in VGGFeatures.CFG:
        if v == "M":
            idx += 1
        else:
            out.append((idx, v))
            idx += 2
    return out


def test_self_supervised_compression_runs(tiny_recipe, tmp_path):
    from gancompress.config import TrainConfig
    from gancompress.techniques import get_technique
    from gancompress.training.trainer import Trainer
    from test_techniques import make_setup

    recipe = tiny_recipe("srgan-div2k")
    technique = get_technique("self-supervised", make_setup(recipe))
    result = Trainer(recipe, technique, TrainConfig(steps=4, batch_size=4, log_every=1, ckpt_every=0),
                     tmp_path, torch.device("cpu")).run()
    assert {"GC/content", "GC/adv", "DC/real", "DC/fake"} <= set(result.last_logs)
    assert technique.pruner.sparsity() == pytest.approx(0.5, abs=0.01)


def test_spread_indices_golden():
    from gancompress.data.images import spread_indices

    assert spread_indices(10, 4).tolist() == [0, 3, 6, 9]  # first and last always in
    assert spread_indices(3, 5).tolist() == [0, 1, 2]  # fewer items than asked: all of them
