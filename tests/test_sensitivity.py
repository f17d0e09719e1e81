"""Per-layer sparsity: `prune.layer_targets` in the pruner, and `gancompress sensitivity` allocating it."""
import json

import pytest
import torch
from torch import nn

from gancompress.cli import main
from gancompress.config import load_config
from gancompress.pruning import PruneConfig
from gancompress.pruning.pruner import Pruner
from gancompress.sensitivity import SensitivityOptions, allocation_at, distortion
from conftest import TINY, invoke_ok, recipe_option_args


def _two_convs():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 1), nn.Conv2d(4, 8, 1))  # 4 and 32 weights


def _zeros(net):
    return [int((m.weight == 0).sum()) for m in net]


def test_layer_targets_golden_along_the_schedule():
    net = _two_convs()
    cfg = PruneConfig(target=0.5, granularity="element", schedule="linear", initial=0.0, end=1.0,
                      layer_targets={"1": 0.75}, every=1)
    pruner = Pruner(net, cfg, total_steps=4)
    assert pruner.targets == {"0": 0.5, "1": 0.75}
    pruner.step(2)  # half way: every layer at half its own target
    assert _zeros(net) == [1, 12]
    pruner.step(4)
    assert _zeros(net) == [2, 24]


def test_layer_targets_refusals():
    with pytest.raises(ValueError, match="need scope: layer and target > 0"):
        PruneConfig(scope="global", layer_targets={"x": 0.5})
    with pytest.raises(ValueError, match=r"layer_targets\['x'\]=1.5: sparsity must be in \[0, 1\)"):
        PruneConfig(layer_targets={"x": 1.5})
    with pytest.raises(ValueError, match="pattern 'G.nope' matches no pruned layer; layer names look like"):
        Pruner(_two_convs(), PruneConfig(layer_targets={"G.nope": 0.5}), total_steps=1)
    with pytest.raises(ValueError, match=r"layers \['0', '1'\] are pruned together .* need one target"):
        Pruner(_two_convs(), PruneConfig(granularity="filter", layer_targets={"1": 0.75}), total_steps=1,
               couple=[("0", "1")])


def test_allocation_takes_each_units_largest_ratio_under_the_threshold():
    curves = {"a": {0.25: 0.1, 0.5: 0.2, 0.75: 0.5}, "b": {0.25: 0.3, 0.5: 0.1, 0.75: 0.1}}
    assert allocation_at(curves, 0.05) == {"a": 0.0, "b": 0.0}
    assert allocation_at(curves, 0.2) == {"a": 0.5, "b": 0.0}  # b's first ratio already exceeds it
    assert allocation_at(curves, 0.3) == {"a": 0.5, "b": 0.75}


def test_distortion_is_relative_l1():
    dense = {"G": torch.tensor([1.0, -1.0, 2.0, -2.0])}
    assert distortion(dense, {"G": dense["G"].clone()}) == 0
    assert distortion(dense, {"G": torch.zeros(4)}) == pytest.approx(1.0)
    assert distortion(dense, {"G": dense["G"] * 1.5}) == pytest.approx(0.5)


def test_options_are_validated():
    with pytest.raises(ValueError, match="must be > 1"):
        SensitivityOptions(macs_reduction=1.0)
    with pytest.raises(ValueError, match="increasing fractions"):
        SensitivityOptions(macs_reduction=4, ratios=(0.5, 0.25))


def _filters_pruned(module):
    w = module.weight.detach()
    per_filter = (w.transpose(0, 1) if isinstance(module, nn.ConvTranspose2d) else w).flatten(1)
    return float((per_filter.abs().sum(1) == 0).float().mean()), per_filter.shape[0]


def test_cli_sensitivity_reaches_the_goal_and_compress_trains_its_allocation(tmp_path):
    from gancompress.api import load_student

    options = recipe_option_args(TINY["cyclegan-photos"])
    teacher, out = tmp_path / "t", tmp_path / "sens"
    invoke_ok(main, "train", "--recipe", "cyclegan-photos", *options, "--steps", 2, "--set", "train.eval_samples=8",
              "--out", teacher)
    text = invoke_ok(main, "sensitivity", "--recipe", "cyclegan-photos", "--macs-reduction", 2, "--samples", 4,
                     "--out", out, "--set", f"teacher={teacher}", "--set", "train.steps=2",
                     "--set", "train.batch_size=4", "--set", "train.eval_samples=8", "--set", "prune.every=1")
    result = json.loads((out / "sensitivity.json").read_text())
    assert result["reached"] and result["macs_reduction"] >= 2
    assert set(result["allocation"].values()) <= {0.0, 0.25, 0.5, 0.75, 0.85, 0.9, 0.95}
    assert (out / "sensitivity.png").stat().st_size > 0 and "fewer MACs (goal 2x)" in text
    cfg = load_config(out / "config.yaml")
    assert cfg.prune.scope == "layer" and cfg.prune.granularity == "filter" and cfg.prune.layer_targets

    invoke_ok(main, "compress", "--config", out / "config.yaml", "--out", tmp_path / "run")
    _, student = load_student(tmp_path / "run")
    modules = dict(student.named_modules())
    for layer, target in cfg.prune.layer_targets.items():
        pruned, n = _filters_pruned(modules[layer])
        assert abs(pruned - target) <= 0.5 / n + 1e-6, (layer, pruned, target)


def test_sensitivity_refuses_a_granularity_that_keeps_channels(tmp_path):
    from gancompress.sensitivity import sensitivity

    cfg = load_config(None, ["recipe=dcgan-digits", "prune.granularity=element"])
    with pytest.raises(ValueError, match="needs a granularity that removes whole channels"):
        sensitivity(cfg, tmp_path, SensitivityOptions(macs_reduction=2))
