"""Mixed precision and channels_last (on CPU here, in CI), and the CUDA path (marked `cuda`: skipped
without a GPU; benchmarks/gpu_check.sh runs them where there is one)."""
import json

import pytest
import torch
from conftest import TINY, invoke_ok, recipe_option_args

from gancompress.cli import main

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
RUN = ["--steps", 3, "--set", "train.batch_size=8", "--set", "train.eval_samples=16", "--set", "train.log_every=1"]


def _compress(tmp_path, device, *sets):
    out = tmp_path / device
    invoke_ok(main, "compress", "--recipe", "dcgan-digits", *RUN, "--set", f"train.device={device}", *sets,
              "--out", out)
    return json.loads((out / "metrics.json").read_text()), out


@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_mixed_precision_steps_and_channels_last_keep_a_float32_student(tmp_path, amp):
    metrics, out = _compress(tmp_path, "cpu", "--set", f"train.amp={amp}", "--set", "train.channels_last=true",
                             "--set", "train.ckpt_every=2")
    assert metrics["student"]["sparsity"] == pytest.approx(0.5, abs=0.01)
    from safetensors.torch import load_file

    weights = load_file(str(out / "student_G.safetensors"))
    assert all(v.dtype in (torch.float32, torch.int64) and torch.isfinite(v.float()).all() for v in weights.values())
    state = torch.load(out / "checkpoint.pt", weights_only=True)["state"]
    assert ("grad_scaler" in state) == (amp == "fp16")  # the fp16 loss scale is resumed with the run


@pytest.mark.cuda
@cuda
@pytest.mark.parametrize("amp", ["off", "bf16", "fp16"])
def test_compress_on_cuda(tmp_path, amp):
    metrics, _ = _compress(tmp_path, "cuda", "--set", f"train.amp={amp}", "--set", "train.channels_last=true")
    assert metrics["student"]["sparsity"] == pytest.approx(0.5, abs=0.01)


@pytest.mark.cuda
@cuda
def test_two_to_four_student_benches_its_sparse_kernels(tmp_path):
    options = recipe_option_args(TINY["cyclegan-photos"])
    invoke_ok(main, "compress", "--recipe", "cyclegan-photos", "--granularity", "nm", *RUN, *options,
              "--set", "train.device=cuda", "--out", tmp_path / "nm")
    invoke_ok(main, "bench", "--student", tmp_path / "nm", "--repeats", 3, "--json", tmp_path / "bench.json")
    bench = json.loads((tmp_path / "bench.json").read_text())
    assert "cuda_2to4" in bench
