"""End-to-end CLI runs on tiny settings (one per family) and user-facing errors."""
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from safetensors.torch import load_file

from gancompress.cli import main

TINY_DCGAN = ["--set", "recipe_options.ngf=8", "--set", "recipe_options.ndf=8", "--set", "recipe_options.nz=16",
              "--set", "train.batch_size=16", "--set", "train.eval_samples=64"]


def run(*args):
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result


def test_list_names_recipes_and_techniques():
    result = run("list")
    assert result.exit_code == 0
    assert "dcgan-digits" in result.output and "self-supervised" in result.output
    assert "element" in result.output and "agp" in result.output


@pytest.mark.slow
def test_train_then_compress_dcgan(tmp_path):
    teacher = tmp_path / "teacher"
    result = run("train", "--recipe", "dcgan-digits", "--steps", "6", "--out", str(teacher), *TINY_DCGAN,
                 "--set", "train.eval_every=3", "--set", "train.eval_samples=64")
    assert result.exit_code == 0, result.output
    assert (teacher / "G.safetensors").exists() and (teacher / "D.safetensors").exists()
    evals = [json.loads(line) for line in (teacher / "log.jsonl").read_text().splitlines() if "eval/fid" in line]
    assert [e["step"] for e in evals] == [3] and evals[0]["eval/fid"] > 0  # the teacher's FID during training
    out = tmp_path / "student"
    result = run("compress", "--recipe", "dcgan-digits", "--teacher", str(teacher), "--sparsity", "0.5",
                 "--granularity", "element", "--steps", "6", "--out", str(out), "--set", "train.batch_size=16",
                 "--set", "train.eval_samples=64", "--set", "train.log_every=1")
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["student"]["sparsity"] == pytest.approx(0.5, abs=0.005)
    assert metrics["teacher"]["fid"] > 0 and metrics["student"]["fid"] > 0
    weights = load_file(str(out / "student_G.safetensors"))
    deconvs = [v for k, v in weights.items() if v.ndim == 4]
    zeros = sum(int((v == 0).sum()) for v in deconvs) / sum(v.numel() for v in deconvs)
    assert zeros == pytest.approx(0.5, abs=0.005)
    assert (out / "teacher_vs_student.png").stat().st_size > 1000
    assert (out / "log.jsonl").read_text().count("\n") == 6


def compare_on_a_tiny_teacher(tmp_path, *args):
    """(teacher dir, compare out dir, result) of `compare` on a 4-step tiny DCGAN teacher, 3 steps a row."""
    teacher, out = tmp_path / "teacher", tmp_path / "cmp"
    assert run("train", "--recipe", "dcgan-digits", "--steps", "4", "--out", str(teacher), *TINY_DCGAN).exit_code == 0
    result = run("compare", "--recipe", "dcgan-digits", "--teacher", str(teacher), *args, "--steps", "3",
                 "--out", str(out), "--set", "train.batch_size=16", "--set", "train.eval_samples=64")
    assert result.exit_code == 0, result.output
    return teacher, out, result


