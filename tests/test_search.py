"""`gancompress search`: bisection over sparsity within a quality budget, Pareto table, export."""
import json

import pytest
from click.testing import CliRunner

from gancompress.cli import main
from gancompress.search import SearchOptions, _mark_pareto, bisect, worse_by
from conftest import TINY, invoke_ok, recipe_option_args


def test_bisection_golden_probes():
    probes = bisect(0.0, 0.95, 4, lambda target: target <= 0.6)
    assert probes == [(0.475, True), (0.7125, False), (0.5938, True), (0.6532, False)]
    assert bisect(0.0, 0.8, 2, lambda target: False) == [(0.4, False), (0.2, False)]


def test_worse_by_reads_each_metric_the_right_way():
    teacher, student = {"fid": 100.0, "psnr": 30.0, "n_fake": 10}, {"fid": 110.0, "psnr": 27.0, "n_fake": 10}
    assert worse_by(teacher, student, "fid") == pytest.approx(1.1)
    assert worse_by(teacher, student, "psnr") == pytest.approx(30 / 27)
    with pytest.raises(ValueError, match="not a quality metric"):
        worse_by(teacher, student, "n_fake")
    with pytest.raises(ValueError, match="'fid_A2B' is not among the run's metrics"):
        worse_by(teacher, student, "fid_A2B")


def test_pareto_front_keeps_points_no_other_beats_on_both():
    points = [{"student_macs": 10, "ratio": 1.0}, {"student_macs": 5, "ratio": 1.2}, {"student_macs": 6, "ratio": 1.3}]
    assert [p["pareto"] for p in _mark_pareto(points)] == [True, True, False]


def test_options_are_validated():
    with pytest.raises(ValueError, match="must be >= 1"):
        SearchOptions(max_ratio=0.9)
    with pytest.raises(ValueError, match="need 0 <= min < max < 1"):
        SearchOptions(max_sparsity=1.0)
    with pytest.raises(ValueError, match="'diversity' is not a quality metric"):
        SearchOptions(metrics=("diversity",))


def test_cli_search_end_to_end_reuses_finished_probes_and_exports_the_choice(tmp_path):
    pytest.importorskip("onnxruntime")
    options = recipe_option_args(TINY["dcgan-digits"])
    teacher, out = tmp_path / "t", tmp_path / "s"
    invoke_ok(main, "train", "--recipe", "dcgan-digits", *options, "--steps", 2, "--set", "train.eval_samples=20",
              "--out", teacher)
    args = ["search", "--recipe", "dcgan-digits", "--granularity", "filter", "--rounds", 2, "--max-ratio", 1000,
            "--out", out, "--set", f"teacher={teacher}", "--set", "train.steps=2", "--set", "train.batch_size=8",
            "--set", "train.eval_samples=20", "--set", "prune.scope=layer", "--set", "prune.every=1"]
    text = invoke_ok(main, *args)
    result = json.loads((out / "search.json").read_text())
    assert [p["target"] for p in result["points"]] == [0.475, 0.7125]  # both within the (huge) budget
    assert result["chosen"]["target"] == 0.7125 and (out / "chosen" / "student_G.onnx").exists()
    assert result["points"][1]["macs_reduction"] > result["points"][0]["macs_reduction"] > 1
    assert (out / "pareto.png").stat().st_size > 0 and "| 71.25% |" in (out / "pareto.md").read_text()
    assert "| 71.25% |" in text
    stamps = {p: (out / p / "metrics.json").stat().st_mtime_ns for p in ("sparsity-47.5", "sparsity-71.25")}
    invoke_ok(main, *args)  # again: every probe is reused, none rerun
    assert stamps == {p: (out / p / "metrics.json").stat().st_mtime_ns for p in stamps}


def test_cli_search_names_a_metric_the_recipe_lacks(tmp_path):
    res = CliRunner().invoke(main, ["search", "--recipe", "dcgan-digits", "--metric", "psnr", "--rounds", 1,
                                    "--out", str(tmp_path / "s"), "--set", "train.steps=1",
                                    "--set", "train.eval_samples=10"])
    assert res.exit_code != 0 and "'psnr' is not among the run's metrics" in res.output
