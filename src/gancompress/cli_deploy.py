"""Deployment commands: ``export``, ``bench``, ``search`` and ``sensitivity`` (thin layers over the library)."""
from __future__ import annotations

from pathlib import Path

import click

from gancompress.cli_common import user_errors


@click.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--format", "formats", multiple=True,
              type=click.Choice(["safetensors", "sparse", "onnx", "onnx-int8", "pt2"]),
              default=("safetensors",), show_default=True, help="File format(s); repeatable.")
@click.option("--materialize", is_flag=True, help="Physically remove dead (all-zero) channels first.")
@click.option("--out", help="Output directory (default RUN_DIR/export).")
@click.option("--force", is_flag=True, help="Replace an earlier export in --out.")
@user_errors
def export(run_dir, formats, materialize, out, force) -> None:
    """Export the student generator(s) of a compress run."""
    from gancompress.export.bundle import export_run

    summary = export_run(run_dir, out, tuple(formats), materialize_channels=materialize, force=force)
    for key, info in summary["networks"].items():
        if materialize:
            click.echo(f"{key}: {info['params_before']:,} -> {info['params_after']:,} parameters, "
                       f"output changed by at most {info['max_output_change']:.3g}")
        for fmt, f in info["files"].items():
            click.echo(f"{key}: {fmt:<12} {f['path']} ({f['bytes'] / 1024:.1f} KB)")
        if "onnx_max_abs_diff" in info:
            click.echo(f"{key}: onnxruntime vs torch max |diff| {info['onnx_max_abs_diff']:.3g}")
        if "int8_vs_float" in info:
            q = info["int8_vs_float"]
            click.echo(f"{key}: int8 vs float torch: {q['psnr_vs_float']:.1f} dB, mean |diff| {q['mean_abs_diff']:.3g}")
        if "pt2_max_abs_diff" in info:
            click.echo(f"{key}: torch.export program vs torch max |diff| {info['pt2_max_abs_diff']:.3g}")
    click.echo(f"written to {out or run_dir + '/export'}")


@click.command()
@click.option("--student", "student", required=True, type=click.Path(exists=True, file_okay=False),
              help="A compress run directory.")
@click.option("--teacher", type=click.Path(exists=True, file_okay=False),
              help="Teacher directory (default: the run's teacher, else the shipped one).")
@click.option("--batch-size", type=int, default=1, show_default=True)
@click.option("--image-size", type=int, help="Side of the generated images (default: the recipe's); fully "
              "convolutional generators only.")
@click.option("--threads", type=int, default=1, show_default=True, help="CPU threads (torch and onnxruntime).")
@click.option("--repeats", type=int, default=30, show_default=True)
@click.option("--backend", "backends", multiple=True, type=click.Choice(["torch", "torch-nhwc", "onnxruntime"]),
              default=("torch", "onnxruntime"), show_default=True,
              help="Repeat to time several; torch-nhwc is torch with nets and images in channels-last layout.")
@click.option("--no-materialize", is_flag=True, help="Time the masked student as saved (zeros kept).")
@click.option("--int8", is_flag=True, help="Also time the student quantised to int8 (onnxruntime, calibrated on "
              "the recipe's training data).")
@click.option("--layers", is_flag=True, help="Also time every convolution / linear layer in torch: where the "
              "milliseconds go, and how many MACs per second each layer gets.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the results as JSON.")
@user_errors
def bench(student, teacher, batch_size, image_size, threads, repeats, backends, no_materialize, int8, layers,
          json_path) -> None:
    """Parameters, MACs, file size and CPU latency of teacher vs student."""
    from gancompress.api import write_json
    from gancompress.bench import BenchOptions, bench_run, to_markdown

    opts = BenchOptions(batch_size=batch_size, image_size=image_size, threads=threads, repeats=repeats,
                        backends=tuple(backends), materialize=not no_materialize, int8=int8, layers=layers)
    result = bench_run(student, teacher, opts)
    click.echo(to_markdown(result))
    if json_path:
        write_json(json_path, result)
        click.echo(f"written {json_path}")


