"""The crash table: one run killed (SIGKILL) once at every step, each time at another point of the step
(mid-log-write, mid-checkpoint, between the checkpoint's two renames, ...), resumed after every kill,
ends with the very weights, metrics and log of an uninterrupted run; for dcgan-digits and cyclegan-photos."""
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "TQDM_DISABLE": "1"}
# (phase, step) in the order the chain meets them; a checkpoint is written after every step
CHAIN = [("after-log", 1), ("mid-checkpoint", 2), ("before-rename", 3), ("between-renames", 4),
         ("mid-log", 5), ("after-log", 6), ("after-checkpoint", 7), ("between-renames", 8)]
STEPS = 9
RECIPES = {
    "dcgan-digits": (["--recipe", "dcgan-digits", "--set", "recipe_options.nz=8", "--set", "recipe_options.ngf=8",
                      "--set", "recipe_options.ndf=8", "--set", "train.batch_size=16"],
                     ("student_G", "trained_D")),
    "cyclegan-photos": (["--recipe", "cyclegan-photos", "--set", "recipe_options.image_size=32",
                         "--set", "recipe_options.netG=resnet_2blocks", "--set", "recipe_options.ngf=4",
                         "--set", "recipe_options.ndf=4", "--set", "recipe_options.n_layers_D=2",
                         "--set", "recipe_options.pool_size=3", "--set", "train.batch_size=2"],
                        ("student_G_A", "student_G_B", "trained_D_A", "trained_D_B")),
}
COMMON = ["--set", "train.eval_samples=8", "--set", "train.log_every=1", "--set", "train.ckpt_every=1",
          "--set", "train.device=cpu"]


def gan(*args, crash_at=None):
    env = {**ENV, **({"CRASH_AT": crash_at} if crash_at else {})}
    program = [str(HERE / "crash_driver.py")] if crash_at else ["-m", "gancompress"]
    return subprocess.run([sys.executable, *program, *args], env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
@pytest.mark.parametrize("recipe", RECIPES)
def test_killed_at_every_step_and_resumed_each_time_gives_the_uninterrupted_run(recipe, tmp_path):
    options, files = RECIPES[recipe]
    teacher = tmp_path / "teacher"
    assert gan("train", *options, *COMMON, "--steps", "2", "--out", str(teacher)).returncode == 0
    args = ["compress", *options, *COMMON, "--teacher", str(teacher), "--steps", str(STEPS)]
    full, killed = tmp_path / "full", tmp_path / "killed"
    done = gan(*args, "--out", str(full))
    assert done.returncode == 0, done.stderr[-3000:]
    for phase, step in CHAIN:
        resume = ["--resume"] if (killed / "checkpoint.pt").exists() or (killed / "checkpoint.prev.pt").exists() else []
        died = gan(*args, "--out", str(killed), *resume, crash_at=f"{phase}:{step}")
        assert died.returncode == -signal.SIGKILL, (phase, step, died.stderr[-3000:])
        assert not (killed / "metrics.json").exists()
    done = gan(*args, "--out", str(killed), "--resume")
    assert done.returncode == 0, done.stderr[-3000:]
    for name in files:
        assert (killed / f"{name}.safetensors").read_bytes() == (full / f"{name}.safetensors").read_bytes(), name
    assert (killed / "log.jsonl").read_text() == (full / "log.jsonl").read_text()
    assert metrics_without_timing(killed) == metrics_without_timing(full)


def metrics_without_timing(run: Path) -> dict:
    """metrics.json less the wall time of the run, with the run's own folder name taken out of its paths."""
    metrics = json.loads((run / "metrics.json").read_text().replace(str(run), "RUN"))
    metrics.pop("compress_seconds")
    return metrics
