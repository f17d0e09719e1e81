"""Checks every registered technique gets for free, plus the method's loss on golden values."""
import pytest
import torch

from gancompress.config import TrainConfig
from gancompress.pruning import PruneConfig
from gancompress.recipes import RECIPES
from gancompress.techniques import TECHNIQUES, get_technique
from gancompress.techniques.base import Setup
from gancompress.techniques.self_supervised import consistency
from gancompress.training.trainer import Trainer, load_checkpoint

STEPS = 4


def make_setup(recipe, target=0.5, steps=STEPS):
    teacher_g, teacher_d = recipe.build_generators(), recipe.build_discriminators()
    return Setup(recipe=recipe, teacher_gens=teacher_g, teacher_discs=teacher_d,
                 prune=PruneConfig(target=target, schedule="agp", end=0.5), total_steps=steps,
                 lr_g=1e-3, lr_d=1e-3, device=torch.device("cpu"))


@pytest.mark.parametrize("name", TECHNIQUES.names())
def test_runs_checkpoints_and_prunes(name, tiny_recipe, tmp_path):
    recipe = tiny_recipe("dcgan-digits")
    technique = get_technique(name, make_setup(recipe))
    cfg = TrainConfig(steps=STEPS, batch_size=8, log_every=1, ckpt_every=2)
    result = Trainer(recipe, technique, cfg, tmp_path, torch.device("cpu")).run()
    assert len(result.history) == STEPS
    assert all(torch.isfinite(torch.tensor(v)) for v in result.last_logs.values())
    if technique.pruner is not None:
        assert technique.pruner.sparsity() == pytest.approx(0.5, abs=0.01)
    # the checkpoint restores every stateful object
    fresh = get_technique(name, make_setup(recipe))
    assert load_checkpoint(fresh, tmp_path / "checkpoint.pt") == STEPS
    for a, b in zip(technique.student.state_dict().values(), fresh.student.state_dict().values()):
        assert torch.equal(a, b)


def test_recipe_state_is_checkpointed(tiny_recipe, tmp_path):
    """CycleGAN's image pools travel in the checkpoint, so a resumed run draws the fakes it would have."""
    recipe = tiny_recipe("cyclegan-photos")
    technique = get_technique("self-supervised", make_setup(recipe))
    Trainer(recipe, technique, TrainConfig(steps=STEPS, batch_size=2, log_every=1), tmp_path,
            torch.device("cpu")).run()
    assert recipe.pools["A"].images and recipe.pools["B"].images  # the pools filled up during the run
    fresh_recipe = tiny_recipe("cyclegan-photos")
    load_checkpoint(get_technique("self-supervised", make_setup(fresh_recipe)), tmp_path / "checkpoint.pt")
    for key, pool in recipe.pools.items():
        assert len(fresh_recipe.pools[key].images) == len(pool.images)
        assert torch.equal(torch.stack(pool.images), torch.stack(fresh_recipe.pools[key].images))


@pytest.mark.parametrize("name", RECIPES.names())
def test_recipes_without_state_checkpoint_none(name, tiny_recipe):
    recipe = tiny_recipe(name)
    assert bool(recipe.state_dict()) == hasattr(recipe, "pools")
    if not recipe.state_dict():
        with pytest.raises(ValueError, match="keeps no state"):
            recipe.load_state_dict({"pool_A": {}})