@pytest.mark.slow
def test_compare_writes_table_json_and_sheet(tmp_path):
    teacher, out, _ = compare_on_a_tiny_teacher(tmp_path, "--techniques", "a,b,c,m,p")
    results = json.loads((out / "compare.json").read_text())
    assert list(results) == ["a", "b", "c", "m", "p"]
    assert results["p"]["sparsity"] < 1e-3 and results["p"]["fid"] != results["a"]["fid"]  # trained, not pruned
    assert results["b"]["fid_to_control"] == pytest.approx(results["b"]["fid"] / results["p"]["fid"])
    for rid, r in results.items():
        assert r["fid"] > 0 and "coverage" in r and "diversity" in r and r["flag"]
    assert results["a"]["sparsity"] == 0 and results["c"]["sparsity"] == 0
    assert results["b"]["sparsity"] == pytest.approx(0.5, abs=0.01)
    table = (out / "compare.md").read_text()
    assert "| b | self-supervised (the method) | yes | dense | gradual | pretrained | yes | L_GC + L_DC |" in table
    assert "| FID / (p) |" in table and "| p | dense fine-tuning, same budget (control) | no | dense | none |" in table
    assert "| FID / (p) | class_entropy | confidence | coverage | kid | diversity | flag |" in table
    assert (out / "compare.png").stat().st_size > 1000
    # an interrupted comparison continues: finished runs are reused, not redone
    mtime = (out / "b" / "metrics.json").stat().st_mtime
    assert run("compare", "--recipe", "dcgan-digits", "--teacher", str(teacher), "--techniques", "b", "--steps", "3",
               "--out", str(out), "--set", "train.batch_size=16", "--set", "train.eval_samples=64").exit_code == 0
    assert (out / "b" / "metrics.json").stat().st_mtime == mtime
    # ... but a finished row with other settings is not passed off as this one's
    changed = run("compare", "--recipe", "dcgan-digits", "--teacher", str(teacher), "--techniques", "b", "--steps", "3",
                  "--out", str(out), "--set", "train.batch_size=16", "--set", "technique_options.lambda_dc=0.25")
    assert changed.exit_code != 0 and "holds a finished run with other settings (technique_options" in changed.output
    # a row interrupted after its checkpoint (no metrics yet) is resumed, not refused as "already holds a run"
    (out / "b" / "metrics.json").unlink()
    again = ["compare", "--recipe", "dcgan-digits", "--teacher", str(teacher), "--techniques", "b", "--steps", "3",
             "--out", str(out), "--set", "train.batch_size=16", "--set", "train.eval_samples=64"]
    assert run(*again).exit_code == 0 and (out / "b" / "metrics.json").exists()
    (out / "b" / "metrics.json").unlink()
    longer = CliRunner().invoke(main, [*again, "--steps", "4"])
    assert longer.exit_code != 0 and "holds a half-done run with other settings (train.steps: 3, now 4)" in longer.output


@pytest.mark.slow
def test_compare_over_seeds_reports_means_and_spreads(tmp_path):
    _, out, _ = compare_on_a_tiny_teacher(tmp_path, "--techniques", "a,b", "--seeds", "0,1")
    per_seed = [json.loads((out / f"seed-{s}" / "compare.json").read_text()) for s in (0, 1)]
    summary = json.loads((out / "compare.json").read_text())
    assert summary["seeds"] == [0, 1]
    b = summary["rows"]["b"]
    fids = [r["b"]["fid"] for r in per_seed]
    assert fids[0] != fids[1]  # the seeds really differ
    assert b["fid"] == pytest.approx(sum(fids) / 2) and b["fid_sd"] == pytest.approx(abs(fids[0] - fids[1]) / 2 ** 0.5)
    assert summary["rows"]["a"]["fid_sd"] == 0  # the teacher is the same on every seed
    table = (out / "compare.md").read_text()
    assert "over seeds 0, 1" in table and f"| b | self-supervised (the method) | {b['fid']:.4g} ± " in table
    assert "fid_ratio |" in table  # row (a) has no ratio; the column is there for the others
    both = CliRunner().invoke(main, ["compare", "--seed", "0", "--seeds", "0,1", "--out", str(tmp_path / "x")])
    assert both.exit_code != 0 and "give --seed or --seeds, not both" in both.output
    bad = CliRunner().invoke(main, ["compare", "--seeds", "0,a", "--out", str(tmp_path / "x")])
    assert bad.exit_code != 0 and "expected a comma list of integers" in bad.output


