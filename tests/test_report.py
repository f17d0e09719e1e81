"""The HTML report opens in headless Chromium with every image decoded."""
import json
import re
import shutil
import subprocess

import pytest
from click.testing import CliRunner

from gancompress.cli import main

CHECK = """<script>
window.addEventListener('load', () => {
  const imgs = [...document.images];
  const ok = imgs.filter(i => i.complete && i.naturalWidth > 0).length;
  document.body.setAttribute('data-images', ok + '/' + imgs.length);
});
</script>"""


def find_chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.fixture(scope="module")
def compress_run(tmp_path_factory):
    """A tiny train + compress run with a FID trajectory, and a sweep folder."""
    root = tmp_path_factory.mktemp("runs")
    tiny = ["--set", "recipe_options.nz=8", "--set", "recipe_options.ngf=4", "--set", "recipe_options.ndf=4",
            "--set", "train.batch_size=16", "--set", "train.eval_samples=32", "--set", "train.log_every=1"]
    runner = CliRunner()
    result = runner.invoke(main, ["train", "--steps", "2", "--out", str(root / "teacher"), *tiny])
    assert result.exit_code == 0, result.output
    result = runner.invoke(main, ["compress", "--teacher", str(root / "teacher"), "--steps", "4",
                                  "--out", str(root / "student"), "--set", "train.eval_every=2", *tiny])
    assert result.exit_code == 0, result.output
    metrics = json.loads((root / "student" / "metrics.json").read_text())
    sweep = root / "sweep"
    sweep.mkdir()
    rows = [{"granularity": g, "target": t, "seed": seed, "sparsity": t, "teacher": metrics["teacher"],
             "student": metrics["student"], "fid_ratio": metrics["fid_ratio"], "features": metrics["features"],
             "run": "x"} for g in ("element", "filter") for t in (0.25, 0.5) for seed in (0, 1)]  # mean ± sd plotted
    (sweep / "sweep.json").write_text(json.dumps(rows))
    return root


def test_report_has_tables_pictures_and_curves(compress_run, tmp_path):
    result = CliRunner().invoke(main, ["report", str(compress_run / "student"), str(compress_run / "sweep"),
                                       "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    page = (tmp_path / "report.html").read_text()
    assert "not Inception" in page and "G.main.0" in page and "FID ratio" in page
    assert page.count("data:image/png;base64,") == 3  # teacher vs student grid, curves + FID, sweep plot
    md = (tmp_path / "report.md").read_text()
    assert md.count("![") == 3 and all((tmp_path / m).exists() for m in re.findall(r"\]\((.*?)\)", md))


def test_report_rejects_a_folder_that_is_not_a_run(tmp_path):
    result = CliRunner().invoke(main, ["report", str(tmp_path), "--out", str(tmp_path / "r")])
    assert result.exit_code != 0 and "not a run directory" in result.output


@pytest.mark.skipif(find_chromium() is None, reason="chromium not installed (.ci/run installs it)")
def test_report_renders_in_headless_chromium(compress_run, tmp_path):
    CliRunner().invoke(main, ["report", str(compress_run / "student"), str(compress_run / "sweep"),
                              "--out", str(tmp_path)])
    page = tmp_path / "checked.html"
    page.write_text((tmp_path / "report.html").read_text().replace("</body>", CHECK + "</body>"))
    dom = subprocess.run([find_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom",
                          "--virtual-time-budget=5000", page.as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    assert "<h1>gancompress report</h1>" in dom
    assert 'data-images="3/3"' in dom


def test_report_opens_with_an_overview_row_per_run_and_the_real_vs_real_scale(compress_run, tmp_path):
    runs = [compress_run / "student", compress_run / "teacher"]
    result = CliRunner().invoke(main, ["report", *map(str, runs), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    md = (tmp_path / "report.md").read_text()
    overview = md.split("## ")[1]
    assert overview.startswith("overview") and "real-vs-real FID" in overview
    assert "| student | dcgan-digits | self-supervised |" in overview and "| teacher | dcgan-digits | train | dense |" in overview
    real = json.loads((compress_run / "student" / "metrics.json").read_text())["real"]["fid"]
    assert f"{real:.4g}" in overview and "real vs real" in md.split("## ")[2]


def test_a_run_without_periodic_fid_says_so_instead_of_drawing_an_empty_panel(compress_run, tmp_path):
    result = CliRunner().invoke(main, ["report", str(compress_run / "teacher"), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    md = (tmp_path / "report.md").read_text()
    assert "No FID was measured during the run" in md and "loss terms during the run" in md


def test_picture_sheets_say_what_their_tiles_show_and_keep_a_sensible_width(tmp_path):
    from PIL import Image

    from conftest import TINY
    from gancompress.api import sample_sheet
    from gancompress.recipes import get_recipe

    recipe = get_recipe("pix2pix-denoise", {**TINY["pix2pix-denoise"], "image_size": 64})
    gens = recipe.build_generators()
    path = sample_sheet(recipe, {"teacher": gens, "student": gens}, tmp_path / "s.png", n=16)
    assert recipe.display_legend == "each tile is input | output | target"
    assert Image.open(path).width <= 2 * (5 * (3 * 64 + 2) + 2) + 12  # 5 columns of 192-px tiles, no upscaling
