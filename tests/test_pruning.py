"""Golden values for every schedule and granularity, and the pruner's guarantees."""
import copy
import re

import pytest
import torch
from torch import nn

from gancompress.pruning import (CRITERIA, GRANULARITIES, SCHEDULES, PruneConfig, Pruner, count_sparsity,
                                 criterion_choices, sparsity_at)
from gancompress.pruning.config import AUTO_CRITERION


@pytest.mark.parametrize("name, step, expected", [
    ("agp", 0, 0.05), ("agp", 25, 0.5 - 0.45 * 0.5**3), ("agp", 50, 0.5), ("agp", 99, 0.5),
    ("linear", 0, 0.05), ("linear", 25, 0.275), ("linear", 50, 0.5),
    ("oneshot", 0, 0.5), ("oneshot", 99, 0.5),
])
def test_schedule_golden_values(name, step, expected):
    assert sparsity_at(name, step, 100, 0.05, 0.5, 0.0, 0.5) == pytest.approx(expected)


@pytest.mark.parametrize("name", SCHEDULES.names())
def test_schedules_start_at_begin_and_never_exceed_target(name):
    values = [sparsity_at(name, s, 100, 0.05, 0.6, 0.2, 0.8) for s in range(100)]
    assert all(v == 0 for v in values[:20]) and values[20] > 0
    assert max(values) == pytest.approx(0.6) and values == sorted(values)


def layer_with(module: nn.Module, weight) -> nn.ModuleDict:
    with torch.no_grad():
        module.weight.copy_(torch.tensor(weight, dtype=torch.float32))
    return nn.ModuleDict({"G": nn.Sequential(module)})


def mask_of(model, granularity, level=0.5, **kw):
    cfg = PruneConfig(granularity=granularity, target=min(level, 0.99), layers=("conv", "deconv", "linear"), **kw)
    pruner = Pruner(model, cfg, total_steps=1)
    pruner.prune_now(level)
    return pruner.masks["G.0"].int().tolist()


def test_element_golden():
    model = layer_with(nn.Conv2d(1, 2, (1, 2)), [[[[1, -4]]], [[[3, 2]]]])
    assert mask_of(model, "element") == [[[[0, 1]]], [[[1, 0]]]]
    assert model["G"][0].weight.flatten().tolist() == [0, -4, 3, 0]


def test_vector_golden():  # rows of a kernel
    model = layer_with(nn.Conv2d(1, 1, 2), [[[[1, 2], [3, -4]]]])
    assert mask_of(model, "vector") == [[[[0, 0], [1, 1]]]]


def test_kernel_golden():
    model = layer_with(nn.Conv2d(2, 1, 2), [[[[1, 1], [1, 1]], [[2, 2], [-2, 2]]]])
    assert mask_of(model, "kernel") == [[[[0, 0], [0, 0]], [[1, 1], [1, 1]]]]


def test_filter_golden_conv_and_transposed_conv():
    conv = layer_with(nn.Conv2d(1, 2, 1), [[[[5.0]]], [[[1.0]]]])
    assert mask_of(conv, "filter") == [[[[1]]], [[[0]]]]
    # ConvTranspose2d weights are (in, out, kH, kW): output channels are dim 1
    deconv = layer_with(nn.ConvTranspose2d(2, 2, 1), [[[[5.0]], [[1.0]]], [[[4.0]], [[0.5]]]])
    assert mask_of(deconv, "filter") == [[[[1]], [[0]]], [[[1]], [[0]]]]


def test_filter_pruning_leaves_protected_layers_whole():
    model = nn.ModuleDict({"G": nn.Sequential(nn.Conv2d(1, 4, 1), nn.Conv2d(4, 2, 1))})
    with torch.no_grad():
        model["G"][0].weight.copy_(torch.tensor([1.0, 2.0, 3.0, 4.0]).view(4, 1, 1, 1))
    filters = Pruner(model, PruneConfig(granularity="filter", target=0.5), 1, keep_filters={"G.1"})
    filters.prune_now(0.5)
    assert filters.masks["G.0"].flatten().tolist() == [False, False, True, True]
    assert filters.masks["G.1"].all()  # the output layer keeps both of its channels
    elements = Pruner(model, PruneConfig(granularity="element", target=0.5), 1, keep_filters={"G.1"})
    elements.prune_now(0.5)
    assert not elements.masks["G.1"].all()  # finer granularities may still prune inside it


def test_nm_golden_along_input_channels():
    conv = layer_with(nn.Conv2d(4, 1, 1), [[[[1.0]], [[-3.0]], [[2.0]], [[0.5]]]])
    assert mask_of(conv, "nm") == [[[[0]], [[1]], [[1]], [[0]]]]
    deconv = layer_with(nn.ConvTranspose2d(4, 1, 1), [[[[1.0]]], [[[-3.0]]], [[[2.0]]], [[[0.5]]]])
    assert mask_of(deconv, "nm") == [[[[0]]], [[[1]]], [[[1]]], [[[0]]]]
    linear = layer_with(nn.Linear(8, 1), [[1, 2, 3, 4, 8, 7, 6, 5]])
    assert mask_of(linear, "nm", n=1, m=4) == [[0, 0, 0, 1, 1, 0, 0, 0]]