def test_consistency_golden_values():
    teacher = {"adv": torch.tensor([2.0, 2.0]), "fake": torch.tensor([1.0, 3.0])}
    student = {"adv": torch.tensor([1.0, 3.0]), "fake": torch.tensor([1.5, 1.5])}
    weights = {"adv": 1.0, "fake": 2.0}
    # batch form: |2-2|/2 = 0 for adv; |2-1.5|/2 = 0.25 for fake -> 0 + 2*0.25
    total, parts = consistency(teacher, student, weights, "abs", "batch")
    assert parts["adv"].item() == pytest.approx(0.0) and parts["fake"].item() == pytest.approx(0.25)
    assert total.item() == pytest.approx(0.5)
    # per-sample form: adv mean(|2-1|/2, |2-3|/2) = 0.5; fake mean(0.5/1, 1.5/3) = 0.5
    total, parts = consistency(teacher, student, weights, "abs", "sample")
    assert parts["adv"].item() == pytest.approx(0.5) and total.item() == pytest.approx(1.5)
    # pooled: per-sample |diff| over the teacher's mean magnitude: adv mean(1, 1)/2 = 0.5; fake mean(0.5, 1.5)/2 = 0.5
    total, parts = consistency(teacher, student, weights, "abs", "pooled")
    assert parts["adv"].item() == pytest.approx(0.5) and parts["fake"].item() == pytest.approx(0.5)
    # squared per-sample: adv mean(0.25, 0.25)=0.25; fake mean(0.25, 0.25)=0.25 -> 0.25 + 0.5
    total, _ = consistency(teacher, student, weights, "squared", "sample")
    assert total.item() == pytest.approx(0.75)
    # one-sided per-sample, generator terms (higher is worse): adv mean(0, 1/2) = 0.25; fake mean(0.5/1, 0) = 0.25
    _, parts = consistency(teacher, student, weights, "one-sided", "sample")
    assert parts["adv"].item() == pytest.approx(0.25) and parts["fake"].item() == pytest.approx(0.25)
    # ... discriminator terms (lower is worse): adv mean(1/2, 0) = 0.25; fake mean(0, 1.5/3) = 0.25; batch fake 0.25
    _, parts = consistency(teacher, student, weights, "one-sided", "sample", worse=-1.0)
    assert parts["adv"].item() == pytest.approx(0.25) and parts["fake"].item() == pytest.approx(0.25)
    _, parts = consistency(teacher, student, weights, "one-sided", "batch", worse=-1.0)
    assert parts["fake"].item() == pytest.approx(0.25)
    _, parts = consistency(teacher, student, weights, "one-sided", "batch")
    assert parts["fake"].item() == pytest.approx(0.0)
    # unnormalised: the differences in the terms' own scale: per-sample fake mean(0.5, 1.5) = 1.0; batch fake
    # |2 - 1.5| = 0.5; one-sided batch, D terms: fake 0.5, adv 0 (the student's mean equals the teacher's)
    _, parts = consistency(teacher, student, weights, "abs", "sample", normalise=False)
    assert parts["fake"].item() == pytest.approx(1.0) and parts["adv"].item() == pytest.approx(1.0)
    total, parts = consistency(teacher, student, weights, "one-sided", "batch", worse=-1.0, normalise=False)
    assert parts["fake"].item() == pytest.approx(0.5) and total.item() == pytest.approx(1.0)


def test_feature_distance_golden_values():
    from gancompress.techniques.base import feature_distance

    # layer a: teacher (0, 2) has variance 2 (unbiased); squared distance mean((1-0)^2, 0) = 0.5 -> 0.25.
    # layer b, called twice: teacher (1, 3) (variance 2) vs (1, 1): mean(0, 4) = 2 -> 1; the second call
    # is equal -> 0. Mean over the three outputs: (0.25 + 1 + 0) / 3
    teacher = {"a": [torch.tensor([0.0, 2.0])], "b": [torch.tensor([1.0, 3.0]), torch.tensor([5.0, 7.0])]}
    student = {"a": [torch.tensor([1.0, 2.0])], "b": [torch.tensor([1.0, 1.0]), torch.tensor([5.0, 7.0])]}
    assert feature_distance(teacher, student).item() == pytest.approx(1.25 / 3)


def test_feature_distillation_compares_every_pruned_layer_and_is_zero_for_the_unpruned_copy(tiny_recipe):
    recipe = tiny_recipe("dcgan-digits")
    batch = recipe.make_batch((torch.randn(8, 1, 32, 32), torch.zeros(8)), torch.Generator().manual_seed(0))
    dense = get_technique("self-supervised", make_setup(recipe, target=0.0), {"distill_features": 1.0})
    deconvs = [f"G.{name}" for name, m in dense.gens["G"].named_modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert list(dense.s_taps) == list(dense.t_taps) == deconvs and len(deconvs) >= 3
    dense.teacher.train()  # the same normalisation as the student's, so outputs match exactly
    assert dense.train_step(batch, 0)["loss/features"].item() == pytest.approx(0.0, abs=1e-12)
    pruned = get_technique("self-supervised", make_setup(recipe, target=0.9), {"distill_features": 1.0})
    logs = pruned.train_step(batch, 0)
    assert logs["loss/features"].item() > 0
    assert get_technique("self-supervised", make_setup(recipe)).s_taps == {}  # off by default: no hooks
    with pytest.raises(ValueError, match="distill_features=-1.0: must be >= 0"):
        get_technique("self-supervised", make_setup(recipe), {"distill_features": -1.0})


def test_consistency_has_no_gradient_into_teacher():
    t = torch.tensor([1.0], requires_grad=True)
    s = torch.tensor([2.0], requires_grad=True)
    total, _ = consistency({"x": t}, {"x": s}, {})
    total.backward()
    assert t.grad is None and s.grad.item() == pytest.approx(1.0)


def test_consistency_weights_override_the_recipes_by_logged_name(tiny_recipe):
    recipe = tiny_recipe("stargan-textures")
    technique = get_technique("self-supervised", make_setup(recipe), {"weights": {"GC/cls": 0.1, "DC/gp": 0.0}})
    assert technique.gc_weights == {**recipe.g_weights, "cls": 0.1}
    assert technique.dc_weights == {**recipe.d_weights, "gp": 0.0}
    with pytest.raises(ValueError, match="unknown term 'GC/clss'; valid: GC/adv, GC/cls, GC/rec, DC/real"):
        get_technique("self-supervised", make_setup(recipe), {"weights": {"GC/clss": 1.0}})
    with pytest.raises(Exception, match="must be >= 0"):
        get_technique("self-supervised", make_setup(recipe), {"weights": {"GC/cls": -1.0}})


def test_student_starts_as_teacher_copy(tiny_recipe):
    recipe = tiny_recipe("dcgan-digits")
    setup = make_setup(recipe, target=0.0)
    technique = get_technique("self-supervised", setup)
    for (k, a), b in zip(setup.teacher_gens.state_dict().items(), technique.student.state_dict().values()):
        assert torch.equal(a, b), k
    assert all(not p.requires_grad for p in setup.teacher_gens.parameters())
    assert technique.student is not setup.teacher_gens


def test_memoized_discriminator_gives_identical_gradients(tiny_recipe):
    """Memoizing D within a phase changes cost, not losses or gradients."""
    from gancompress.techniques.memo import memoized

    recipe = tiny_recipe("dcgan-digits")
    gens, discs = recipe.build_generators(), recipe.build_discriminators().eval()
    batch = recipe.make_batch((torch.randn(4, 1, 32, 32), torch.zeros(4)), torch.Generator().manual_seed(0))

    def grads(d):
        gens.zero_grad()
        out = recipe.generate(gens, batch)
        loss = sum(v.mean() for v in recipe.generator_terms(gens, d, batch, out).values())
        loss = loss + sum(v.mean() for v in recipe.discriminator_terms(d, batch, out).values())
        loss.backward()
        return [p.grad.clone() for p in gens.parameters()]

    plain = grads(discs)
    with memoized(discs) as d:
        memo = grads(d)
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(plain, memo))


