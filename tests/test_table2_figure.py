"""benchmarks/table2_figure.py: which finished runs become points, and the PNG it writes."""
import json
import sys
from pathlib import Path

import yaml
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import table2_figure  # noqa: E402


def _run(folder: Path, recipe="stargan-textures", gran="element", target=0.5, seed=0, options=None,
         ratio=1.25, finished=True) -> Path:
    folder.mkdir(parents=True)
    cfg = {"recipe": recipe, "technique": "self-supervised", "technique_options": options or {},
           "prune": {"granularity": gran, "target": target}, "train": {"seed": seed}}
    (folder / "config.yaml").write_text(yaml.safe_dump(cfg))
    if finished:
        (folder / "metrics.json").write_text(json.dumps({"fid_ratio": ratio}))
    return folder


def test_collect_groups_by_granularity_and_row_and_counts_a_copied_run_once(tmp_path):
    sweep, compare = tmp_path / "sweep", tmp_path / "t1"
    _run(sweep / "element-50-s0", ratio=1.0)
    _run(sweep / "element-50-s1", seed=1, ratio=2.0)
    _run(sweep / "filter-90-s0", gran="filter", target=0.9, ratio=9.0)
    _run(sweep / "element-75-s0", target=0.75, finished=False)  # half done: no point
    _run(compare / "seed-0" / "b", ratio=1.0)  # the same cell copied into a compare folder
    _run(compare / "seed-0" / "q", options={"normalise": False, "distill": 0.0}, ratio=1.5)
    _run(compare / "seed-0" / "o", options={"distill": 100.0}, ratio=3.0)
    _run(tmp_path / "other" / "element-50-s0", recipe="srgan-photos", ratio=7.0)

    cells = table2_figure.collect("stargan-textures", [sweep, compare, tmp_path / "other"], {"b", "q"})

    assert cells == {("element", "b"): {0.5: [1.0, 2.0]}, ("filter", "b"): {0.9: [9.0]},
                     ("element", "q"): {0.5: [1.5]}}


def test_row_of_names_table1_rows():
    base = {"technique": "self-supervised"}
    assert table2_figure.row_of({**base, "technique_options": {"distill": 0.0}}) == "b"
    assert table2_figure.row_of({**base, "technique_options": {"distill": 100, "normalise": False}}) == "o+q"
    assert table2_figure.row_of({"technique": "gan-finetune", "technique_options": {}}) == "gan-finetune"


def test_cli_writes_a_png_and_keeps_an_existing_one(tmp_path):
    _run(tmp_path / "sweep" / "element-50-s0")
    _run(tmp_path / "sweep" / "element-50-s1", seed=1, ratio=1.5)
    out = tmp_path / "t2.png"
    args = ["--family", f"stargan-textures={tmp_path / 'sweep'}", "--out", str(out)]
    result = CliRunner().invoke(table2_figure.main, args)
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    again = CliRunner().invoke(table2_figure.main, args)
    assert again.exit_code != 0 and "--force" in again.output
    missing = CliRunner().invoke(table2_figure.main, ["--family", f"srgan-photos={tmp_path / 'nope'}",
                                                      "--out", str(tmp_path / "x.png")])
    assert missing.exit_code != 0 and "no such folder" in missing.output
