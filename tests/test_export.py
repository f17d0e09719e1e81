"""Materialised (physically smaller) generators, compact sparse weights and ONNX, for every recipe."""
import pytest
import torch
import yaml
from torch import nn

from gancompress.config import to_dict
from gancompress.export.bundle import export_run, load_exported
from gancompress.export.formats import check_onnx, export_onnx, load_weights, pack_bits, save_sparse, unpack_bits
from gancompress.export.materialize import channel_config, materialize, resize_modules, silence_dead_channels
from gancompress.io import save_weights
from gancompress.nets import example_inputs, run
from gancompress.pruning import PruneConfig, Pruner, output_layers
from gancompress.pruning.channel_graph import coupled_layers
from gancompress.recipes import RECIPES


def randomise_affine(nets: nn.Module) -> None:
    """Non-trivial norm scales/shifts/statistics and biases, so a forgotten slice shows."""
    with torch.no_grad():
        for m in nets.modules():
            if getattr(m, "running_mean", None) is not None:
                m.running_mean.normal_(0, 0.2)
                m.running_var.uniform_(0.5, 2.0)
            if isinstance(m, (nn.modules.batchnorm._NormBase, nn.Conv2d, nn.ConvTranspose2d)):
                if getattr(m, "bias", None) is not None:
                    m.bias.normal_(0, 0.1)
                if isinstance(m, nn.modules.batchnorm._NormBase) and m.affine:
                    m.weight.uniform_(0.5, 1.5)


def filter_pruned(recipe, level=0.5):
    """Filter pruning as techniques set it up: output layers whole, residual-coupled layers together."""
    gens = recipe.build_generators()
    randomise_affine(gens)
    inputs = example_inputs(recipe, gens)
    couple = [[f"{key}.{n}" for n in group] for key, net in gens.items() for group in coupled_layers(net, inputs[key])]
    Pruner(gens, PruneConfig(granularity="filter", target=level), total_steps=1,
           keep_filters=output_layers(gens, inputs), couple=couple).prune_now(level)
    return gens.eval()


_INPUTS: dict = {}


def inputs_for(name, recipe, gens):
    """Example inputs per recipe, computed once (some recipes build their data slowly)."""
    if name not in _INPUTS:
        _INPUTS[name] = example_inputs(recipe, gens)
    return _INPUTS[name]


def pruned_with_inputs(name, tiny_recipe):
    """(recipe, filter-pruned generators, their example inputs) of a registered recipe at tiny size."""
    recipe = tiny_recipe(name)
    gens = filter_pruned(recipe)
    return recipe, gens, inputs_for(name, recipe, gens)


def outputs(net, inputs):
    with torch.no_grad():
        return run(net.eval(), inputs)


@pytest.mark.parametrize("name", RECIPES.names())
def test_materialized_equals_masked_and_reloads(name, tiny_recipe):
    recipe, gens, inputs = pruned_with_inputs(name, tiny_recipe)
    for key, net in gens.items():
        masked = silence_dead_channels(net, inputs[key])  # dead channels emit exact zeros
        m = materialize(masked, inputs[key])
        assert m.params_after < m.params_before and sum(m.removed.values()) > 0
        assert m.deviation < 1e-5
        torch.testing.assert_close(outputs(m.net, inputs[key]), outputs(masked, inputs[key]), atol=1e-5, rtol=0)
        # reload without torch-pruning or masks: fresh net + saved channel configuration + weights
        fresh = resize_modules(recipe.build_generators()[key], channel_config(m.net))
        fresh.load_state_dict(m.net.state_dict())
        torch.testing.assert_close(outputs(fresh, inputs[key]), outputs(m.net, inputs[key]), atol=0, rtol=0)


def test_element_pruned_net_loses_only_all_zero_filters(tiny_recipe):
    recipe = tiny_recipe("dcgan-digits")
    g = recipe.build_generators()
    with torch.no_grad():
        g["G"].main[0].weight[:, 1] = 0  # ConvTranspose2d: output channel 1 of the first layer
        g["G"].main[3].weight[0, 0, 0, 0] = 0  # one element only: nothing to remove
    inputs = example_inputs(recipe, g)["G"]
    m = materialize(g["G"], inputs)
    assert m.removed == {"main.0": 1}
    assert m.net.main[1].running_mean.shape == (g["G"].main[0].out_channels - 1,)


