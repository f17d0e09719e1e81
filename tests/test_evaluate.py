"""`gancompress evaluate`: model, non-learned baseline and real-vs-real on the same data and features;
the baselines' golden values; clean-fid's preprocessing against a hand computation."""
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner

from conftest import TINY, invoke_ok
from gancompress.cli import main
from gancompress.evaluation import beats_baseline, evaluate_generator
from gancompress.metrics.features import clean_fid_resize, quantise_uint8
from gancompress.metrics.result import lower_is_better
from gancompress.recipes import RECIPES
from gancompress.recipes.baselines import Bicubic, Desaturate, PCAGaussian, Passthrough

FAMILIES = ["dcgan-digits", "pix2pix-edges", "pix2pix-denoise", "cyclegan-photos", "stargan-textures", "srgan-photos"]
PHOTO_FEATURE_SIZES = {"stargan-textures": {"image_size": 32}}  # the photo-patch features need >= 32 px


@pytest.mark.parametrize("name", FAMILIES)
def test_every_family_scores_model_baseline_and_real_on_the_same_metric_keys(name):
    from gancompress.recipes import get_recipe

    recipe = get_recipe(name, {**TINY[name], **PHOTO_FEATURE_SIZES.get(name, {})})
    result = evaluate_generator(recipe, recipe.build_generators().eval(), "random init", n_samples=24)
    quality = {k for k, v in result["model"].items() if lower_is_better(k) is not None}
    assert quality and quality <= set(result["baseline"])  # the baseline is scored exactly like the model
    real = {k for k in result["real"] if lower_is_better(k) is not None}
    assert {"fid", "kid"} <= real <= quality
    assert result["baseline"]["name"] and "offline" in result["protocol"]
    assert set(result["beats_baseline"]) == quality
    json.dumps(result)  # JSON as it is (no tensors, no infinities)


def test_every_registered_family_has_a_baseline_unless_it_brings_its_own_networks():
    from gancompress.recipes.base import Recipe
    from gancompress.recipes.modules import ModuleRecipe

    for name in RECIPES.names():
        cls = RECIPES.get(name)
        if not issubclass(cls, ModuleRecipe):
            assert cls.baseline is not Recipe.baseline and cls.real_metrics is not Recipe.real_metrics, name


def test_beats_baseline_reads_each_metric_the_right_way_and_counts_saturated_ties_as_met():
    got = beats_baseline({"fid": 10.0, "psnr": 20.0, "coverage": 1.0, "n_real": 5},
                         {"fid": 12.0, "psnr": 25.0, "coverage": 1.0, "n_real": 9, "name": "x"})
    assert got == {"fid": True, "psnr": False, "coverage": True}


def test_baselines_golden():
    x = torch.tensor([[[[1.0, -1.0]], [[0.0, 0.0]], [[-1.0, 1.0]]]])  # (1, 3, 1, 2)
    luma = 0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]
    assert torch.allclose(Desaturate()(x), luma[:, None].expand(-1, 3, -1, -1))
    assert torch.equal(Passthrough(3)(x, torch.ones(1, 3)), x)  # a target label is ignored
    assert torch.allclose(Passthrough(1)(x), luma[:, None])
    lr = torch.rand(2, 3, 4, 4) * 2 - 1
    assert torch.equal(Bicubic(4)(lr), F.interpolate(lr, scale_factor=4, mode="bicubic").clamp(-1, 1))


def test_pca_gaussian_draws_the_mean_at_zero_noise_and_the_data_spread_along_the_components():
    images = torch.randn(500, 1, 4, 4) * torch.linspace(0.05, 0.2, 16).view(1, 1, 4, 4) + 0.1  # far from the clamp
    model = PCAGaussian(images, nz=64, k=16)
    assert torch.allclose(model(torch.zeros(3, 64, 1, 1)), images.mean(0).expand(3, -1, -1, -1), atol=1e-5)
    samples = model(torch.randn(20000, 64, 1, 1))
    assert torch.allclose(samples.std(0), images.std(0), rtol=0.05)


def test_clean_fid_preprocessing_matches_a_hand_computation_with_pil():
    from PIL import Image

    assert quantise_uint8(torch.tensor([-1.0, -0.5, 0.0, 0.999, 1.0, 3.0])).tolist() == [0, 64, 128, 255, 255, 255]
    rng = np.random.default_rng(0)
    values = rng.integers(0, 256, (3, 8, 6)).astype(np.float32)  # (C, H, W)
    x = torch.from_numpy(values) / 127.5 - 1  # exactly representable after quantisation
    by_hand = np.stack([np.asarray(Image.fromarray(c, mode="F").resize((299, 299), Image.BICUBIC)).clip(0, 255)
                        for c in values])
    got = clean_fid_resize(x[None])
    assert got.shape == (1, 3, 299, 299) and np.array_equal(got[0].numpy(), by_hand)
    grey = clean_fid_resize(torch.zeros(2, 1, 5, 5))  # grey images go in as 3 equal channels
    assert grey.shape == (2, 3, 299, 299) and torch.all(grey == 128)


