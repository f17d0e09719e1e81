"""Every row of docs/bad-input.md: the input, and the one clear line the user gets."""
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from gancompress.cli import main
from gancompress.errors import CheckpointError
from gancompress.io import load_state_dict_file
from gancompress.pruning import GRANULARITIES
from gancompress.recipes import RECIPES

TINY = ["--set", "recipe_options.nz=8", "--set", "recipe_options.ngf=4", "--set", "recipe_options.ndf=4",
        "--set", "train.batch_size=4", "--set", "train.eval_samples=8", "--steps", "2"]


WATCHED: list[Path] = []  # the running test's tmp_path: every file in it before a bad call is kept as it was


@pytest.fixture(autouse=True)
def _watch(tmp_path):
    WATCHED[:] = [tmp_path]
    yield
    WATCHED.clear()


def snapshot(root: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()} if root.exists() else {}


def cli(*args):
    """Run a command that must fail cleanly: non-zero exit, exactly one `Error:` line, no uncaught exception
    (CliRunner keeps those in `result.exception`, not in the output), and no file that existed changed."""
    before = snapshot(WATCHED[0]) if WATCHED else {}
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code != 0, result.output
    assert isinstance(result.exception, SystemExit), f"uncaught {result.exception!r}"
    assert sum(line.startswith("Error:") for line in result.output.splitlines()) == 1, result.output
    after = snapshot(WATCHED[0]) if WATCHED else {}
    changed = [str(p) for p, data in before.items() if after.get(p) != data]
    assert not changed, f"changed or removed by a failed command: {changed}"
    return result.output


@pytest.mark.parametrize("args, expected", [
    (["--sparsity", "1.0"], "prune.target=1.0: sparsity must be in [0, 1)"),
    (["--sparsity", "-0.2"], "prune.target=-0.2: sparsity must be in [0, 1)"),
    (["--recipe", "biggan"], f"unknown recipe 'biggan'; valid: {', '.join(RECIPES.names())}"),
    (["--technique", "magic"], "unknown technique 'magic'; valid: "),
    (["--granularity", "blocks"], f"prune.granularity='blocks': valid: {', '.join(GRANULARITIES.names())}"),
    (["--set", "prune.colour=3"], "unknown config key 'prune.colour'; valid keys: "),
    (["--set", "train.stepz=3"], "unknown config key 'train.stepz'"),
    (["--config", "no-such-config"], "shipped configs: "),
])
def test_bad_settings(args, expected, tmp_path):
    assert expected in cli("compress", *args, "--out", str(tmp_path / "o"))


def test_teacher_of_another_architecture_names_key_and_both_shapes(tmp_path):
    teacher = tmp_path / "teacher"
    CliRunner().invoke(main, ["train", "--out", str(teacher), *TINY], catch_exceptions=False)
    out = cli("compress", "--teacher", str(teacher), "--out", str(tmp_path / "o"), *TINY,
              "--set", "recipe_options.ngf=8")
    assert "main.0.weight" in out and "(8, 32, 4, 4)" in out and "(8, 16, 4, 4)" in out


def folder_run(tmp_path, root):
    return cli("train", "--set", "recipe_options.dataset=folder", "--set", f"recipe_options.data_root={root}",
               "--out", str(tmp_path / "o"), *TINY)


def test_empty_dataset_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    assert "holds no images" in folder_run(tmp_path, tmp_path / "empty")