class _Block(nn.Module):
    """U-Net step (in-place LeakyReLU that also changes the skip) around a residual block with IN stats."""

    def __init__(self, c: int = 8):
        super().__init__()
        self.down = nn.Sequential(nn.LeakyReLU(0.2, True), nn.Conv2d(c, 2 * c, 4, 2, 1), nn.InstanceNorm2d(2 * c))
        self.res = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(2 * c, 2 * c, 3),
                                 nn.InstanceNorm2d(2 * c, affine=True, track_running_stats=True), nn.ReLU(True),
                                 nn.Conv2d(2 * c, 2 * c, 1))
        self.up = nn.Sequential(nn.ReLU(True), nn.ConvTranspose2d(2 * c, c, 4, 2, 1), nn.BatchNorm2d(c))
        self.head = nn.Sequential(nn.Conv2d(2 * c, 3, 3, padding=1), nn.Tanh())

    def forward(self, x):
        h = self.down(x)
        h = h + self.res(h)
        return self.head(torch.cat([x, self.up(h)], 1))


def test_residual_concat_and_inplace_side_effects_are_kept():
    net = _Block()
    randomise_affine(net)
    Pruner(nn.ModuleDict({"G": net}), PruneConfig(granularity="filter", target=0.5), 1).prune_now(0.5)
    with torch.no_grad():
        net.res[4].weight[:3] = 0  # residual channels 0-2 dead in both producers
        net.down[1].weight[:3] = 0
    inputs = ((torch.randn(2, 8, 8, 8),), {})
    masked = silence_dead_channels(net, inputs)
    m = materialize(masked, inputs)
    assert m.net.res[1].in_channels <= 13 and m.net.up[1].out_channels < 8
    assert m.net.down[0].inplace  # the skip still sees the activated input, as in the original
    torch.testing.assert_close(outputs(m.net, inputs), outputs(masked, inputs), atol=1e-5, rtol=0)


def test_coupled_layers_are_the_residual_producers():
    assert coupled_layers(_Block(), ((torch.randn(1, 8, 8, 8),), {})) == [["down.1", "res.4"]]


def test_bit_packing_roundtrip():
    mask = torch.rand(37) > 0.5
    assert torch.equal(unpack_bits(pack_bits(mask), 37), mask)


def test_sparse_file_tracks_nonzeros_and_loads_identically(tmp_path):
    from gancompress.recipes import get_recipe

    gens = get_recipe("dcgan-digits").build_generators()  # the shipped size
    Pruner(gens, PruneConfig(granularity="element", target=0.9), 1).prune_now(0.9)
    dense = save_weights(gens["G"], tmp_path / "G.safetensors")
    compact = save_sparse(gens["G"].state_dict(), tmp_path / "G.sparse.safetensors")
    assert compact.stat().st_size <= 0.20 * dense.stat().st_size
    loaded = load_weights(compact)
    assert set(loaded) == set(gens["G"].state_dict())
    for key, value in gens["G"].state_dict().items():
        assert torch.equal(loaded[key], value), key


@pytest.mark.parametrize("name", RECIPES.names())
def test_onnx_matches_torch(name, tiny_recipe, tmp_path):
    pytest.importorskip("onnxruntime")
    recipe, gens, inputs = pruned_with_inputs(name, tiny_recipe)
    for key, net in gens.items():
        path = export_onnx(net, inputs[key], tmp_path / f"{key}.onnx")
        assert check_onnx(path, net, inputs[key], atol=1e-4) <= 1e-4


