"""The loop's own options: learning-rate decay and the weight average, on any technique."""
import pytest
import torch
from torch import nn

from gancompress.config import TrainConfig
from gancompress.techniques import get_technique
from gancompress.training.averaging import WeightAverage
from gancompress.training.trainer import Trainer, lr_factor
from test_techniques import STEPS, make_setup


def test_lr_factor_golden_values():
    assert [lr_factor(t, 10, 0.6) for t in range(10)] == [1.0] * 6 + [1.0, 0.75, 0.5, 0.25]
    assert [lr_factor(t, 4, 1.0) for t in range(4)] == [1.0] * 4
    assert [lr_factor(t, 4, 0.0) for t in range(4)] == [1.0, 0.75, 0.5, 0.25]


def run(recipe, tmp_path, resume=False, **train):
    torch.manual_seed(0)  # the same teacher every time
    technique = get_technique("self-supervised", make_setup(recipe))
    cfg = TrainConfig(steps=STEPS, batch_size=8, log_every=1, **train)
    Trainer(recipe, technique, cfg, tmp_path, torch.device("cpu")).run(resume=resume)
    return technique


def test_learning_rates_decay_on_every_optimiser_and_survive_resume(tiny_recipe, tmp_path):
    recipe = tiny_recipe("dcgan-digits")
    technique = run(recipe, tmp_path, lr_decay_start=0.5)
    for opt in (technique.opt_g, technique.opt_d):  # the last step ran at (4 - 3) / (4 - 2) of the rate
        assert opt.param_groups[0]["lr"] == pytest.approx(0.5e-3)
        assert opt.param_groups[0]["initial_lr"] == 1e-3
    resumed = run(recipe, tmp_path, resume=True, lr_decay_start=0.5)
    assert resumed.opt_g.param_groups[0]["initial_lr"] == 1e-3


def test_weight_average_golden_values_and_keeps_zeros():
    net = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        net.weight.copy_(torch.tensor([[4.0, 8.0]]))
    average = WeightAverage(net, decay=0.75)
    with torch.no_grad():
        net.weight.copy_(torch.tensor([[0.0, 0.0]]))  # the first weight is pruned, the second moves to 0
    average.update()
    assert average.average["weight"].tolist() == [[0.0, 0.0]]  # zeros taken as they are
    with torch.no_grad():
        net.weight.copy_(torch.tensor([[0.0, 4.0]]))
    average.update()
    assert average.average["weight"].tolist() == [[0.0, 1.0]]  # 0.75 * 0 + 0.25 * 4
    average.copy_into()
    assert net.weight.tolist() == [[0.0, 1.0]]


def test_weight_average_replaces_the_student_keeps_its_sparsity_and_is_checkpointed(tiny_recipe, tmp_path):
    recipe = tiny_recipe("dcgan-digits")
    plain = run(recipe, tmp_path / "plain")
    averaged = run(recipe, tmp_path / "ema", ema=0.9)
    assert averaged.pruner.sparsity() == pytest.approx(0.5, abs=0.01)
    for name, mask in averaged.pruner.masks.items():
        assert not averaged.student.get_submodule(name).weight[~mask].any(), name
    changed = [not torch.equal(a, b) for a, b in zip(plain.student.parameters(), averaged.student.parameters())]
    assert any(changed)  # the same trajectory (same seeds), averaged
    ckpt = torch.load(tmp_path / "ema" / "checkpoint.pt", weights_only=True)
    raw = ckpt["state"]["gens"]  # the checkpoint holds the raw weights, so a longer run continues them
    assert all(torch.equal(raw[k], v) for k, v in plain.student.state_dict().items())
    assert set(ckpt["state"]["weight_average"]) == set(raw)


def test_progress_bar_terms_skip_exact_zeros_and_keep_the_order():
    from gancompress.training.trainer import progress_terms

    assert progress_terms({"DC/real": 0.0, "G/adv": 1.23456, "GC/adv": -0.5, "D/real": 0.1, "D/fake": 2.0}) == \
        {"G/adv": "1.23", "GC/adv": "-0.5", "D/real": "0.1"}
