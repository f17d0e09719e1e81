"""benchmarks/table3_srgan.py: our Table 3 (dense / filter 50% / element 50%, per evaluation set)."""
import sys
from pathlib import Path

import pytest

from conftest import TINY, invoke_ok, recipe_option_args, write_div2k_fixture
from gancompress.cli import main as cli

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import table3_srgan  # noqa: E402


def test_table3_gives_mean_and_spread_over_seeds():
    teacher = {"psnr": 30.0, "ssim": 0.84, "fid": 44.0}
    students = {("filter", 0): (28.0, 0.79, 110.0), ("filter", 1): (28.2, 0.81, 114.0),
                ("element", 0): (30.4, 0.83, 40.0), ("element", 1): (30.0, 0.83, 42.0)}
    rows = [{"granularity": g, "target": 0.5, "seed": seed, "teacher": teacher,
             "student": dict(zip(("psnr", "ssim", "fid"), values))} for (g, seed), values in students.items()]
    lines = table3_srgan.table3(rows).splitlines()
    assert lines[2] == ("| photos | 30.000 / 0.8400 / 44.00 | 28.100 ± 0.14 / 0.8000 ± 0.014 / 112.00 ± 2.8 "
                        "| 30.200 ± 0.28 / 0.8300 ± 0 / 41.00 ± 1.4 |")
    assert lines[-1] == "Students: mean ± sd over 2 seeds."


@pytest.mark.slow
def test_table3_prints_one_row_per_evaluation_set(tmp_path):
    root = write_div2k_fixture(tmp_path / "div2k")
    hr = root / "DIV2K_valid_HR"
    options = {**TINY["srgan-div2k"], "data_root": str(root), "fid_patch": 32}  # photo features need >= 32 px
    sets = recipe_option_args({**options, "eval_sets": f"[set5={hr}]"})
    sets += ["--set", "train.batch_size=2", "--set", "train.eval_samples=8"]
    teacher = tmp_path / "teacher"
    invoke_ok(cli, "train", "--recipe", "srgan-div2k", "--steps", 2, "--out", teacher, *sets)
    out = invoke_ok(table3_srgan.main, "--recipe", "srgan-div2k", "--teacher", teacher, "--steps", 2,
                    "--out", tmp_path / "table3", *sets)
    lines = [line for line in out.splitlines() if line.startswith("|")]
    assert lines[0] == "| data | dense | filter 50% | element 50% |"
    rows = {line.split(" | ")[0].strip("| "): line for line in lines[2:]}
    assert set(rows) == {"div2k", "set5"}
    for line in rows.values():  # PSNR / SSIM / FID in each of the three columns
        cells = [c.strip() for c in line.strip("|").split("|")[1:]]
        assert len(cells) == 3 and all(len(c.split(" / ")) == 3 for c in cells)
        assert all(float(c.split(" / ")[0]) > 0 for c in cells)