def test_export_run_writes_every_format_and_reloads(tiny_recipe, tmp_path):
    pytest.importorskip("onnxruntime")
    recipe = tiny_recipe("dcgan-digits")
    gens = filter_pruned(recipe)
    run_dir = tmp_path / "run"
    save_weights(gens["G"], run_dir / "student_G.safetensors")
    (run_dir / "recipe.yaml").write_text(yaml.safe_dump({"recipe": "dcgan-digits", "options": to_dict(recipe.opt)}))
    summary = export_run(run_dir, formats=("safetensors", "sparse", "onnx"), materialize_channels=True)
    info = summary["networks"]["G"]
    assert info["params_after"] < info["params_before"] and info["onnx_max_abs_diff"] <= 1e-4
    inputs = example_inputs(recipe, gens)["G"]
    for prefer in ("safetensors", "sparse"):
        _, loaded = load_exported(run_dir / "export", prefer=prefer)
        expected = outputs(silence_dead_channels(gens["G"], inputs), inputs)
        torch.testing.assert_close(outputs(loaded["G"], inputs), expected, atol=1e-5, rtol=0)


# -- channel-importance criteria (which channels filter pruning hands to materialisation) --------------
def _filter_keep(model, criterion):
    pruner = Pruner(model, PruneConfig(granularity="filter", target=0.5, criterion=criterion), 1)
    pruner.prune_now(0.5)
    return pruner.masks["G.0"].flatten(1).any(1).tolist()


def test_norm_scale_folds_the_following_norm():
    def net():
        g = nn.Sequential(nn.Conv2d(1, 2, 1, bias=False), nn.BatchNorm2d(2), nn.ReLU())
        with torch.no_grad():
            g[0].weight.copy_(torch.tensor([5.0, 1.0]).reshape(2, 1, 1, 1))
            g[1].weight.copy_(torch.tensor([0.1, 2.0]))
            g[1].running_var.copy_(torch.tensor([4.0, 1.0]))
        return nn.ModuleDict({"G": g})

    assert _filter_keep(net(), "magnitude") == [True, False]
    assert _filter_keep(net(), "norm-scale") == [False, True]  # 5 * 0.1 / 2 < 1 * 2 / 1


def test_norm_scale_without_a_norm_is_magnitude():
    net = nn.ModuleDict({"G": nn.Sequential(nn.Conv2d(1, 2, 1), nn.ReLU(), nn.Conv2d(2, 2, 1), nn.BatchNorm2d(2))})
    with torch.no_grad():
        net["G"][0].weight.copy_(torch.tensor([5.0, 1.0]).reshape(2, 1, 1, 1))
    assert _filter_keep(net, "norm-scale") == [True, False]


def test_taylor_uses_the_gradient_when_there_is_one():
    net = nn.ModuleDict({"G": nn.Sequential(nn.Conv2d(1, 2, 1, bias=False))})
    with torch.no_grad():
        net["G"][0].weight.copy_(torch.tensor([5.0, 1.0]).reshape(2, 1, 1, 1))
    assert _filter_keep(net, "taylor") == [True, False]  # no gradient yet: |w|
    net["G"][0].weight.data.copy_(torch.tensor([5.0, 1.0]).reshape(2, 1, 1, 1))
    net["G"][0].weight.grad = torch.tensor([0.01, 1.0]).reshape(2, 1, 1, 1)
    assert _filter_keep(net, "taylor") == [False, True]


@pytest.mark.parametrize("name", RECIPES.names())
def test_exported_program_runs_without_our_code(name, tiny_recipe, tmp_path):
    from gancompress.export.formats import check_program, export_program

    recipe = tiny_recipe(name)
    gens = recipe.build_generators().eval()
    inputs = example_inputs(recipe, gens)
    for key, net in gens.items():
        path = export_program(net, inputs[key], tmp_path / f"{key}.pt2")
        assert check_program(path, net, inputs[key]) <= 1e-4
        loaded = torch.export.load(str(path)).module()  # plain torch: any batch size
        args = tuple(torch.cat([a, a]) for a in inputs[key][0])
        with torch.no_grad():
            assert torch.allclose(loaded(*args), net(*args), atol=1e-5)