def test_inception_features_feed_the_network_clean_fid_inputs_and_name_the_protocol(tmp_path):
    from gancompress.metrics.features import InceptionFeatures

    class Probe(torch.nn.Module):  # a stand-in TorchScript "Inception": returns what it was given
        def forward(self, x: torch.Tensor, return_features: bool = False) -> torch.Tensor:
            return torch.stack([x.amin((1, 2, 3)), x.amax((1, 2, 3)), torch.full_like(x[:, 0, 0, 0], x.shape[-1])], 1)

    path = tmp_path / "probe.pt"
    torch.jit.script(Probe()).save(str(path))
    net = InceptionFeatures(path)
    out = net(torch.tensor([-1.0, 1.0]).repeat_interleave(8).view(1, 1, 4, 4).expand(1, 3, 4, 4).contiguous())
    assert out[0].tolist() == [0.0, 255.0, 299.0] and "clean-fid" in net.description


def test_cli_evaluate_writes_the_json_and_refuses_to_replace_it(tmp_path):
    options = [x for k, v in TINY["dcgan-digits"].items() for x in ("--set", f"recipe_options.{k}={v}")]
    teacher = tmp_path / "t"
    invoke_ok(main, "train", "--recipe", "dcgan-digits", *options, "--steps", "2", "--set", "train.eval_samples=20",
              "--out", teacher)
    out = tmp_path / "e.json"
    text = invoke_ok(main, "evaluate", "--recipe", "dcgan-digits", "--teacher", teacher, "--samples", 20,
                     "--json", out)
    result = json.loads(out.read_text())
    assert set(result) >= {"model", "baseline", "real", "protocol", "features"} and "real vs real" in text
    assert result["model"]["n_fake"] == 20
    again = CliRunner().invoke(main, ["evaluate", "--recipe", "dcgan-digits", "--teacher", str(teacher),
                                      "--json", str(out)])
    assert again.exit_code != 0 and "--force" in again.output and json.loads(out.read_text()) == result
    both = CliRunner().invoke(main, ["evaluate", "--recipe", "dcgan-digits", "--teacher", str(teacher),
                                     "--student", str(teacher)])
    assert both.exit_code != 0 and "give one of --teacher, --student and --export" in both.output
    assert isinstance(both.exception, SystemExit)


def test_cli_evaluate_scores_an_export_in_onnxruntime_float_and_int8(tmp_path):
    pytest.importorskip("onnxruntime")
    options = [x for k, v in TINY["dcgan-digits"].items() for x in ("--set", f"recipe_options.{k}={v}")]
    teacher, run = tmp_path / "t", tmp_path / "c"
    tiny = ["--set", "train.eval_samples=20", "--steps", "2"]
    invoke_ok(main, "train", "--recipe", "dcgan-digits", *options, *tiny, "--out", teacher)
    invoke_ok(main, "compress", "--recipe", "dcgan-digits", "--teacher", teacher, *tiny, "--set", "train.batch_size=8",
              "--out", run)
    invoke_ok(main, "export", run, "--format", "safetensors", "--format", "onnx", "--format", "onnx-int8")
    scores = {}
    for fmt in ("safetensors", "onnx", "onnx-int8"):
        out = tmp_path / f"{fmt}.json"
        text = invoke_ok(main, "evaluate", "--export", run / "export", "--format", fmt, "--samples", 20, "--json", out)
        scores[fmt] = json.loads(out.read_text())
        assert f"({fmt})" in scores[fmt]["generator"] and "| model |" in text
    assert scores["onnx"]["model"]["fid"] == pytest.approx(scores["safetensors"]["model"]["fid"], rel=1e-3)
    assert set(scores["onnx-int8"]["model"]) == set(scores["safetensors"]["model"])
    wrong = CliRunner().invoke(main, ["evaluate", "--student", str(run), "--format", "onnx"])
    assert wrong.exit_code != 0 and "give --export DIR" in wrong.output


def test_denoising_pairs_are_fixed_per_item_and_the_smoothing_baseline_keeps_flat_images():
    from gancompress.data.photo_tasks import NOISE_STD, Noisy
    from gancompress.recipes.baselines import GaussianSmoothing

    clean = [torch.zeros(3, 16, 16) for _ in range(3)]
    data = Noisy(clean, seed=1)
    (a, ca), (b, _) = data[0], data[1]
    assert torch.equal(a, Noisy(clean, seed=1)[0][0]) and not torch.equal(a, b) and torch.equal(ca, clean[0])
    assert abs(float(a.std()) - NOISE_STD) < 0.02
    flat = torch.full((2, 3, 9, 9), 0.3)
    assert torch.allclose(GaussianSmoothing(1.0)(flat), flat)
