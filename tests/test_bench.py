"""`gancompress bench` and `export`: cost counting, timing, tables, CLI on a tiny run."""
import json

import pytest
import torch
import yaml
from click.testing import CliRunner
from torch import nn

from gancompress.bench import (BenchOptions, bench_models, count_macs, layer_latency, layer_macs, layers_markdown, ratios,
                               to_markdown)
from gancompress.config import to_dict
from gancompress.io import save_weights
from gancompress.nets import example_inputs
from gancompress.pruning import PruneConfig, Pruner
from gancompress.recipes import RECIPES
from conftest import invoke_ok


def test_mac_counts_golden():
    conv = nn.Conv2d(3, 8, 3, padding=1)  # 8*16*16 outputs x 3*9
    deconv = nn.ConvTranspose2d(8, 4, 4, 2, 1)  # 8*16*16 inputs x 4*16
    linear = nn.Linear(10, 5)
    inputs = ((torch.randn(2, 3, 16, 16),), {})
    assert count_macs(conv, inputs) == 8 * 16 * 16 * 3 * 9
    assert count_macs(nn.Sequential(conv, deconv), inputs) == 8 * 16 * 16 * 27 + 8 * 16 * 16 * 4 * 16
    assert count_macs(linear, ((torch.randn(4, 10),), {})) == 50


@pytest.mark.parametrize("name", RECIPES.names())
def test_mac_counts_agree_with_torch_pruning_where_conventions_agree(name, tiny_recipe):
    """torch-pruning's counter adds bias additions and counts a transposed conv at every output position
    (out_hw / in_hw times its multiplies: 4x at stride 2); with that accounted for, every layer agrees."""
    import torch_pruning as tp

    recipe = tiny_recipe(name)
    gens = recipe.build_generators().eval()
    inputs = example_inputs(recipe, gens)
    for key, net in gens.items():
        args, kwargs = inputs[key]
        batch = args[0].shape[0]
        _, _, tp_layers, _ = tp.utils.count_ops_and_params(net, args if len(args) > 1 else args[0], layer_wise=True)
        ours = layer_macs(net, inputs[key])
        modules = dict(net.named_modules())
        sizes = {}  # module -> (input positions, output values) per sample

        def record(module, args, out):
            sizes.setdefault(module, (args[0][0, 0].numel(), out[0].numel()))

        hooks = [modules[n].register_forward_hook(record) for n in ours]
        with torch.no_grad():
            net(*args, **kwargs)
        for h in hooks:
            h.remove()
        for layer, macs in ours.items():
            m = modules[layer]
            in_hw, out_values = sizes[m]
            expected = macs * (out_values // m.out_channels) // in_hw if isinstance(m, nn.ConvTranspose2d) else macs
            bias = out_values if getattr(m, "bias", None) is not None else 0
            assert tp_layers[m] == batch * (expected + bias), f"{name}/{key}: {layer}"
        assert count_macs(net, inputs[key]) == sum(ours.values())


def test_options_are_validated():
    with pytest.raises(ValueError, match="bench.threads"):
        BenchOptions(threads=0)
    with pytest.raises(ValueError, match="valid: torch, torch-nhwc, onnxruntime"):
        BenchOptions(backends=("tensorrt",))


def test_bench_models_rows_ratios_and_table():
    pytest.importorskip("onnxruntime")
    big = nn.ModuleDict({"G": nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 3, 3, padding=1))})
    small = nn.ModuleDict({"G": nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 3, 3, padding=1))})
    inputs = {"G": ((torch.randn(1, 3, 16, 16),), {})}
    opts = BenchOptions(repeats=3, warmup=1, backends=("torch", "torch-nhwc", "onnxruntime"))
    result = bench_models({"teacher": big, "student": small}, inputs, opts)
    rows = {r["model"]: r for r in result["rows"]}
    assert rows["teacher"]["macs"] == 4 * rows["student"]["macs"]
    assert big["G"][0].weight.is_contiguous()  # the channels-last copy leaves the caller's net as it was
    for backend in ("torch", "torch-nhwc", "onnxruntime"):
        s = rows["student"][backend]
        assert 0 < s["ms_median"] <= s["ms_p90"] and s["images_per_s"] > 0
    assert result["ratios"]["G"]["macs_reduction"] == pytest.approx(4.0)
    table = to_markdown(result)
    assert "| teacher | G |" in table and "macs_reduction 4.00x" in table and "torch-nhwc ms (median)" in table
    assert "torch-nhwc_speedup" in result["ratios"]["G"]
    json.dumps(result)  # serialisable