def test_dense_training_steps_g_every_n_critic_steps(tiny_recipe):
    """WGAN-GP recipes (StarGAN: n_critic 5) update D every step and G every n_critic-th step."""
    recipe = tiny_recipe("stargan-textures")
    assert type(recipe).n_critic == 5
    technique = get_technique("dense", make_setup(recipe))
    images, labels = zip(*(recipe.dataset("train")[i] for i in range(4)))
    batch = recipe.make_batch((torch.stack(images), torch.stack([torch.as_tensor(y) for y in labels])),
                              torch.Generator().manual_seed(0))

    def snapshot(nets):
        return [p.detach().clone() for p in nets.parameters()]

    for step in range(5):
        g_before, d_before = snapshot(technique.gens), snapshot(technique.discs)
        logs = technique.train_step(batch, step)
        g_moved = any(not torch.equal(a, b) for a, b in zip(g_before, technique.gens.parameters()))
        d_moved = any(not torch.equal(a, b) for a, b in zip(d_before, technique.discs.parameters()))
        assert d_moved and g_moved == (step == 4), step
        assert {"G/adv", "G/cls", "G/rec", "D/gp"} <= set(logs)  # G terms are logged on critic-only steps too


@pytest.mark.parametrize("name", RECIPES.names())
def test_filter_pruning_keeps_output_channels_and_prunes_coupled_layers_alike(name, tiny_recipe):
    """The layer that draws each generator's image keeps all its filters (no dead colour channel);
    layers tied by residual adds lose identical filters and dead channels emit nothing, so
    materialize removes them without changing the output."""
    from gancompress.export.materialize import materialize
    from gancompress.pruning.channel_graph import dead_filters
    from gancompress.nets import example_inputs

    recipe = tiny_recipe(name)
    setup = make_setup(recipe)
    with torch.no_grad():  # non-zero norm shifts: dead channels would emit them unless silenced
        for m in setup.teacher_gens.modules():
            if isinstance(m, torch.nn.modules.batchnorm._NormBase) and m.affine:
                m.bias.normal_(0, 0.1)
    setup.prune = PruneConfig(granularity="filter", target=0.5, schedule="oneshot")
    technique = get_technique("self-supervised", setup)
    pruner = technique.pruner
    pruner.step(0)
    dead = {n: dead_filters(m) for n, m in pruner.layers.items()}
    assert len(pruner.keep_filters) == len(setup.teacher_gens)  # one image-producing layer per generator
    assert not any(dead[n].any() for n in pruner.keep_filters)
    assert all(dead[n].any() for n in pruner.layers if n not in pruner.keep_filters and dead[n].numel() > 1)
    assert bool(pruner.couple) == name.startswith(("cyclegan", "stargan", "srgan"))  # the ResNet generators
    for group in pruner.couple:
        assert all(torch.equal(dead[n], dead[group[0]]) for n in group), group
    # dead channels are silenced, so the masked student already computes what its materialised form will
    inputs = example_inputs(recipe, technique.student)
    for key, net in technique.student.items():
        assert materialize(net, inputs[key]).deviation < 1e-5, key
