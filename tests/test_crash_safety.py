"""Crash safety: SIGKILL midway + --resume gives the uninterrupted result; corrupt checkpoints fail clearly."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

from gancompress.errors import CheckpointError
from gancompress.training.checkpoint import load_training_state, save_training_state

TINY = ["--set", "recipe_options.nz=8", "--set", "recipe_options.ngf=8", "--set", "recipe_options.ndf=8",
        "--set", "train.batch_size=16", "--set", "train.eval_samples=32", "--set", "train.log_every=1",
        "--set", "train.ckpt_every=5", "--set", "train.device=cpu"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "TQDM_DISABLE": "1"}


def cli(*args) -> list[str]:
    return [sys.executable, "-m", "gancompress", *args, *TINY]


def logged_steps(out) -> int:
    log = out / "log.jsonl"
    return len(log.read_text().splitlines()) if log.exists() else 0


def kill_midway(cmd, out, after_step: int) -> None:
    proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    while logged_steps(out) < after_step:
        assert proc.poll() is None, f"run ended before it could be killed: {proc.stderr.read()[-2000:]}"
        assert time.time() < deadline, "run too slow"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL


def run(cmd) -> None:
    proc = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.mark.slow
@pytest.mark.parametrize("command", ["train", "compress"])
def test_sigkill_then_resume_matches_uninterrupted_run(command, tmp_path):
    steps = ["--steps", "60"]
    extra = []
    if command == "compress":
        teacher = tmp_path / "teacher"
        run(cli("train", "--steps", "3", "--out", str(teacher)))
        extra = ["--teacher", str(teacher), "--sparsity", "0.5"]
    full, killed = tmp_path / "full", tmp_path / "killed"
    run(cli(command, *steps, *extra, "--out", str(full)))
    kill_midway(cli(command, *steps, *extra, "--out", str(killed)), killed, after_step=22)
    assert (killed / "checkpoint.pt").exists() and not (killed / "metrics.json").exists()
    run(cli(command, *steps, *extra, "--out", str(killed), "--resume"))

    prefix = "student_" if command == "compress" else ""
    a, b = load_file(str(full / f"{prefix}G.safetensors")), load_file(str(killed / f"{prefix}G.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), "resumed run differs"
    assert (killed / "log.jsonl").read_text() == (full / "log.jsonl").read_text()  # every value of every line


def test_corrupt_checkpoint_gives_clear_error_and_keeps_previous(tmp_path):
    path = tmp_path / "checkpoint.pt"
    save_training_state({"step": 5, "state": {}}, path)
    save_training_state({"step": 10, "state": {}}, path)
    path.write_bytes(path.read_bytes()[:100])  # truncated
    with pytest.raises(CheckpointError, match="truncated or corrupt.*previous checkpoint"):
        load_training_state(path)
    assert load_training_state(tmp_path / "checkpoint.prev.pt")["step"] == 5


def test_resume_without_checkpoint_is_a_clear_error(tmp_path):
    proc = subprocess.run(cli("train", "--steps", "2", "--out", str(tmp_path / "none"), "--resume"),
                          env=ENV, capture_output=True, text=True)
    assert proc.returncode != 0 and "does not exist" in proc.stderr + proc.stdout


def _train(out, steps, *more):
    from click.testing import CliRunner

    from gancompress.cli import main

    return CliRunner().invoke(main, ["train", "--out", str(out), "--steps", str(steps), *TINY,
                                     "--set", "train.ckpt_every=2", *more])


def test_the_last_checkpoint_keeps_an_older_one_beside_it(tmp_path):
    assert _train(tmp_path / "o", 4).exit_code == 0  # steps a multiple of ckpt_every: saved once at step 4
    assert load_training_state(tmp_path / "o" / "checkpoint.pt")["step"] == 4
    assert load_training_state(tmp_path / "o" / "checkpoint.prev.pt")["step"] == 2


def test_a_half_written_last_log_line_is_dropped_on_resume_and_stale_temporaries_go(tmp_path):
    out = tmp_path / "o"
    assert _train(out, 4).exit_code == 0
    with open(out / "log.jsonl", "a") as f:
        f.write('{"step": 5, "G/ad')  # killed while writing
    (out / ".checkpoint.pt.k3j2.tmp").write_bytes(b"half a checkpoint")
    result = _train(out, 6, "--resume")  # a longer run continues from step 4
    assert result.exit_code == 0, result.output
    assert "dropped a half-written last line" in result.output
    steps = [json.loads(line)["step"] for line in (out / "log.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5, 6] and not list(out.glob(".*.tmp"))


def test_a_damaged_log_line_before_the_last_names_the_file(tmp_path):
    out = tmp_path / "o"
    assert _train(out, 4).exit_code == 0
    lines = (out / "log.jsonl").read_text().splitlines()
    (out / "log.jsonl").write_text("\n".join([lines[0], "garbage", *lines[1:]]) + "\n")
    result = _train(out, 6, "--resume")
    assert result.exit_code == 1 and "log.jsonl' line 2 is not a log record" in result.output


CYCLE = ["--recipe", "cyclegan-photos", "--set", "recipe_options.netG=resnet_2blocks", "--set", "recipe_options.ngf=4",
         "--set", "recipe_options.ndf=4", "--set", "recipe_options.n_layers_D=2", "--set", "recipe_options.image_size=32",
         "--set", "train.batch_size=2", "--set", "train.eval_samples=8", "--set", "train.log_every=1",
         "--set", "train.ckpt_every=5", "--set", "train.device=cpu"]


@pytest.mark.slow
def test_cyclegan_sigkill_then_resume_matches_every_file_and_log_line(tmp_path):
    """CycleGAN's image pools are part of the run: with them checkpointed, a killed and resumed run writes
    the very same generators, discriminators and log as an uninterrupted one."""
    gan = [sys.executable, "-m", "gancompress"]
    teacher = tmp_path / "teacher"
    run([*gan, "train", *CYCLE, "--steps", "3", "--out", str(teacher)])
    args = ["compress", *CYCLE, "--teacher", str(teacher), "--steps", "30"]
    full, killed = tmp_path / "full", tmp_path / "killed"
    run([*gan, *args, "--out", str(full)])
    kill_midway([*gan, *args, "--out", str(killed)], killed, after_step=12)
    run([*gan, *args, "--out", str(killed), "--resume"])
    for name in ("student_G_A", "student_G_B", "trained_D_A", "trained_D_B"):
        a, b = load_file(str(full / f"{name}.safetensors")), load_file(str(killed / f"{name}.safetensors"))
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), f"{name} differs after resume"
    assert (killed / "log.jsonl").read_text() == (full / "log.jsonl").read_text()