def test_global_scope_ranks_all_layers_together():
    model = nn.ModuleDict({"G": nn.Sequential(nn.Conv2d(1, 1, 1), nn.Conv2d(1, 1, 2))})
    with torch.no_grad():
        model["G"][0].weight.fill_(10.0)
        model["G"][1].weight.copy_(torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]]))
    pruner = Pruner(model, PruneConfig(scope="global", target=0.4), total_steps=1)
    pruner.prune_now(0.4)  # 2 of 5 weights: both from the small layer
    assert [r["nonzero"] for r in pruner.report()] == [1, 2]


def test_global_scope_never_empties_a_layer():
    model = nn.ModuleDict({"G": nn.Sequential(nn.Conv2d(1, 2, 1), nn.Conv2d(2, 4, 1))})
    with torch.no_grad():
        model["G"][0].weight.copy_(torch.tensor([0.1, 0.2]).view(2, 1, 1, 1))
        model["G"][1].weight.fill_(5.0)
    pruner = Pruner(model, PruneConfig(scope="global", granularity="filter", target=0.5), total_steps=1)
    pruner.prune_now(0.5)  # 5 of 10 weights: both small filters would go; the better one stays
    assert pruner.masks["G.0"].flatten().tolist() == [False, True]


def test_coupled_layers_lose_the_same_filters():
    model = nn.ModuleDict({"G": nn.Sequential(nn.Conv2d(1, 3, 1), nn.Conv2d(3, 3, 1), nn.Conv2d(3, 2, 1))})
    with torch.no_grad():
        model["G"][0].weight.copy_(torch.tensor([1.0, 5.0, 3.0]).view(3, 1, 1, 1))
        model["G"][1].weight.copy_(torch.tensor([6.0, 1.0, 2.0]).view(3, 1, 1, 1).expand(3, 3, 1, 1))
    untouched = copy.deepcopy(model)
    cfg = PruneConfig(granularity="filter", criterion="magnitude", target=0.34)
    pruner = Pruner(model, cfg, 1, couple=[["G.0", "G.1"]])
    pruner.prune_now(0.34)  # mean filter scores (3.5, 3, 2.5): channel 2 goes from both
    assert pruner.masks["G.0"].flatten().tolist() == [True, True, False]
    assert pruner.masks["G.1"][:, 0, 0, 0].tolist() == [True, True, False]
    alone = Pruner(untouched, cfg, 1)
    alone.prune_now(0.34)  # ranked apart, they would lose different channels
    assert alone.masks["G.0"].flatten().tolist() == [False, True, True]


def test_silenced_constants_stay_zero_through_optimizer_steps():
    conv = nn.Conv2d(1, 2, 1)
    model = nn.ModuleDict({"G": nn.Sequential(conv)})
    pruner = Pruner(model, PruneConfig(granularity="filter", target=0.5), 1,
                    silence=lambda: [(conv.bias, [int(i) for i in torch.nonzero(conv.weight.flatten() == 0)])])
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    pruner.attach(opt)
    pruner.prune_now(0.5)
    dead = int(torch.nonzero(conv.weight.flatten() == 0)[0])
    for _ in range(3):
        opt.zero_grad()
        model["G"](torch.randn(4, 1, 3, 3)).sum().backward()
        opt.step()
        assert conv.bias[dead] == 0 and conv.bias[1 - dead] != 0


def tiny_generator():
    torch.manual_seed(0)
    return nn.ModuleDict({"G": nn.Sequential(nn.ConvTranspose2d(8, 16, 4), nn.ReLU(), nn.Conv2d(16, 8, 3),
                                             nn.ReLU(), nn.ConvTranspose2d(8, 4, 3))})


@pytest.mark.parametrize("granularity", GRANULARITIES.names())
@pytest.mark.parametrize("scope", ["layer", "global"])
def test_each_granularity_reaches_its_sparsity(granularity, scope):
    model = tiny_generator()
    pruner = Pruner(model, PruneConfig(granularity=granularity, scope=scope, target=0.5, schedule="oneshot"),
                    total_steps=1)
    pruner.step(0)
    assert pruner.sparsity() == pytest.approx(0.5, abs=0.02)
    assert count_sparsity(m.weight for m in pruner.layers.values()) == pruner.sparsity()


def test_pruned_weights_stay_zero_through_adam_and_masks_grow_monotonically():
    model = tiny_generator()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    pruner = Pruner(model, PruneConfig(target=0.75, schedule="agp", end=0.5), total_steps=20)
    pruner.attach(opt)
    previous = {n: m.clone() for n, m in pruner.masks.items()}
    for step in range(20):
        pruner.step(step)
        for name, mask in pruner.masks.items():
            assert not (mask & ~previous[name]).any(), "a pruned weight came back"
            previous[name] = mask.clone()
        loss = model["G"](torch.randn(2, 8, 3, 3)).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        for name, module in pruner.layers.items():
            assert (module.weight[~pruner.masks[name]] == 0).all()
            assert (opt.state[module.weight]["exp_avg"][~pruner.masks[name]] == 0).all()
    assert pruner.sparsity() == pytest.approx(0.75, abs=0.01)


