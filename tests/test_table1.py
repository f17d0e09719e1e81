"""Table 1: every row resolves to the networks, initialisation, pruning and losses it claims."""
import pytest
import torch

from gancompress.pruning import PruneConfig
from gancompress.recipes import RECIPES
from gancompress.techniques import get_technique
from gancompress.techniques.base import Setup
from gancompress.techniques.table1 import ROWS, rows_for

TARGET, STEPS = 0.5, 10
TRAINED = [r for r in ROWS.values() if r.technique is not None]


def _setup(recipe):
    return Setup(recipe=recipe, teacher_gens=recipe.build_generators(), teacher_discs=recipe.build_discriminators(),
                 prune=PruneConfig(target=TARGET, schedule="agp", end=0.5), total_steps=STEPS,
                 lr_g=1e-3, lr_d=1e-3, device=torch.device("cpu"))


def _params(nets):
    return {k: v.detach().clone() for k, v in nets.state_dict().items()}


def _equal(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _batch(recipe, n=8):
    from gancompress.training.batches import StepBatcher

    return recipe.make_batch(StepBatcher(recipe.dataset("train"), n, 0).items(0), torch.Generator().manual_seed(0))


@pytest.mark.parametrize("name", RECIPES.names())
@pytest.mark.parametrize("row", TRAINED, ids=[r.id for r in TRAINED])
def test_row_matches_its_claims(row, name, tiny_recipe):
    """Parametrised over the recipe registry: every family gets every row of the table."""
    recipe = tiny_recipe(name)
    setup = _setup(recipe)
    teacher_g, teacher_d = _params(setup.teacher_gens), _params(setup.teacher_discs)
    technique = get_technique(row.technique, setup, dict(row.options))
    student = technique.student

    # how the student starts
    if row.student == "dense":
        assert _equal(_params(student), teacher_g)
    elif row.student == "random":
        assert _params(student).keys() == teacher_g.keys() and not _equal(_params(student), teacher_g)
    else:  # narrow: a small dense net, about (1 - target) of the teacher's parameters
        ratio = sum(p.numel() for p in student.parameters()) / sum(p.numel() for p in setup.teacher_gens.parameters())
        assert 0.3 < ratio < 0.7

    # the discriminator it meets, before training
    discs = technique.discriminators
    if row.disc == "none":
        assert discs is None
    elif row.disc.startswith("pretrained"):
        assert _equal(_params(discs), teacher_d)
    else:
        assert not _equal(_params(discs), teacher_d)
    before_d = _params(discs) if discs is not None else None

    # does G_O take part? count teacher forward passes during a step
    calls = []
    hooks = [m.register_forward_hook(lambda *a: calls.append(1)) for m in setup.teacher_gens.values()]
    logs = technique.train_step(_batch(recipe), 0)
    for handle in hooks:
        handle.remove()
    assert bool(calls) == row.teacher

    # the student's loss is made of exactly the claimed parts
    parts = {k.split("/", 1)[1] for k in logs if k.startswith("loss/")} - {"total"}
    assert parts == set(row.losses)

    # pruning after the first step
    if row.pruning == "none":
        assert technique.pruner is None
    elif row.pruning == "one-shot":
        assert technique.pruner.sparsity() == pytest.approx(TARGET, abs=0.01)
    else:  # gradual (the run's AGP schedule starts at 5%)
        assert 0.0 < technique.pruner.sparsity() < 0.2

    # the discriminator trains, stays fixed, or is pruned as claimed
    if discs is not None:
        changed = not _equal(_params(discs), before_d)
        assert changed == row.disc_trained
        d_weights = [m.weight for m in discs.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
        d_zeros = sum(int((w == 0).sum()) for w in d_weights) / sum(w.numel() for w in d_weights)
        assert (d_zeros > 0.01) == ("pruned" in row.disc)


def test_em_pruning_masks_can_shrink_back():
    """E-M re-assigns masks from latent weights: a pruned weight may return (other rows only grow masks)."""
    from gancompress.recipes import get_recipe
    from conftest import TINY

    recipe = get_recipe("dcgan-digits", TINY["dcgan-digits"])
    setup = _setup(recipe)
    em = get_technique("em-pruning", setup, {"e_every": 1, "prune": "oneshot"})  # a constant level
    batch = _batch(recipe)
    em.train_step(batch, 0)
    first = {k: m.clone() for k, m in em.pruner.masks.items()}
    revived = 0
    for step in range(1, 6):
        em.train_step(batch, step)
        revived += sum(int((~first[k] & m).sum()) for k, m in em.pruner.masks.items())
    assert revived > 0
    # the student's weights are latent x mask: exactly zero where masked
    for name, layer in em.pruner.layers.items():
        assert torch.equal(layer.weight[~em.pruner.masks[name]], torch.zeros_like(layer.weight[~em.pruner.masks[name]]))


def test_lit_feeds_sections_the_teacher_inputs(tiny_recipe):
    """With the teacher's weights, every LIT section reproduces the teacher's section output exactly."""
    from gancompress.techniques.base import recording
    from gancompress.techniques.lit import sections_fed_by

    recipe = tiny_recipe("dcgan-digits")
    setup = _setup(recipe)
    lit = get_technique("lit", setup)
    lit.gens.load_state_dict(setup.teacher_gens.state_dict())
    batch = _batch(recipe)
    setup.teacher_gens.eval(), lit.gens.eval()
    with torch.no_grad(), recording(lit.t_layers, inputs=True) as t_in:
        recipe.generate(setup.teacher_gens, batch)
    with torch.no_grad(), sections_fed_by(lit.s_layers, t_in) as arrived:
        recipe.generate(lit.gens, batch)
    assert len(arrived) == len(t_in) > 2
    for name in arrived:
        for a, t in zip(arrived[name], t_in[name]):
            assert torch.allclose(a, t, atol=1e-6)


def test_rows_for_rejects_unknown_ids():
    assert [r.id for r in rows_for("b, a,b")] == ["b", "a"]
    assert len(rows_for(None)) == 17  # the paper's (a)-(n), our (o) and (q), and the control (p)
    with pytest.raises(ValueError, match="unknown technique id 'z'"):
        rows_for("a,z")


def test_qualitative_flags():
    from gancompress.compare import qualitative_flag

    dense = {"fid": 100.0, "coverage": 1.0, "diversity": 0.9}
    assert qualitative_flag({"fid": 105.0, "coverage": 1.0, "diversity": 0.88}, dense) == "-"
    assert qualitative_flag({"fid": 180.0, "coverage": 1.0, "diversity": 0.85}, dense) == "artifacts"
    assert qualitative_flag({"fid": 900.0, "coverage": 0.3, "diversity": 0.1}, dense) == "mode collapse; fails (FID x9)"
    assert qualitative_flag({"fid": 120.0}, {"fid": 100.0}) == "quality loss"


def test_compare_table_shows_the_familys_own_quality_metrics():
    """An SR comparison's table has PSNR and SSIM beside FID; the ratios keep their own columns, once."""
    from gancompress.compare import compare_table
    from gancompress.config import RunConfig

    columns = {"teacher": True, "student_init": "dense", "pruning": "gradual", "disc": "pretrained",
               "disc_trained": True, "losses": ["L_GC", "L_DC"], "features": "photo patches", "flag": "-"}
    results = {"a": {**columns, "name": "dense", "fid": 44.0, "psnr": 30.0, "ssim": 0.838, "kid_std": 1.0,
                     "sparsity": 0.0, "fid_to_control": 2.0},
               "b": {**columns, "name": "the method", "fid": 38.0, "psnr": 30.4, "ssim": 0.832, "kid_std": 1.0,
                     "sparsity": 0.5, "fid_ratio": 38 / 44, "fid_to_control": 1.9}}
    lines = compare_table(results, RunConfig(recipe="srgan-photos")).splitlines()
    assert lines[3].endswith("| sparsity | FID | FID ratio | psnr | ssim | diversity | flag |")
    assert lines[6] == ("| b | the method | yes | dense | gradual | pretrained | yes | L_GC + L_DC | 0.500 | 38 | 0.864 "
                        "| 30.400 | 0.832 | - | - |")
