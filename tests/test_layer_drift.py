"""benchmarks/layer_drift.py: each pruned layer's output distance to the teacher's, for finished runs."""
import shutil
import sys
from pathlib import Path

import pytest

from conftest import TINY, invoke_ok, recipe_option_args
from gancompress.cli import main as cli

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import layer_drift  # noqa: E402


@pytest.mark.slow
def test_drift_is_zero_for_the_teacher_itself_and_positive_for_a_pruned_student(tmp_path):
    options = recipe_option_args(TINY["dcgan-digits"]) + ["--set", "train.batch_size=4",
                                                          "--set", "train.eval_samples=8"]
    teacher, run = tmp_path / "teacher", tmp_path / "run"
    invoke_ok(cli, "train", "--recipe", "dcgan-digits", "--steps", 2, "--out", teacher, *options)
    invoke_ok(cli, "compress", "--recipe", "dcgan-digits", "--teacher", teacher, "--sparsity", 0.9, "--steps", 2,
              "--out", run, *options)
    drift = layer_drift.layer_drift(run, samples=8)
    assert list(drift) == ["G.main.0", "G.main.3", "G.main.6", "G.main.9"] and all(v > 0 for v in drift.values())

    shutil.copy(teacher / "G.safetensors", run / "student_G.safetensors")  # the dense teacher as the "student"
    assert layer_drift.layer_drift(run, samples=8) == pytest.approx(dict.fromkeys(drift, 0.0), abs=1e-12)
    out = invoke_ok(layer_drift.main, str(run), "--samples", 8)
    assert "| run | G.main.0 | G.main.3 | G.main.6 | G.main.9 | mean |" in out