def test_layer_latency_says_where_the_milliseconds_go():
    big = nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.InstanceNorm2d(32), nn.ReLU(), nn.Conv2d(32, 3, 3, padding=1))
    small = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.InstanceNorm2d(8), nn.ReLU(), nn.Conv2d(8, 3, 3, padding=1))
    inputs = ((torch.randn(2, 3, 16, 16),), {})
    rows = layer_latency({"teacher": big, "student": small}, inputs, repeats=3, warmup=1)
    assert [r["layer"] for r in rows] == ["0", "3", "(rest)"]
    assert rows[0]["teacher_macs"] == 16 * 16 * 32 * 3 * 9 and rows[0]["student_macs"] == 16 * 16 * 8 * 3 * 9
    assert all(r["teacher_ms"] > 0 and r["student_ms"] > 0 for r in rows[:2])
    assert rows[2]["teacher_macs"] is None and rows[2]["teacher_ms"] is not None  # the norm, ReLU and overhead
    table = layers_markdown(rows)
    assert table.splitlines()[0] == ("| layer | teacher MMACs | teacher ms | teacher GMAC/s | student MMACs | student ms "
                                     "| student GMAC/s | student speed-up |")
    assert "| (rest) | - |" in table
    assert not big[0]._forward_hooks and not big[0]._forward_pre_hooks


def test_ratios_name_speedups():
    rows = [{"model": "teacher", "net": "G", "params": 10, "macs": 100, "file_bytes": 40, "torch": {"ms_median": 4.0}},
            {"model": "student", "net": "G", "params": 5, "macs": 20, "file_bytes": 20, "torch": {"ms_median": 1.0}}]
    assert ratios(rows)["G"] == {"params_reduction": 2.0, "macs_reduction": 5.0, "file_bytes_reduction": 2.0,
                                 "torch_speedup": 4.0, "torch_efficiency": 0.8}  # 4x faster of 5x fewer MACs


@pytest.fixture
def tiny_run(tiny_recipe, tmp_path):
    """A teacher dir and a compress-like run dir with a filter-pruned tiny DCGAN student."""
    recipe = tiny_recipe("dcgan-digits")
    recipe_yaml = yaml.safe_dump({"recipe": "dcgan-digits", "options": to_dict(recipe.opt)})
    teacher = recipe.build_generators()
    (tmp_path / "teacher").mkdir()
    save_weights(teacher["G"], tmp_path / "teacher" / "G.safetensors")
    (tmp_path / "teacher" / "recipe.yaml").write_text(recipe_yaml)
    Pruner(teacher, PruneConfig(granularity="filter", target=0.5), 1).prune_now(0.5)
    (tmp_path / "run").mkdir()
    save_weights(teacher["G"], tmp_path / "run" / "student_G.safetensors")
    (tmp_path / "run" / "recipe.yaml").write_text(recipe_yaml)
    (tmp_path / "run" / "config.yaml").write_text(yaml.safe_dump({"teacher": str(tmp_path / "teacher")}))
    return tmp_path


def test_cli_bench_and_export(tiny_run):
    pytest.importorskip("onnxruntime")
    from gancompress.cli import main

    out = tiny_run / "bench.json"
    res = CliRunner().invoke(main, ["bench", "--student", str(tiny_run / "run"), "--repeats", "2",
                                    "--json", str(out)])
    assert res.exit_code == 0, res.output
    result = json.loads(out.read_text())
    assert result["ratios"]["G"]["macs_reduction"] > 1.5 and "| student | G |" in res.output
    res = CliRunner().invoke(main, ["export", str(tiny_run / "run"), "--format", "onnx", "--format", "sparse",
                                    "--materialize"])
    assert res.exit_code == 0, res.output
    assert (tiny_run / "run" / "export" / "student_G.onnx").exists()
    assert (tiny_run / "run" / "export" / "student_G.channels.json").exists()


def test_cli_bench_names_a_missing_teacher(tiny_run, tmp_path):
    from gancompress.cli import main

    (tiny_run / "run" / "config.yaml").write_text(yaml.safe_dump({"teacher": str(tmp_path / "nowhere")}))
    res = CliRunner().invoke(main, ["bench", "--student", str(tiny_run / "run")])
    assert res.exit_code != 0 and "nowhere" in res.output and "Traceback" not in res.output


def test_semi_structured_conv_layout_matches_conv_and_cpu_skips_cleanly():
    from gancompress.export.semi import SemiStructuredConv2d, _reduction_matrix, bench_semi_structured, is_2to4

    conv = nn.Conv2d(8, 4, 3, stride=2, padding=1)
    Pruner(nn.ModuleDict({"G": conv}), PruneConfig(granularity="nm", n=2, m=4), 1).prune_now(0.5)
    matrix = _reduction_matrix(conv)
    assert is_2to4(matrix) and not is_2to4(torch.ones(4, 8))
    x = torch.randn(2, 8, 9, 9)
    with torch.no_grad():  # the unfold + matmul layout, checked with a dense matrix (the CUDA path swaps in 2:4)
        torch.testing.assert_close(SemiStructuredConv2d(conv, matrix)(x), conv(x), atol=1e-5, rtol=1e-5)
    if not torch.cuda.is_available():
        assert bench_semi_structured(conv, ((x,), {})) == {"skipped": "no CUDA device"}


