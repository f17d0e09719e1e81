"""Command-line interface: a thin layer over `gancompress.api`."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from gancompress.cli_common import (first_line, granularity_names, jobs_option, listing_option, log_to_stderr,
                                    overrides, schedule_names, seeds_option, set_option, table1_ids, technique_names,
                                    user_errors)
from gancompress.cli_deploy import bench, export, search, sensitivity


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="gancompress")
@click.option("--recipe-file", "recipe_files", multiple=True, type=click.Path(dir_okay=False),
              help="A Python file that registers your own recipe (its code runs: name only files you trust); "
                   "repeatable, before the command.")
@user_errors
def main(recipe_files) -> None:
    """Compress trained GAN generators, supervised by their own discriminator and teacher."""
    log_to_stderr()
    if recipe_files:
        from gancompress.recipes.plugins import load_recipe_file

        for path in recipe_files:
            load_recipe_file(path)


@main.command("list")
def list_cmd() -> None:
    """Print the registered recipes, techniques and pruning choices."""
    from gancompress.pruning import GRANULARITIES, SCHEDULES, criterion_choices
    from gancompress.recipes import RECIPES
    from gancompress.techniques import TECHNIQUES

    click.echo("recipes:")
    for name in RECIPES:
        click.echo(f"  {name:<22} {first_line(RECIPES.get(name))}")
    click.echo("techniques:")
    for name in TECHNIQUES:
        click.echo(f"  {name:<22} {first_line(TECHNIQUES.get(name))}")
    for title, names in (("granularities", GRANULARITIES.names()), ("criteria", criterion_choices()),
                         ("schedules", SCHEDULES.names())):
        click.echo(f"{title}: {', '.join(names)}")
    from gancompress.config import shipped_configs

    click.echo(f"configs: {', '.join(shipped_configs())}")


@main.command()
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="YAML config file, or the name of a shipped one (see `gancompress list`).")
@click.option("--recipe", help="Recipe name (see `gancompress list`).")
@click.option("--steps", type=int, help="Training steps.")
@click.option("--batch-size", type=int)
@click.option("--seed", type=int)
@click.option("--out", help="Output directory.")
@click.option("--init", type=click.Path(exists=True, file_okay=False),
              help="Start G and D from this run's or teacher's weights (its recipe options too) instead of fresh ones.")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last checkpoint.")
@set_option
@user_errors
def train(config_path, recipe, steps, batch_size, seed, out, init, resume, sets) -> None:
    """Train a dense teacher (G and D) for a recipe."""
    from gancompress import api
    from gancompress.config import load_config

    if init and not recipe and not config_path:  # the recipe of the run it starts from
        from gancompress.rundir import RunDir

        start = RunDir(init)
        recipe = start.recipe_spec()[0] if start.has_recipe() else None
    cfg = load_config(config_path, overrides({"recipe": recipe, "train.steps": steps, "train.batch_size": batch_size,
                                               "train.seed": seed, "out": out, "init": init}, sets))
    metrics = api.train(cfg, resume=resume)
    if metrics:  # empty on torchrun ranks other than 0
        click.echo(json.dumps(metrics["teacher"], indent=2))
        click.echo(f"teacher written to {cfg.out}")


@main.command()
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="YAML config file, or the name of a shipped one (see `gancompress list`).")
@click.option("--recipe", help="Recipe name (see `gancompress list`).")
@click.option("--teacher", help="Teacher directory ({G,D}.safetensors + recipe.yaml); default: the shipped one.")
@listing_option("--technique", names=technique_names, help="{names} (default self-supervised).")
@listing_option("--granularity", names=granularity_names, help="{names}.")
@click.option("--sparsity", type=float, help="Target sparsity in [0, 1).")
@listing_option("--schedule", names=schedule_names, help="{names}.")
@click.option("--steps", type=int, help="Compression steps.")
@click.option("--lambda", "lambda_dc", type=float, help="Weight of L_DC (default 0.5).")
@click.option("--seed", type=int)
@click.option("--inception", help="Inception TorchScript weights for standard FID.")
@click.option("--out", help="Output directory.")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last checkpoint.")
@set_option
@user_errors
def compress(config_path, recipe, teacher, technique, granularity, sparsity, schedule, steps, lambda_dc, seed,
             inception, out, resume, sets) -> None:
    """Compress a trained generator."""
    from gancompress import api
    from gancompress.config import RunConfig, default_config_for, load_config

    config_path = config_path or default_config_for(recipe or RunConfig.recipe)
    cfg = load_config(config_path, overrides({
        "recipe": recipe, "teacher": teacher, "technique": technique, "prune.granularity": granularity,
        "prune.target": sparsity, "prune.schedule": schedule, "train.steps": steps,
        "technique_options.lambda_dc": lambda_dc, "train.seed": seed, "inception": inception, "out": out}, sets))
    _print_summary(api.compress(cfg, resume=resume), cfg.out)


@main.command()
@click.option("--out", default="runs/demo", show_default=True, help="Output directory.")
@set_option
@user_errors
def demo(out, sets) -> None:
    """Compress the shipped DCGAN teacher to 50% element sparsity (its shipped config)."""
    from gancompress import api

    _print_summary(api.demo(out, overrides=list(sets)), out)


@main.command()
@click.option("--recipe", help="Recipe name (see `gancompress list`); not needed with --student.")
@click.option("--teacher", type=click.Path(exists=True), help="Teacher directory (default: the shipped one).")
@click.option("--student", type=click.Path(exists=True, file_okay=False), help="A compress run directory.")
@click.option("--export", "export_dir", type=click.Path(exists=True, file_okay=False),
              help="An export directory (`gancompress export`).")
@click.option("--format", "fmt", type=click.Choice(["safetensors", "onnx", "onnx-int8"]), default="safetensors",
              show_default=True, help="Which of --export's files to score (ONNX ones run in onnxruntime).")
@click.option("--samples", type=int, default=1000, show_default=True, help="Evaluation samples.")
@click.option("--inception", help="Inception TorchScript weights: Inception-FID under the clean-fid protocol.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Also write the result as JSON.")
@click.option("--force", is_flag=True, help="Replace an existing --json file.")
@user_errors
def evaluate(recipe, teacher, student, export_dir, fmt, samples, inception, json_path, force) -> None:
    """Score a generator beside the task's non-learned baseline and real data against itself."""
    from gancompress.evaluation import evaluate_generator, generator_to_score, summary_table
    from gancompress.io import write_json

    if json_path and Path(json_path).exists() and not force:
        raise click.ClickException(f"--json {json_path!r} exists; pass --force to replace it")
    if samples < 2:
        raise click.BadParameter(f"{samples}: FID/KID need at least 2 samples", param_hint="--samples")
    if fmt != "safetensors" and not export_dir:
        raise click.BadParameter(f"{fmt}: ONNX files come from an export; give --export DIR", param_hint="--format")
    loaded, gens, what = generator_to_score(recipe, teacher, student, export=export_dir, fmt=fmt)
    result = evaluate_generator(loaded, gens, what, samples, inception)
    click.echo(summary_table(result))
    if json_path:
        write_json(json_path, result)
        click.echo(f"written {json_path}")