@pytest.mark.slow
def test_compare_jobs_runs_the_rows_side_by_side(tmp_path):
    """--jobs 2 gives the numbers one-after-another gives; a failing row leaves the others finished."""
    teacher, serial, _ = compare_on_a_tiny_teacher(tmp_path, "--techniques", "a,b", "--seeds", "0,1")
    args = ["compare", "--recipe", "dcgan-digits", "--teacher", str(teacher), "--steps", "3",
            "--set", "train.batch_size=16", "--set", "train.eval_samples=64", "--jobs", "2"]
    parallel = tmp_path / "jobs"
    assert run(*args, "--techniques", "a,b", "--seeds", "0,1", "--out", str(parallel)).exit_code == 0
    for s in (0, 1):  # the two seeds' rows ran side by side
        one, two = (json.loads((d / f"seed-{s}" / "compare.json").read_text()) for d in (serial, parallel))
        assert [two[r]["fid"] for r in "ab"] == pytest.approx([one[r]["fid"] for r in "ab"], rel=1e-3)
        assert "scoring the student" in (parallel / f"seed-{s}" / "b.log").read_text()  # its output, in its log
    # row b's technique options are invalid: b fails in its worker, e (another technique) still finishes
    broken = tmp_path / "broken"
    result = CliRunner().invoke(main, [*args, "--techniques", "a,b,e", "--seed", "0", "--out", str(broken),
                                       "--set", "technique_options.form=sideways"])
    assert result.exit_code != 0 and "1 of 2 runs failed" in result.output and "form='sideways'" in result.output
    assert str(broken / "b.log") in result.output and (broken / "e" / "metrics.json").exists()


def test_compare_rejects_unknown_technique_id():
    result = CliRunner().invoke(main, ["compare", "--techniques", "a,zz", "--out", "/nonexistent/x"])
    assert result.exit_code != 0 and "unknown technique id 'zz'" in result.output


@pytest.mark.slow
def test_sweep_runs_side_by_side_and_reuses_finished_runs(tmp_path):
    from gancompress.config import load_config
    from gancompress.sweep import sweep, sweep_table

    teacher = tmp_path / "teacher"
    assert run("train", "--recipe", "dcgan-digits", "--steps", "4", "--out", str(teacher), *TINY_DCGAN).exit_code == 0
    base = load_config("dcgan-digits", [f"teacher={teacher}", "train.steps=3", "train.batch_size=16",
                                        "train.eval_samples=64", "recipe_options.ngf=8", "recipe_options.ndf=8",
                                        "recipe_options.nz=16"])
    out = tmp_path / "sweep"
    rows = sweep(base, ["element", "filter"], [0.5], out, scopes={"filter": "layer"}, jobs=2)
    assert [(r["granularity"], r["scope"]) for r in rows] == [("element", "global"), ("filter", "layer")]
    assert all(r["sparsity"] == pytest.approx(0.5, abs=0.05) and r["fid_ratio"] > 0 for r in rows)
    assert (out / "element-50.log").exists() and json.loads((out / "sweep.json").read_text()) == rows
    mtime = (out / "filter-50" / "metrics.json").stat().st_mtime
    assert sweep(base, ["element", "filter"], [0.5], out, scopes={"filter": "layer"}, jobs=2) == rows
    assert (out / "filter-50" / "metrics.json").stat().st_mtime == mtime
    assert "| filter |" in sweep_table(rows)


def test_sweep_with_seeds_runs_each_cell_per_seed_and_tables_mean_and_spread(tmp_path, monkeypatch):
    """Run folders and seeds per cell (the runs themselves stubbed: the real ones are the test above)."""
    from gancompress import sweep as sweep_module
    from gancompress.config import load_config

    started = []
    monkeypatch.setattr(sweep_module, "run_pending", lambda cfgs, jobs, desc: started.extend(cfgs))
    fids = {0: 110.0, 1: 120.0}
    monkeypatch.setattr(sweep_module, "run_metrics", lambda cfg: {
        "student": {"sparsity": cfg.prune.target, "fid": fids[cfg.train.seed]}, "teacher": {"fid": 100.0},
        "fid_ratio": fids[cfg.train.seed] / 100.0, "features": "f"})
    rows = sweep_module.sweep(load_config("dcgan-digits", []), ["element"], [0.5], tmp_path, seeds=[0, 1])
    assert [Path(c.out).name for c in started] == ["element-50-s0", "element-50-s1"]
    assert [(c.train.seed, r["seed"]) for c, r in zip(started, rows)] == [(0, 0), (1, 1)]
    assert "| element | 100.000 | 115.000 ± 7.1 (1.150 ± 0.071x) [2] |" in sweep_module.sweep_table(rows)