@pytest.mark.parametrize("name, side", [("cyclegan-photos", 48), ("srgan-photos", 64), ("stargan-textures", 24),
                                        ("pix2pix-denoise", 64)])
def test_image_size_resizes_the_image_inputs_so_the_output_has_that_side(name, side, tiny_recipe):
    from gancompress.bench import at_image_size
    from gancompress.nets import example_inputs, run

    recipe = tiny_recipe(name)
    gens = recipe.build_generators().eval()
    inputs = example_inputs(recipe, gens)
    for key, net in gens.items():
        moved = at_image_size(net, inputs[key], side, key)
        with torch.no_grad():
            out = run(net, moved)
        out = out[0] if isinstance(out, (tuple, list)) else out
        assert out.shape[-2:] == (side, side)
        # non-image arguments (StarGAN's target label) are passed on unchanged
        for before, after in zip(inputs[key][0], moved[0]):
            if before.dim() < 4:
                assert torch.equal(before, after)
        assert count_macs(net, moved) > count_macs(net, inputs[key]) or side <= 32


def test_image_size_is_refused_where_the_generator_is_not_fully_convolutional(tiny_recipe):
    from gancompress.bench import at_image_size
    from gancompress.nets import example_inputs

    recipe = tiny_recipe("dcgan-digits")
    gens = recipe.build_generators().eval()
    with pytest.raises(ValueError, match="takes no image.*fixed by its architecture at 32 px"):
        at_image_size(gens["G"], example_inputs(recipe, gens)["G"], 64)
    sr = tiny_recipe("srgan-photos")
    g = sr.build_generators().eval()
    with pytest.raises(ValueError, match="multiple of 4"):
        at_image_size(g["G"], example_inputs(sr, g)["G"], 66)

    class FixedHead(nn.Module):  # a Linear over the flattened image: 16 px only
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3 * 16 * 16, 3 * 16 * 16)

        def forward(self, x):
            return self.fc(x.flatten(1)).view_as(x)

    with pytest.raises(ValueError, match="not fully convolutional"):
        at_image_size(FixedHead(), ((torch.randn(1, 3, 16, 16),), {}), 32)


def test_cli_bench_at_an_image_size_with_int8_reports_efficiency(tiny_recipe, tmp_path):
    pytest.importorskip("onnxruntime")
    from gancompress.cli import main

    recipe = tiny_recipe("cyclegan-photos")
    recipe_yaml = yaml.safe_dump({"recipe": "cyclegan-photos", "options": to_dict(recipe.opt)})
    teacher = recipe.build_generators()
    for folder in ("teacher", "run"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "recipe.yaml").write_text(recipe_yaml)
    for key, net in teacher.items():
        save_weights(net, tmp_path / "teacher" / f"{key}.safetensors")
    student = recipe.build_generators()
    student.load_state_dict(teacher.state_dict())
    for key, net in student.items():
        save_weights(net, tmp_path / "run" / f"student_{key}.safetensors")
    (tmp_path / "run" / "config.yaml").write_text(yaml.safe_dump({"recipe": "cyclegan-photos",
                                                                  "teacher": str(tmp_path / "teacher")}))
    out = tmp_path / "b.json"
    text = invoke_ok(main, "bench", "--student", tmp_path / "run", "--image-size", 48, "--int8", "--repeats", 2,
                     "--layers", "--json", out)
    result = json.loads(out.read_text())
    rows = {(r["model"], r["net"]): r for r in result["rows"]}
    int8, student = rows[("student-int8", "G_A")], rows[("student", "G_A")]
    assert int8["params"] == student["params"] and int8["file_bytes"] != student["file_bytes"]  # its .onnx file
    assert "torch" not in int8 and "onnxruntime" in int8
    ratio = result["ratios"]["G_A"]
    assert ratio["torch_efficiency"] == pytest.approx(ratio["torch_speedup"] / ratio["macs_reduction"], rel=1e-2)
    assert "int8_onnxruntime_speedup" in ratio and "48 px images" in text
    layers = result["layers"]["G_A"]  # --layers: MACs per layer at 48 px, summing to the generator's
    assert sum(r["teacher_macs"] or 0 for r in layers) == rows[("teacher", "G_A")]["macs"]
    assert "G_B, per layer (torch):" in text and "| (rest) |" in text
    native = count_macs(teacher["G_A"].eval(), example_inputs(recipe, teacher)["G_A"])
    assert rows[("teacher", "G_A")]["macs"] == pytest.approx(native * (48 / 32) ** 2, rel=1e-6)  # counted at 48 px