def test_corrupt_image_file_is_named(tmp_path):
    root = tmp_path / "imgs"
    root.mkdir()
    for i in range(3):
        Image.fromarray(np.full((16, 16), 40 * i, np.uint8)).save(root / f"{i}.png")
    (root / "3.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    assert "3.png: unreadable or corrupt image" in folder_run(tmp_path, root)


def test_wrong_channel_count_is_named(tmp_path):
    root = tmp_path / "imgs"
    root.mkdir()
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(root / "grey.png")
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(root / "colour.png")
    assert "colour.png: image has 3 channel(s) (mode RGB), expected 1" in folder_run(tmp_path, root)


def test_non_finite_loss_stops_naming_step_and_term_and_keeps_checkpoint(tmp_path, monkeypatch):
    from gancompress.recipes.dcgan import DCGANRecipe

    calls = {"n": 0}
    original = DCGANRecipe.discriminator_terms

    def poisoned(self, discs, batch, out):
        terms = original(self, discs, batch, out)
        calls["n"] += 1
        if calls["n"] > 3:  # the dense technique calls it once per step
            terms["real"] = terms["real"] * float("nan")
        return terms

    monkeypatch.setattr(DCGANRecipe, "discriminator_terms", poisoned)
    out = cli("train", "--out", str(tmp_path / "o"), *TINY[:-2], "--steps", "10", "--set", "train.ckpt_every=2")
    assert "step 3: loss term 'D/real' is nan" in out
    from gancompress.training.checkpoint import load_training_state

    assert load_training_state(tmp_path / "o" / "checkpoint.pt")["step"] == 2


class RunsCode:
    def __reduce__(self):
        return (os.system, (f"touch {Path.cwd() / 'PWNED'}",))


@pytest.mark.parametrize("suffix", [".pth", ".ckpt", ".pt"])
def test_pickle_that_runs_code_is_refused(tmp_path, suffix, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / f"evil{suffix}"
    with open(path, "wb") as f:
        pickle.dump({"main.0.weight": RunsCode()}, f)
    with pytest.raises(CheckpointError, match="refused|weights-only|could not be loaded"):
        load_state_dict_file(path)
    assert not (tmp_path / "PWNED").exists()
    torch.save({"w": torch.ones(1)}, tmp_path / "fine.pth")  # a plain state dict still loads
    assert load_state_dict_file(tmp_path / "fine.pth")["w"].item() == 1.0


# -- nothing lost: one run per folder, never over a teacher's or the user's files -------------------
def _snapshot(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _teacher(tmp_path):
    teacher = tmp_path / "teacher"
    CliRunner().invoke(main, ["train", "--out", str(teacher), *TINY], catch_exceptions=False)
    return teacher


def test_a_live_run_holds_its_folder(tmp_path):
    import json
    import socket

    out = tmp_path / "o"
    out.mkdir()
    (out / ".lock").write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": "now"}))
    before = _snapshot(out)
    message = cli("train", "--out", str(out), *TINY)
    assert "is in use by process" in message and str(os.getpid()) in message
    assert _snapshot(out) == before  # nothing written


def test_a_lock_left_by_a_dead_process_is_taken_over(tmp_path):
    import json
    import socket

    out = tmp_path / "o"
    out.mkdir()
    (out / ".lock").write_text(json.dumps({"pid": 2**22 + 4321, "host": socket.gethostname(), "since": "then"}))
    result = CliRunner().invoke(main, ["train", "--out", str(out), *TINY], catch_exceptions=False)
    assert result.exit_code == 0 and not (out / ".lock").exists()  # released at the end


def test_out_equal_to_teacher_is_refused_and_the_teacher_is_untouched(tmp_path):
    teacher = _teacher(tmp_path)
    before = _snapshot(teacher)
    assert "is the teacher's folder" in cli("compress", "--teacher", str(teacher), "--out", str(teacher), *TINY)
    assert _snapshot(teacher) == before


def test_out_holding_the_users_own_files_is_refused(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "config.yaml").write_text("my: own notes\n")
    assert "already holds files (config.yaml)" in cli("train", "--out", str(out), *TINY)
    assert (out / "config.yaml").read_text() == "my: own notes\n"


def test_a_run_killed_between_its_checkpoint_renames_is_still_a_run(tmp_path):
    out = tmp_path / "o"
    CliRunner().invoke(main, ["train", "--out", str(out), *TINY], catch_exceptions=False)
    (out / "checkpoint.pt").rename(out / "checkpoint.prev.pt")
    before = _snapshot(out)
    assert "already holds a run; pass --resume" in cli("train", "--out", str(out), *TINY)
    assert _snapshot(out) == before


def test_duplicate_yaml_keys_are_refused_naming_the_key(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("train:\n  steps: 3\n  steps: 5\n")
    message = cli("train", "--config", str(config), "--out", str(tmp_path / "o"))
    assert "key 'steps' appears twice" in message and "c.yaml" in message


@pytest.mark.parametrize("damage, expected", [
    (lambda t: t.to(torch.int32), "is int32 in the checkpoint; the model's is float32"),
    (lambda t: t.fill_(float("nan")), "holds NaN or inf values"),
])
def test_teacher_weights_of_the_wrong_dtype_or_not_finite_are_refused(tmp_path, damage, expected):
    from safetensors.torch import load_file, save_file

    teacher = _teacher(tmp_path)
    state = load_file(str(teacher / "G.safetensors"))
    state["main.0.weight"] = damage(state["main.0.weight"])
    save_file(state, str(teacher / "G.safetensors"))
    message = cli("compress", "--teacher", str(teacher), "--out", str(tmp_path / "o"), *TINY)
    assert expected in message and "main.0.weight" in message
    assert not (tmp_path / "o" / "metrics.json").exists()


def test_resume_with_a_changed_config_is_refused_and_a_longer_run_is_announced(tmp_path):
    out = tmp_path / "o"
    CliRunner().invoke(main, ["train", "--out", str(out), *TINY], catch_exceptions=False)
    saved = (out / "config.yaml").read_text()
    message = cli("train", "--out", str(out), *TINY, "--resume", "--set", "train.lr_g=0.1")
    assert "--resume with a changed config: train.lr_g None -> 0.1" in message
    assert (out / "config.yaml").read_text() == saved
    longer = CliRunner().invoke(main, ["train", "--out", str(out), *TINY[:-2], "--steps", "3", "--resume"])
    assert longer.exit_code == 0 and "resuming to 3 steps (the run was set for 2)" in longer.output


def test_a_dataset_too_small_for_the_metrics_fails_before_training(tmp_path):
    from PIL import Image

    (tmp_path / "one").mkdir()
    Image.fromarray(np.zeros((32, 32), dtype=np.uint8)).save(tmp_path / "one" / "0.png")
    message = cli("compress", "--set", "recipe_options.dataset=folder", "--set", f"recipe_options.data_root={tmp_path / 'one'}",
                  "--out", str(tmp_path / "o"), "--steps", "50")
    assert "FID / KID need at least 2 real and 2 generated images; this evaluation has 1 real" in message
    assert not (tmp_path / "o" / "checkpoint.pt").exists() and not (tmp_path / "o" / "log.jsonl").exists()


# -- more inputs a user gets wrong: one line naming the culprit, nothing changed ------------------------
def _write(path, content):
    path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
    return path


@pytest.mark.parametrize("content, expected", [
    ("- a\n- b\n", "must hold a mapping of config keys; it holds a list"),
    ("42\n", "must hold a mapping of config keys; it holds a int"),
    (b"\xff\xfe\x00garbage\x80", "is not text"),
])
def test_config_files_that_are_not_a_mapping(tmp_path, content, expected):
    config = _write(tmp_path / "c.yaml", content)
    message = cli("train", "--config", str(config), "--out", str(tmp_path / "o"))
    assert expected in message and "c.yaml" in message and not (tmp_path / "o").exists()


@pytest.mark.parametrize("content, expected", [("- dcgan-digits\n", "holds list"), ("", "holds nothing")])
def test_a_teacher_recipe_file_that_is_not_a_mapping(tmp_path, content, expected):
    teacher = _teacher(tmp_path)
    _write(teacher / "recipe.yaml", content)
    message = cli("compress", "--teacher", str(teacher), "--out", str(tmp_path / "o"), *TINY)
    assert "recipe.yaml" in message and expected in message


def test_a_checkpoint_that_is_a_bare_tensor(tmp_path):
    out = tmp_path / "o"
    CliRunner().invoke(main, ["train", "--out", str(out), *TINY], catch_exceptions=False)
    torch.save(torch.zeros(3), out / "checkpoint.pt")
    assert "is not a gancompress training checkpoint (it holds a Tensor)" in \
        cli("train", "--out", str(out), *TINY, "--resume")


@pytest.mark.parametrize("content, expected", [
    ("not a model\n", "not a TorchScript file (not a zip archive)"),
    (lambda p: torch.save({"w": torch.zeros(1)}, p), "a zip archive but not TorchScript"),
    (lambda p: __import__("safetensors.torch").torch.save_file({"w": torch.zeros(1)}, str(p)), "not a zip archive"),
])
def test_inception_files_of_the_wrong_kind_are_refused_before_loading(tmp_path, content, expected):
    path = tmp_path / "inception.pt"
    content(path) if callable(content) else path.write_text(content)
    assert expected in cli("train", "--set", f"inception={path}", "--out", str(tmp_path / "o"), *TINY)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_a_gpu(tmp_path):
    assert "no CUDA device here" in cli("train", "--set", "train.device=cuda", "--out", str(tmp_path / "o"), *TINY)


def test_out_under_a_file_is_one_line(tmp_path):
    blocker = _write(tmp_path / "file", "x")
    message = cli("train", "--out", str(blocker / "run"), *TINY)
    assert message.startswith("Error: ") and "file" in message and blocker.read_text() == "x"


def test_run_names_in_the_markdown_report_are_inert(tmp_path):
    run = tmp_path / "<img src=x onerror=alert(1)>"
    CliRunner().invoke(main, ["train", "--out", str(run), *TINY], catch_exceptions=False)
    result = CliRunner().invoke(main, ["report", str(run), "--out", str(tmp_path / "report")])
    assert result.exit_code == 0, result.output
    markdown = (tmp_path / "report" / "report.md").read_text()
    assert "<img" not in markdown and "&lt;img src=x onerror=alert(1)&gt;" in markdown


def test_a_real_torchscript_file_passes_the_inception_kind_check(tmp_path):
    from gancompress.metrics.features import _check_torchscript_archive

    torch.jit.save(torch.jit.trace(torch.nn.Conv2d(3, 4, 3), torch.zeros(1, 3, 8, 8)), tmp_path / "ts.pt")
    _check_torchscript_archive(tmp_path / "ts.pt")  # raises for anything else (above)


def test_export_and_report_never_replace_what_is_there_silently(tmp_path):
    run = tmp_path / "run"
    CliRunner().invoke(main, ["compress", "--teacher", str(_teacher(tmp_path)), "--out", str(run), *TINY],
                       catch_exceptions=False)
    ok = CliRunner().invoke(main, ["export", str(run)])
    assert ok.exit_code == 0, ok.output
    exported = _snapshot(run / "export")
    assert "holds an earlier export; pass --force" in cli("export", str(run))
    assert _snapshot(run / "export") == exported
    assert CliRunner().invoke(main, ["export", str(run), "--force"]).exit_code == 0
    before = _snapshot(run)
    assert "holds a train or compress run" in cli("export", str(run), "--materialize", "--out", str(run))
    assert _snapshot(run) == before  # the run's own student files are intact

    assert CliRunner().invoke(main, ["report", str(run), "--out", str(tmp_path / "r")]).exit_code == 0
    page = (tmp_path / "r" / "report.html").read_bytes()
    assert "holds an earlier report (report.html, report.md); pass --force" in \
        cli("report", str(run), "--out", str(tmp_path / "r"))
    assert (tmp_path / "r" / "report.html").read_bytes() == page
    assert CliRunner().invoke(main, ["report", str(run), "--out", str(tmp_path / "r"), "--force"]).exit_code == 0


def test_a_decompression_bomb_png_is_named_not_decoded(tmp_path):
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)

    root = tmp_path / "imgs"
    root.mkdir()
    for i in range(3):
        Image.fromarray(np.full((16, 16), 40 * i, np.uint8)).save(root / f"{i}.png")
    header = struct.pack(">IIBBBBB", 20000, 20000, 8, 0, 0, 0, 0)  # a 400-megapixel grey PNG, 60 bytes on disk
    (root / "huge.png").write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0"))
                                    + chunk(b"IEND", b""))
    assert "huge.png: too large to open safely" in folder_run(tmp_path, root)


@pytest.mark.parametrize("errno_name, message", [("ENOSPC", "No space left on device"),
                                                 ("EROFS", "Read-only file system")])
def test_a_full_or_read_only_disk_is_one_line_naming_the_reason(errno_name, message, tmp_path, monkeypatch):
    import errno

    import gancompress.io

    def refuse(path, write):
        raise OSError(getattr(errno, errno_name), message, str(path))

    monkeypatch.setattr(gancompress.io, "atomic_write", refuse)
    monkeypatch.setattr("gancompress.rundir.write_yaml", lambda path, *a, **k: refuse(path, None))
    assert message in cli("train", "--out", str(tmp_path / "o"), *TINY)
