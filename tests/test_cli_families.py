"""One end-to-end CLI run per built-in family on tiny settings: train -> compress -> export -> bench."""
import json

import pytest
from conftest import TINY, invoke_ok, recipe_option_args
from gancompress.cli import main

FAMILIES = ["pix2pix-edges", "cyclegan-photos", "stargan-textures", "srgan-photos"]
CLI_SIZES = {"stargan-textures": {"image_size": 32}}  # the photo-patch FID features need >= 32 px
TINY_TRAIN = ["--set", "train.batch_size=2", "--set", "train.eval_samples=8", "--set", "train.log_every=1"]


def run(*args):
    return invoke_ok(main, *args)


@pytest.mark.slow
@pytest.mark.parametrize("recipe", FAMILIES)
def test_family_train_compress_export_bench(recipe, tmp_path):
    options = recipe_option_args({**TINY[recipe], **CLI_SIZES.get(recipe, {})})
    teacher, student = tmp_path / "teacher", tmp_path / "student"
    run("train", "--recipe", recipe, "--steps", 3, "--out", teacher, *options, *TINY_TRAIN)
    run("compress", "--recipe", recipe, "--teacher", teacher, "--granularity", "filter", "--sparsity", 0.5,
        "--steps", 3, "--out", student, "--set", "prune.scope=layer", "--set", "prune.end=0.0", *TINY_TRAIN)
    metrics = json.loads((student / "metrics.json").read_text())
    # every layer loses half its filters, except the image-drawing layer of each generator (kept whole)
    kept = [layer for layer in metrics["layers"] if layer["sparsity"] == 0]
    assert 1 <= len(kept) <= 2 and all(layer["shape"][1 if layer["kind"] == "deconv" else 0] == 3 for layer in kept)
    assert all(layer["sparsity"] == pytest.approx(0.5, abs=0.1) for layer in metrics["layers"] if layer not in kept)
    assert any(k.startswith(("fid", "psnr")) for k in metrics["student"])

    out = run("export", student, "--materialize", "--format", "safetensors", "--format", "onnx", "--format", "pt2")
    assert "onnxruntime vs torch max |diff|" in out and "torch.export program vs torch max |diff|" in out
    summary = json.loads((student / "export" / "export.json").read_text())
    for info in summary["networks"].values():
        assert info["params_after"] < info["params_before"]  # dead channels were removed for real
        assert info["max_output_change"] < 1e-3

    run("bench", "--student", student, "--teacher", teacher, "--repeats", 2, "--json", tmp_path / "bench.json")
    bench = json.loads((tmp_path / "bench.json").read_text())
    for net, r in bench["ratios"].items():
        # residual adds and pixel shuffles tie channels together, so SRGAN shrinks only a little
        assert r["macs_reduction"] > 1.0 and r["params_reduction"] > 1.0, (net, r)