@main.command()
@click.option("--recipe", help="Recipe name (default: the config's).")
@listing_option("--techniques", names=table1_ids, sep=",", help="Comma list of Table 1 ids, from {names} (default: all).")
@click.option("--sparsity", type=float, help="Target sparsity (default 0.5).")
@listing_option("--granularity", names=granularity_names, help="{names}.")
@click.option("--steps", type=int, help="Steps per technique (default: the recipe's config).")
@click.option("--teacher", help="Teacher directory; default: the shipped one.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="Base YAML config (default: the recipe's shipped config).")
@click.option("--seed", type=int)
@seeds_option("Comma list of seeds (e.g. 0,1,2): one comparison each, then means and spreads.")
@click.option("--inception", help="Inception TorchScript weights for standard FID.")
@click.option("--out", default="runs/compare", show_default=True, help="Output directory.")
@jobs_option
@set_option
@user_errors
def compare(recipe, techniques, sparsity, granularity, steps, teacher, config_path, seed, seeds, inception, out,
            jobs, sets) -> None:
    """Table 1: compress with each technique (same budget, seed, inputs) and compare."""
    from gancompress.compare import compare as run_compare, compare_seeds
    from gancompress.config import RunConfig, default_config_for, load_config
    from gancompress.techniques.table1 import rows_for

    rows = rows_for(techniques)  # unknown ids fail before any work
    config_path = config_path or default_config_for(recipe or RunConfig.recipe)
    cfg = load_config(config_path, overrides({
        "recipe": recipe, "teacher": teacher, "prune.target": sparsity if sparsity is not None else 0.5,
        "prune.granularity": granularity, "train.steps": steps, "train.seed": seed, "inception": inception,
        "train.eval_every": 0}, sets))
    if seeds is not None:
        if seed is not None:
            raise click.BadParameter("give --seed or --seeds, not both", param_hint="--seeds")
        compare_seeds(cfg, rows, out, seeds, jobs)
    else:
        run_compare(cfg, rows, out, jobs)
    click.echo(Path(out, "compare.md").read_text())
    where = "seed-<s>/ per seed, each with" if seeds is not None else "compare.png,"
    click.echo(f"written to {out}/ (compare.json, compare.md, {where} one run directory per technique)")


@main.command()
@click.argument("runs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--out", default="runs/report", show_default=True, help="Folder for report.html and report.md.")
@click.option("--title", default="gancompress report", show_default=True)
@click.option("--force", is_flag=True, help="Replace an earlier report in --out.")
@user_errors
def report(runs, out, title, force) -> None:
    """Build a self-contained HTML page (and Markdown) from run directories."""
    from gancompress.report.page import build_report

    paths = build_report(list(runs), out, title, force=force)
    click.echo(f"written {paths['html']} and {paths['markdown']}")


def _print_summary(metrics: dict, out: str) -> None:
    if not metrics:  # torchrun ranks other than 0
        return
    t, s = metrics["teacher"], metrics["student"]
    click.echo(f"features: {metrics['features']}")
    from gancompress.metrics.result import Metrics

    keys = list(Metrics(t).numbers())
    real = metrics.get("real") or {}
    click.echo(f"{'metric':<16}{'teacher':>12}{'student':>12}" + (f"{'real vs real':>14}" if real else ""))
    for k in keys:
        scale = (f"{real[k]:>14.4g}" if k in real else f"{'':>14}") if real else ""
        click.echo(f"{k:<16}{t[k]:>12.4g}{s.get(k, float('nan')):>12.4g}{scale}")
    click.echo(f"{'sparsity':<16}{0:>12.4g}{s['sparsity']:>12.4g}")
    if real:
        click.echo("real vs real: held-out real data scored like the generators (the scale of FID/KID)")
    if "fid_ratio" in metrics:
        click.echo(f"FID ratio student/teacher: {metrics['fid_ratio']:.3f}")
    click.echo(f"written to {out}/ (metrics.json, student_*.safetensors, teacher_vs_student.png)")


main.add_command(export)
main.add_command(bench)
main.add_command(search)
main.add_command(sensitivity)


if __name__ == "__main__":
    sys.exit(main())
