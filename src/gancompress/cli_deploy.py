"""Deployment commands: ``gancompress export`` and ``gancompress bench`` (thin layers over the library)."""
from __future__ import annotations

from pathlib import Path

import click

from gancompress.cli_common import user_errors


@click.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--format", "formats", multiple=True, type=click.Choice(["safetensors", "sparse", "onnx", "pt2"]),
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
        if "pt2_max_abs_diff" in info:
            click.echo(f"{key}: torch.export program vs torch max |diff| {info['pt2_max_abs_diff']:.3g}")
    click.echo(f"written to {out or run_dir + '/export'}")


@click.command()
@click.option("--student", "student", required=True, type=click.Path(exists=True, file_okay=False),
              help="A compress run directory.")
@click.option("--teacher", type=click.Path(exists=True, file_okay=False),
              help="Teacher directory (default: the run's teacher, else the shipped one).")
@click.option("--batch-size", type=int, default=1, show_default=True)
@click.option("--threads", type=int, default=1, show_default=True, help="CPU threads (torch and onnxruntime).")
@click.option("--repeats", type=int, default=30, show_default=True)
@click.option("--backend", "backends", multiple=True, type=click.Choice(["torch", "onnxruntime"]),
              default=("torch", "onnxruntime"), show_default=True)
@click.option("--no-materialize", is_flag=True, help="Time the masked student as saved (zeros kept).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the results as JSON.")
@user_errors
def bench(student, teacher, batch_size, threads, repeats, backends, no_materialize, json_path) -> None:
    """Parameters, MACs, file size and CPU latency of teacher vs student."""
    from gancompress.api import write_json
    from gancompress.bench import BenchOptions, bench_run, to_markdown

    opts = BenchOptions(batch_size=batch_size, threads=threads, repeats=repeats, backends=tuple(backends),
                        materialize=not no_materialize)
    result = bench_run(student, teacher, opts)
    click.echo(to_markdown(result))
    if json_path:
        write_json(json_path, result)
        click.echo(f"written {json_path}")