def test_state_dict_round_trip_restores_masks_and_level():
    model = tiny_generator()
    pruner = Pruner(model, PruneConfig(target=0.6), total_steps=10)
    pruner.step(9)
    other_model = tiny_generator()
    other = Pruner(other_model, PruneConfig(target=0.6), total_steps=10)
    other.load_state_dict(copy.deepcopy(pruner.state_dict()))
    assert other.level == pruner.level
    assert all(torch.equal(other.masks[n], pruner.masks[n]) for n in pruner.masks)
    assert other.sparsity() == pytest.approx(pruner.sparsity())


def test_scope_patterns_and_kinds():
    model = tiny_generator()
    assert list(Pruner(model, PruneConfig(exclude=("G.0",)), 1).layers) == ["G.2", "G.4"]
    assert list(Pruner(model, PruneConfig(include=("G.[02]",)), 1).layers) == ["G.0", "G.2"]
    assert list(Pruner(model, PruneConfig(layers=("deconv",)), 1).layers) == ["G.0", "G.4"]
    assert list(Pruner(model, PruneConfig(skip_first_last=True), 1).layers) == ["G.2"]
    with pytest.raises(ValueError, match="no layer"):
        Pruner(model, PruneConfig(include=("D.*",)), 1)


@pytest.mark.parametrize("field, value, message", [
    ("target", 1.0, "prune.target"), ("target", -0.1, "prune.target"), ("granularity", "row", "valid: element"),
    ("schedule", "cosine", "valid: agp"), ("scope", "model", "valid: layer"), ("n", 5, "prune.n"),
    ("layers", ("lstm",), "prune.layers"), ("every", 0, "prune.every"),
])
def test_config_rejects_bad_values_naming_the_field(field, value, message):
    with pytest.raises(ValueError, match=message):
        PruneConfig(**{field: value})


@pytest.mark.parametrize("granularity, criterion, expected", [
    ("filter", "auto", "magnitude"), ("element", "auto", "magnitude"), ("nm", "auto", "magnitude"),
    ("filter", "magnitude", "magnitude"), ("element", "taylor", "taylor")])
def test_auto_criterion_resolves_by_granularity(granularity, criterion, expected, monkeypatch):
    assert PruneConfig(granularity=granularity, criterion=criterion).criterion_name == expected
    monkeypatch.setitem(AUTO_CRITERION, granularity, "l2")  # a measured per-granularity choice wins
    assert PruneConfig(granularity=granularity, criterion="auto").criterion_name == "l2"


@pytest.mark.parametrize("criterion", CRITERIA.names())
@pytest.mark.parametrize("granularity", GRANULARITIES.names())
def test_every_criterion_prunes_every_granularity(criterion, granularity):
    torch.manual_seed(0)
    model = nn.ModuleDict({"G": nn.Sequential(nn.Conv2d(4, 8, 3), nn.BatchNorm2d(8), nn.ReLU(),
                                              nn.ConvTranspose2d(8, 8, 3), nn.Conv2d(8, 4, 1))})
    pruner = Pruner(model, PruneConfig(target=0.5, granularity=granularity, criterion=criterion, schedule="oneshot"),
                    total_steps=10)
    assert pruner.step(0) == 0.5
    assert pruner.sparsity() == pytest.approx(0.5, abs=0.05)
    for name, layer in pruner.layers.items():
        assert (layer.weight[~pruner.masks[name]] == 0).all() and pruner.masks[name].any()


def test_unknown_criterion_lists_auto():
    assert criterion_choices() == CRITERIA.names() + ["auto"]
    with pytest.raises(ValueError, match=re.escape(f"prune.criterion='size': valid: {', '.join(criterion_choices())}")):
        PruneConfig(criterion="size")


def test_kth_value_selection_matches_a_stable_sort():
    """The k-th-value path picks exactly what sorting everything picked: lowest first, ties by position."""
    from gancompress.pruning.pruner import _lowest_groups

    g = torch.Generator().manual_seed(0)
    for trial in range(500):
        n = int(torch.randint(1, 30, (1,), generator=g))
        scores = torch.randint(0, 5, (n,), generator=g).float()
        scores[torch.rand(n, generator=g) < 0.2] = float("-inf")  # already pruned
        size = int(torch.randint(1, 9, (1,), generator=g))
        goal = float(torch.rand(1, generator=g)) * n * size if trial % 4 else (trial % 3) * 0.5 * n * size
        sorted_way = _lowest_groups(scores, torch.full((n,), size), goal)  # the per-group-size path sorts
        assert torch.equal(_lowest_groups(scores, size, goal), sorted_way), (scores, size, goal)


@pytest.mark.parametrize("every, steps, period", [(None, 600, 12), (None, 10, 1), (None, 49, 1), (None, 5000, 100),
                                                  (5, 600, 5), (1, 5000, 1)])
def test_mask_update_period_golden(every, steps, period):
    assert PruneConfig(every=every).update_period(steps) == period