@click.command()
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="YAML config file, or the name of a shipped one (default: the recipe's shipped config).")
@click.option("--recipe", help="Recipe name (see `gancompress list`).")
@click.option("--max-ratio", type=float, default=1.05, show_default=True,
              help="Quality budget: how many times worse than the teacher each --metric may be.")
@click.option("--metric", "metrics", multiple=True, default=("fid",), show_default=True,
              help="Metric(s) the budget applies to (e.g. fid, fid_A2B, psnr); repeatable.")
@click.option("--granularity", help="Pruning granularity (default: the config's), e.g. filter.")
@click.option("--rounds", type=int, default=4, show_default=True, help="Bisection probes (compress runs).")
@click.option("--max-sparsity", type=float, default=0.95, show_default=True)
@click.option("--image-size", type=int, help="Image side for the latency column (default: the recipe's).")
@click.option("--out", help="Search directory (default runs/search-<recipe>).")
@click.option("--set", "sets", multiple=True, help="Config override KEY=VALUE for every probe; repeatable.")
@user_errors
def search(config_path, recipe, max_ratio, metrics, granularity, rounds, max_sparsity, image_size, out, sets) -> None:
    """The most compressed student within a quality budget: bisection over sparsity, Pareto table, export."""
    from gancompress.cli_common import command_config
    from gancompress.search import SearchOptions, pareto_table, search as run_search

    cfg = command_config(config_path, recipe, {"prune.granularity": granularity}, sets)
    opts = SearchOptions(max_ratio=max_ratio, metrics=tuple(metrics), rounds=rounds, max_sparsity=max_sparsity,
                         image_size=image_size)
    out = out or f"runs/search-{cfg.recipe}"
    result = run_search(cfg, out, opts)
    click.echo(pareto_table(result))
    click.echo(f"written to {out}/ (search.json, pareto.md, pareto.png{', chosen/' if result['chosen'] else ''})")


@click.command()
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="YAML config file, or the name of a shipped one (default: the recipe's shipped config).")
@click.option("--recipe", help="Recipe name (see `gancompress list`).")
@click.option("--macs-reduction", type=float, required=True, help="Goal: this many times fewer MACs than the teacher.")
@click.option("--ratios", default="0.25,0.5,0.75,0.85,0.9,0.95", show_default=True,
              help="Filter fractions tried per layer (comma list, increasing).")
@click.option("--samples", type=int, default=16, show_default=True, help="Training inputs the distortion is measured on.")
@click.option("--image-size", type=int, help="Image side the MACs are counted at (default: the recipe's).")
@click.option("--out", help="Output directory (default runs/sensitivity-<recipe>).")
@click.option("--set", "sets", multiple=True, help="Config override KEY=VALUE; repeatable.")
@user_errors
def sensitivity(config_path, recipe, macs_reduction, ratios, samples, image_size, out, sets) -> None:
    """Per-layer filter sparsity allocated by each layer's sensitivity, reaching a MAC goal; writes a config."""
    from gancompress.cli_common import command_config
    from gancompress.sensitivity import SensitivityOptions, allocation_table, sensitivity as run_sensitivity

    cfg = command_config(config_path, recipe, {"prune.granularity": "filter"}, sets)
    try:
        grid = tuple(float(r) for r in ratios.split(",") if r.strip())
    except ValueError:
        raise click.BadParameter(f"{ratios!r}: expected numbers like 0.25,0.5,0.75", param_hint="--ratios") from None
    opts = SensitivityOptions(macs_reduction=macs_reduction, ratios=grid, samples=samples, image_size=image_size)
    out = out or f"runs/sensitivity-{cfg.recipe}"
    result = run_sensitivity(cfg, out, opts)
    click.echo(allocation_table(result))
    click.echo(f"written to {out}/ (sensitivity.json, sensitivity.png, config.yaml); train it with\n"
               f"  gancompress compress --config {out}/config.yaml")
