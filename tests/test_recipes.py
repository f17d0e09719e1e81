"""Checks every registered recipe gets for free (parametrised over the registry)."""
import pytest
import torch

from gancompress.recipes import RECIPES
from gancompress.recipes.base import weighted_total
from gancompress.training.batches import StepBatcher


def _batch(recipe, n=4, seed=0):
    batcher = StepBatcher(recipe.dataset("train"), n, seed)
    return recipe.make_batch(batcher.items(0), torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("name", RECIPES.names())
def test_forward_terms_backward(name, tiny_recipe):
    recipe = tiny_recipe(name)
    gens, discs = recipe.build_generators(), recipe.build_discriminators()
    batch = _batch(recipe)
    out = recipe.generate(gens, batch)
    g_terms = recipe.generator_terms(gens, discs, batch, out)
    d_terms = recipe.discriminator_terms(discs, batch, {k: v.detach() for k, v in out.items()})
    assert set(g_terms) == set(recipe.g_weights) and set(d_terms) == set(recipe.d_weights)
    n = next(iter(batch.values())).shape[0]
    for term in (*g_terms.values(), *d_terms.values()):
        assert term.shape == (n,) and torch.isfinite(term).all()
    weighted_total(g_terms, recipe.g_weights).backward()
    grads = [p.grad for p in gens.parameters() if p.grad is not None]
    assert grads and any(g.abs().sum() > 0 for g in grads)


@pytest.mark.parametrize("name", RECIPES.names())
def test_same_rng_gives_same_inputs(name, tiny_recipe):
    recipe = tiny_recipe(name)
    a, b = _batch(recipe, seed=3), _batch(recipe, seed=3)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    e1, e2 = next(recipe.eval_batches(6, seed=1)), next(recipe.eval_batches(6, seed=1))
    assert all(torch.equal(e1[k], e2[k]) for k in e1)


@pytest.mark.parametrize("name", RECIPES.names())
def test_display_is_an_image_batch(name, tiny_recipe):
    recipe = tiny_recipe(name)
    gens = recipe.build_generators().eval()
    batch = next(recipe.eval_batches(5, seed=0))
    images = recipe.display(batch, recipe.generate(gens, batch))
    assert images.ndim == 4 and images.shape[0] >= 5 and images.shape[1] in (1, 3)
    assert images.min() >= -1 and images.max() <= 1


def test_dcgan_loads_pytorch_examples_layout():
    """State-dict keys follow pytorch/examples' dcgan (main.<i>.weight ...) at 64x64, nc=3."""
    from gancompress.recipes.dcgan import Discriminator, Generator

    g, d = Generator(nz=100, ngf=64, nc=3, image_size=64), Discriminator(ndf=64, nc=3, image_size=64)
    g_keys = {k: tuple(v.shape) for k, v in g.state_dict().items()}
    assert g_keys["main.0.weight"] == (100, 512, 4, 4)
    assert g_keys["main.1.running_mean"] == (512,)
    assert g_keys["main.12.weight"] == (64, 3, 4, 4)
    assert len([k for k in g_keys if k.endswith(".weight")]) == 9  # 5 deconvs + 4 batch norms
    d_keys = {k: tuple(v.shape) for k, v in d.state_dict().items()}
    assert d_keys["main.0.weight"] == (64, 3, 4, 4) and d_keys["main.11.weight"] == (1, 512, 4, 4)
    assert g(torch.randn(2, 100, 1, 1)).shape == (2, 3, 64, 64)
    assert d(torch.randn(2, 3, 64, 64)).shape == (2, 1, 1, 1)


def test_mnist_idx_loader(tmp_path):
    from conftest import write_mnist_fixture
    from gancompress.data.mnist import mnist_split, read_idx

    root = write_mnist_fixture(tmp_path / "m", n=10)
    ds = mnist_split(root, "train", size=32)
    assert len(ds) == 10 and ds[0][0].shape == (1, 32, 32)
    assert ds[0][0].min() >= -1 and ds[0][0].max() <= 1
    bad = tmp_path / "bad-idx"
    bad.write_bytes(b"\x01\x02\x08\x03")
    with pytest.raises(ValueError, match="bad magic"):
        read_idx(bad)
    short = tmp_path / "short"
    short.write_bytes((root / "train-labels-idx1-ubyte").read_bytes()[:-3])
    with pytest.raises(ValueError, match="truncated"):
        read_idx(short)


def test_digits_split_is_disjoint_and_fixed():
    from gancompress.data.digits import digits_split

    train, test = digits_split("train"), digits_split("test")
    assert len(train) + len(test) == 1797 and len(test) == 359
    assert torch.equal(digits_split("test").tensors[0], test.tensors[0])
