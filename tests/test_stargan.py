"""StarGAN: the reference's state-dict layout, its CelebA split, the texture task, compression."""
import random

import pytest
import torch

from gancompress.recipes.stargan import Discriminator, Generator, edit_targets


def reference_layout(conv_dim=64, c_dim=5, g_repeat=6, image_size=128, d_repeat=6):
    """Key -> shape of yunjey/stargan's G.ckpt and D.ckpt, written out from its model.py rules."""
    def norm(prefix, ch):
        return {f"{prefix}.weight": (ch,), f"{prefix}.bias": (ch,), f"{prefix}.running_mean": (ch,),
                f"{prefix}.running_var": (ch,), f"{prefix}.num_batches_tracked": ()}

    g = {"main.0.weight": (conv_dim, 3 + c_dim, 7, 7), **norm("main.1", conv_dim)}
    dim, i = conv_dim, 3
    for _ in range(2):  # down-sampling: conv, IN, ReLU
        g.update({f"main.{i}.weight": (2 * dim, dim, 4, 4), **norm(f"main.{i + 1}", 2 * dim)})
        dim, i = 2 * dim, i + 3
    for _ in range(g_repeat):  # residual blocks: main.M with conv 0, IN 1, conv 3, IN 4
        g.update({f"main.{i}.main.0.weight": (dim, dim, 3, 3), **norm(f"main.{i}.main.1", dim),
                  f"main.{i}.main.3.weight": (dim, dim, 3, 3), **norm(f"main.{i}.main.4", dim)})
        i += 1
    for _ in range(2):  # up-sampling: deconv (in, out, k, k), IN, ReLU
        g.update({f"main.{i}.weight": (dim, dim // 2, 4, 4), **norm(f"main.{i + 1}", dim // 2)})
        dim, i = dim // 2, i + 3
    g[f"main.{i}.weight"] = (3, dim, 7, 7)
    d, dim = {"main.0.weight": (conv_dim, 3, 4, 4), "main.0.bias": (conv_dim,)}, conv_dim
    for j in range(1, d_repeat):
        d.update({f"main.{2 * j}.weight": (2 * dim, dim, 4, 4), f"main.{2 * j}.bias": (2 * dim,)})
        dim *= 2
    k = image_size // 2**d_repeat
    d.update({"conv1.weight": (1, dim, 3, 3), "conv2.weight": (c_dim, dim, k, k)})
    return g, d


def test_networks_have_the_reference_keys_and_shapes():
    g_ref, d_ref = reference_layout()
    g, d = Generator(64, 5, 6), Discriminator(128, 64, 5, 6)
    assert {k: tuple(v.shape) for k, v in g.state_dict().items()} == g_ref
    assert {k: tuple(v.shape) for k, v in d.state_dict().items()} == d_ref


def test_reference_checkpoints_load_strict_and_compress(tiny_recipe, tmp_path):
    """``<iter>-G.ckpt`` / ``<iter>-D.ckpt`` (torch.save of plain state dicts) load without edits, then compress."""
    from gancompress.api import load_networks
    from gancompress.config import TrainConfig
    from gancompress.techniques import get_technique
    from gancompress.training.trainer import Trainer
    from test_techniques import make_setup

    recipe = tiny_recipe("stargan-celeba")
    o = recipe.opt
    g_ref, d_ref = reference_layout(o.g_conv_dim, len(o.selected_attrs), o.g_repeat_num, o.image_size, o.d_repeat_num)
    gen = torch.Generator().manual_seed(0)
    for name, layout in (("G", g_ref), ("D", d_ref)):
        state = {k: (torch.tensor(7) if not shape else torch.randn(shape, generator=gen) * 0.1)
                 for k, shape in layout.items()}
        torch.save(state, tmp_path / f"200000-{name}.ckpt")
    gens = load_networks(recipe.build_generators(), tmp_path, recipe)
    discs = load_networks(recipe.build_discriminators(), tmp_path, recipe)
    saved = torch.load(tmp_path / "200000-G.ckpt", weights_only=True)
    assert all(torch.equal(gens["G"].state_dict()[k], v) for k, v in saved.items())
    setup = make_setup(recipe)
    setup.teacher_gens, setup.teacher_discs = gens, discs
    technique = get_technique("self-supervised", setup)
    result = Trainer(recipe, technique, TrainConfig(steps=4, batch_size=4, log_every=1, ckpt_every=0),
                     tmp_path / "run", torch.device("cpu")).run()
    assert {"GC/adv", "GC/cls", "GC/rec", "DC/real", "DC/fake", "DC/cls", "DC/gp"} <= set(result.last_logs)
    assert technique.pruner.sparsity() == pytest.approx(0.5, abs=0.01)


def test_celeba_split_is_the_references(tiny_recipe):
    recipe = tiny_recipe("stargan-celeba")
    root = recipe.opt.data_root
    lines = [line.rstrip() for line in open(f"{root}/list_attr_celeba.txt")][2:]
    random.seed(1234)  # the reference: random.seed(1234); random.shuffle(lines); test when (i + 1) < 2000
    random.shuffle(lines)
    expected_test = [line.split()[0] for i, line in enumerate(lines) if i + 1 < 2000]
    test, train = recipe.dataset("test"), recipe.dataset("train")
    assert [r[0] for r in test.rows] == expected_test and len(test) == 1999 and len(train) == len(lines) - 1999
    image, label = train[0]
    assert image.shape == (3, 16, 16) and image.min() >= -1 and image.max() <= 1
    attrs = open(f"{root}/list_attr_celeba.txt").read().splitlines()[1].split()
    row = next(line.split() for line in lines if line.split()[0] == train.rows[0][0])
    want = [1.0 if row[1 + attrs.index(a)] == "1" else 0.0 for a in recipe.opt.selected_attrs]
    assert label.tolist() == want


def test_celeba_reports_missing_files_and_attributes(tmp_path):
    from gancompress.data.celeba import CelebA
    from gancompress.data.images import DataError

    with pytest.raises(DataError, match="img_align_celeba"):
        CelebA(tmp_path, "train", ("Male",))
    (tmp_path / "img_align_celeba").mkdir()
    (tmp_path / "list_attr_celeba.txt").write_text("1\nMale Young\n000001.jpg 1 -1\n")
    with pytest.raises(DataError, match="unknown attribute 'Smiling'"):
        CelebA(tmp_path, "train", ("Smiling",))


def test_edit_targets_follow_the_reference():
    labels = torch.tensor([[1.0, 0.0, 0.0, 1.0, 0.0]])  # black hair, male, not young
    t = edit_targets(labels, "bce", ((0, 1, 2),))
    assert t[1].tolist() == [[0.0, 1.0, 0.0, 1.0, 0.0]]  # blond: hair group set exclusively
    assert t[3].tolist() == [[1.0, 0.0, 0.0, 0.0, 0.0]]  # Male flipped
    assert [x.argmax().item() for x in edit_targets(torch.eye(3)[:1], "ce")] == [0, 1, 2]


def test_texture_split_is_disjoint_and_balanced():
    from gancompress.data.multidomain import texture_domains

    train, test = texture_domains("train"), texture_domains("test")
    assert len(train) == 3 * 609 and len(test) == 3 * 145
    assert train.tensors[1].sum(0).tolist() == [609.0] * 3
    assert train.tensors[0].shape[1:] == (3, 32, 32)


def test_batch_shares_targets_and_gp_alpha_between_calls(tiny_recipe):
    recipe = tiny_recipe("stargan-textures")
    items = (torch.randn(6, 3, 16, 16), torch.eye(3)[[0, 1, 2, 0, 1, 2]])
    a = recipe.make_batch(items, torch.Generator().manual_seed(5))
    b = recipe.make_batch(items, torch.Generator().manual_seed(5))
    assert torch.equal(a["label_trg"], b["label_trg"]) and torch.equal(a["gp_alpha"], b["gp_alpha"])
    assert sorted(a["label_trg"].argmax(1).tolist()) == sorted(items[1].argmax(1).tolist())  # a permutation


def test_shipped_domain_classifier_recognises_held_out_textures():
    from gancompress.data.multidomain import texture_domains
    from gancompress.metrics.domain_classifier import domain_accuracy, load_domain_classifier

    x, y = texture_domains("test").tensors
    assert domain_accuracy(load_domain_classifier(), x, y) > 0.95
