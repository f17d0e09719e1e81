"""A GAN that is not in the zoo: from in-memory modules through the Python API, and from the CLI
through a recipe file (examples/own_gan.py and examples/recipe_file.py)."""
import importlib.util
import json
from pathlib import Path

import pytest
import torch
from conftest import invoke_ok
from torch import nn

from gancompress.api import compress_gan
from gancompress.cli import main
from gancompress.recipes.modules import STANDARD_LOSSES

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
_spec = importlib.util.spec_from_file_location("own_gan_example", EXAMPLES / "own_gan.py")
example = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(example)
TINY = {"steps": 4, "train": {"batch_size": 8, "eval_samples": 16, "log_every": 1}}


def _state(net):
    return {k: v.clone() for k, v in net.state_dict().items()}


def test_own_gan_compresses_from_modules_and_leaves_them_unchanged(tmp_path):
    before_g, before_d = _state(example.G), _state(example.D)
    result = compress_gan(example.G, example.D, example.digits, z_shape=16, loss="hinge", sparsity=0.5,
                          out=tmp_path / "run", prune={"layers": ["conv", "deconv", "linear"]}, **TINY)
    assert all(torch.equal(v, example.G.state_dict()[k]) for k, v in before_g.items())
    assert all(torch.equal(v, example.D.state_dict()[k]) for k, v in before_d.items())
    linear = result.generator[0].weight  # the Linear stem is pruned too
    assert float((linear == 0).float().mean()) == pytest.approx(0.5, abs=0.02)
    assert result.metrics["student"]["sparsity"] == pytest.approx(0.5, abs=0.02)
    # no feature network was given: no FID, and the outputs say so instead of naming one
    assert result.metrics["features"].startswith("none") and "fid" not in result.metrics["student"]
    assert "d_score" in result.metrics["teacher"] and (result.out / "teacher_vs_student.png").exists()
    assert result.generator(torch.randn(3, 16)).shape == (3, 1, 8, 8)


def test_a_feature_network_given_is_the_one_named(tmp_path):
    feats = nn.Sequential(nn.Flatten(), nn.Linear(64, 8))
    feats.description = "my 8-d features"
    result = compress_gan(example.G, example.D, example.digits, z_shape=16, out=tmp_path / "run",
                          feature_net=feats, **TINY)
    assert result.metrics["features"] == "my 8-d features" and "fid" in result.metrics["student"]


def test_filter_pruning_through_group_norm_is_refused_naming_the_layer(tmp_path):
    with pytest.raises(ValueError, match=r"layer 'G\.2' is a GroupNorm"):
        compress_gan(example.G, example.D, example.digits, z_shape=16, granularity="filter", out=tmp_path / "r", **TINY)


def test_a_spectrally_normalised_layer_to_prune_is_refused_naming_it(tmp_path):
    g = nn.Sequential(nn.Linear(16, 64), nn.Unflatten(1, (1, 8, 8)),
                      nn.utils.parametrizations.spectral_norm(nn.Conv2d(1, 1, 3, padding=1)), nn.Tanh())
    with pytest.raises(ValueError, match=r"layer 'G\.2' computes its weight"):
        compress_gan(g, example.D, example.digits, z_shape=16, out=tmp_path / "r", **TINY)


@pytest.mark.parametrize("name", STANDARD_LOSSES.names())
def test_standard_losses_give_the_named_per_sample_terms(name):
    loss = STANDARD_LOSSES.get(name)
    d = example.D
    real, fake = example.digits[:4], example.G(torch.randn(4, 16))
    g_terms, d_terms = loss.generator(d, fake, {}), loss.discriminator(d, real, fake, {})
    assert set(g_terms) == set(loss.g_weights) and set(d_terms) == set(loss.d_weights)
    assert all(v.shape == (4,) for v in (*g_terms.values(), *d_terms.values()))


@pytest.mark.slow
def test_own_gan_from_the_command_line_through_a_recipe_file(tmp_path, monkeypatch):
    from gancompress.recipes import RECIPES, plugins

    monkeypatch.setattr(RECIPES, "_items", dict(RECIPES._items))  # the file's recipe leaves with the test
    monkeypatch.setattr(plugins, "_loaded", {})
    recipe_file, opts = EXAMPLES / "recipe_file.py", ["--set", "train.batch_size=8", "--set", "train.eval_samples=16"]
    invoke_ok(main, "--recipe-file", recipe_file, "train", "--recipe", "own-digits-gan", "--steps", 3,
              "--out", tmp_path / "t", *opts)
    invoke_ok(main, "--recipe-file", recipe_file, "compress", "--recipe", "own-digits-gan", "--teacher", tmp_path / "t",
              "--steps", 3, "--out", tmp_path / "s", *opts)
    metrics = json.loads((tmp_path / "s" / "metrics.json").read_text())
    assert metrics["student"]["sparsity"] == pytest.approx(0.5, abs=0.02) and metrics["features"].startswith("none")


def test_an_installed_package_registers_its_recipe_through_the_entry_point_group(monkeypatch):
    from gancompress.recipes import RECIPES, plugins

    class EntryPoint:
        name = "entry-point-gan"

        def load(self):
            class FromAPackage(plugins.Recipe):
                """A recipe an installed package ships."""
            return FromAPackage

    seen = []
    monkeypatch.setattr(plugins, "entry_points", lambda group: seen.append(group) or [EntryPoint()])
    monkeypatch.setattr(RECIPES, "_items", dict(RECIPES._items))  # leave the real registry as it was
    assert plugins.load_entry_points() == ["entry-point-gan"] and seen == ["gancompress.recipes"]
    assert RECIPES.get("entry-point-gan").__name__ == "FromAPackage"
