"""`gancompress train --init` (a warm start from a run's or teacher's weights) and the dense technique's
term weights (e.g. SRGAN's generator on its content loss alone: the SRGAN paper's MSE pretraining)."""
import json

import pytest
import torch
import yaml
from click.testing import CliRunner

from gancompress.cli import main
from gancompress.techniques import get_technique
from gancompress.techniques.base import Setup
from conftest import TINY, invoke_ok, recipe_option_args
from test_techniques import make_setup


def fresh_setup(recipe) -> Setup:
    s = make_setup(recipe)
    return Setup(**{**s.__dict__, "teacher_gens": None, "teacher_discs": None})


def batch_of(recipe, n=4):
    from gancompress.training.batches import StepBatcher

    return recipe.make_batch(StepBatcher(recipe.dataset("train"), n, 0).items(0), torch.Generator().manual_seed(0))


def test_dense_starts_from_the_given_networks_and_trains_copies(tiny_recipe):
    recipe = tiny_recipe("srgan-photos")
    setup = make_setup(recipe)  # teacher networks = the warm start
    technique = get_technique("dense", setup)
    for start, trained in ((setup.teacher_gens, technique.gens), (setup.teacher_discs, technique.discs)):
        for (name, a), b in zip(start.state_dict().items(), trained.state_dict().values()):
            assert torch.equal(a, b), name
        assert all(p.requires_grad for p in trained.parameters())
        assert next(start.parameters()) is not next(trained.parameters())  # copies: the start stays as it was
    fresh = get_technique("dense", fresh_setup(recipe))
    first = next(iter(setup.teacher_gens.state_dict()))
    assert not torch.equal(fresh.gens.state_dict()[first], setup.teacher_gens.state_dict()[first])


def test_term_weights_override_the_recipes(tiny_recipe):
    recipe = tiny_recipe("srgan-photos")
    batch = batch_of(recipe)
    torch.manual_seed(0)
    logs = get_technique("dense", fresh_setup(recipe)).train_step(batch, 0)
    assert float(logs["G/total"]) == pytest.approx(float(logs["G/content"]) + 1e-3 * float(logs["G/adv"]), rel=1e-5)
    torch.manual_seed(0)
    mse_only = get_technique("dense", fresh_setup(recipe), {"weights": {"G/adv": 0.0}}).train_step(batch, 0)
    assert float(mse_only["G/total"]) == float(mse_only["G/content"]) and float(mse_only["G/adv"]) > 0
    with pytest.raises(ValueError, match="unknown term 'G/real'; valid: G/content, G/adv"):
        get_technique("dense", fresh_setup(recipe), {"weights": {"G/real": 0.0}})
    with pytest.raises(ValueError, match="must be >= 0"):
        get_technique("dense", fresh_setup(recipe), {"weights": {"G/adv": -1.0}})


def test_cli_train_init_inherits_the_recipe_options_and_says_where_it_started(tmp_path):
    options = recipe_option_args(TINY["srgan-photos"])
    first, second = tmp_path / "mse", tmp_path / "gan"
    invoke_ok(main, "train", "--recipe", "srgan-photos", *options, "--steps", 2, "--batch-size", 2,
              "--set", "technique=dense", "--set", "technique_options.weights.G/adv=0",
              "--set", "train.eval_samples=8", "--out", first)
    invoke_ok(main, "train", "--init", first, "--steps", 1, "--batch-size", 2,
              "--set", "train.eval_samples=8", "--out", second)  # recipe and its options: those of `first`
    saved = yaml.safe_load((second / "recipe.yaml").read_text())["options"]
    assert saved["n_feats"] == TINY["srgan-photos"]["n_feats"]
    assert json.loads((second / "metrics.json").read_text())["init"] == str(first)


@pytest.mark.parametrize("args, message", [
    (["--set", "technique=self-supervised", "--set", "technique_options.lambda_dc=1"], "train runs the dense technique"),
    (["--set", "technique=lit"], "train runs the dense technique, not 'lit'"),
])
def test_cli_train_refuses_another_techniques_options(args, message, tmp_path):
    res = CliRunner().invoke(main, ["train", "--recipe", "dcgan-digits", *args, "--out", str(tmp_path / "r")])
    assert res.exit_code != 0 and message in res.output and isinstance(res.exception, SystemExit)


def test_compress_refuses_init(tmp_path):
    res = CliRunner().invoke(main, ["compress", "--recipe", "dcgan-digits", "--set", f"init={tmp_path}",
                                    "--out", str(tmp_path / "r")])
    assert res.exit_code != 0 and "is for `gancompress train`" in res.output