@pytest.mark.parametrize("name", RECIPES.names())
def test_int8_model_is_calibrated_on_training_inputs_and_stays_close_to_float(name, tiny_recipe, tmp_path):
    pytest.importorskip("onnxruntime")
    import onnx

    from gancompress.export.formats import OnnxGenerator
    from gancompress.export.quantize import calibration_inputs, check_int8, quantize_onnx

    recipe, gens, inputs = pruned_with_inputs(name, tiny_recipe)
    calibration = calibration_inputs(recipe, gens, n_batches=2, batch_size=2)
    for key, net in gens.items():
        assert len(calibration[key]) == 2
        float_model = export_onnx(net, inputs[key], tmp_path / f"{key}.onnx")
        int8 = quantize_onnx(float_model, tmp_path / f"{key}.int8.onnx", calibration[key])
        ops = {node.op_type for node in onnx.load(str(int8)).graph.node}
        assert {"QuantizeLinear", "DequantizeLinear"} <= ops  # really quantised, not a copy
        report = check_int8(int8, net, inputs[key])
        assert report["psnr_vs_float"] > 20 and 0 < report["mean_abs_diff"] < 0.2
        # the model runs in place of the generator, with another batch size than it was exported with
        args = tuple(torch.cat([a, a]) if torch.is_tensor(a) else a for a in inputs[key][0])
        out = OnnxGenerator(int8)(*args)
        with torch.no_grad():
            expected = net(*args)
        expected = expected[0] if isinstance(expected, (tuple, list)) else expected
        assert out.shape == expected.shape and float((out - expected).abs().mean()) < 0.2


def test_int8_check_refuses_a_broken_quantisation(tiny_recipe, tmp_path):
    pytest.importorskip("onnxruntime")
    from gancompress.export.quantize import check_int8

    recipe = tiny_recipe("dcgan-digits")
    gens = recipe.build_generators().eval()
    inputs = example_inputs(recipe, gens)["G"]


    class Shifted(nn.Module):  # every pixel 0.5 off: 12 dB
        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, z):
            return self.net(z) + 0.5

    path = export_onnx(Shifted(gens["G"]), inputs, tmp_path / "shifted.onnx")
    with pytest.raises(ValueError, match="12.0 dB from the float one"):
        check_int8(path, gens["G"], inputs)


def test_export_run_writes_int8_and_load_exported_runs_it(tiny_recipe, tmp_path):
    pytest.importorskip("onnxruntime")
    recipe = tiny_recipe("cyclegan-photos")
    gens = filter_pruned(recipe)
    run = tmp_path / "run"
    run.mkdir()
    for key, net in gens.items():
        save_weights(net, run / f"student_{key}.safetensors")
    (run / "recipe.yaml").write_text(yaml.safe_dump({"recipe": "cyclegan-photos", "options": to_dict(recipe.opt)}))
    summary = export_run(run, tmp_path / "ex", ("onnx", "onnx-int8"), materialize_channels=True)
    for key in gens:
        assert (tmp_path / "ex" / f"student_{key}.int8.onnx").exists()
        assert summary["networks"][key]["int8_vs_float"]["psnr_vs_float"] > 20
    _, loaded = load_exported(tmp_path / "ex", prefer="onnx-int8")
    assert set(loaded) == set(gens) and all(type(m).__name__ == "OnnxGenerator" for m in loaded.values())
    (tmp_path / "ex" / "student_G_B.int8.onnx").unlink()
    with pytest.raises(Exception, match="student_G_B.int8.onnx.*--format onnx-int8"):
        load_exported(tmp_path / "ex", prefer="onnx-int8")


@pytest.mark.parametrize("name", ["srgan-photos", "cyclegan-photos", "stargan-textures"])
def test_onnx_models_of_image_generators_take_any_image_size(name, tiny_recipe, tmp_path):
    pytest.importorskip("onnxruntime")
    from gancompress.bench import at_image_size
    from gancompress.export.formats import OnnxGenerator

    recipe = tiny_recipe(name)
    gens = recipe.build_generators().eval()
    key, net = next(iter(gens.items()))
    inputs = example_inputs(recipe, gens)[key]
    path = export_onnx(net, inputs, tmp_path / "g.onnx")
    bigger = at_image_size(net, inputs, 64, key)  # not the size it was exported at
    expected = outputs(net, bigger)
    expected = expected[0] if isinstance(expected, (tuple, list)) else expected
    torch.testing.assert_close(OnnxGenerator(path)(*bigger[0]), expected, atol=1e-4, rtol=0)
