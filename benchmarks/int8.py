"""int8 beside float for compress runs: quality (the recipe's metrics, run in onnxruntime), file size
and onnxruntime latency, each run's student exported both ways.

For each run: `gancompress export RUN --materialize --format onnx --format onnx-int8` into
RUN/export-int8 (replaced), then the float and int8 ONNX models are scored by the recipe's own
evaluation (as `gancompress evaluate --export DIR --format onnx|onnx-int8` does) and timed
interleaved in onnxruntime (one thread, batch 1, the recipe's image size; other sizes:
`gancompress bench --image-size N --int8`).

    python benchmarks/int8.py RUN_DIR [RUN_DIR ...] [--samples 1000]
"""
from __future__ import annotations

import time
from pathlib import Path

import click

from gancompress.bench import time_interleaved
from gancompress.evaluation import evaluate_generator
from gancompress.export.bundle import export_run, load_exported
from gancompress.export.formats import onnx_feed, onnx_session
from gancompress.metrics.result import base_metric
from gancompress.nets import example_inputs

MAIN = ("fid", "psnr")


def latency_ms(export: Path, recipe, repeats: int) -> dict[str, float]:
    """Median onnxruntime ms of the float and int8 models (summed over the generators), interleaved."""
    gens = recipe.build_generators()  # only for the inputs' shapes
    inputs = example_inputs(recipe, gens, n=1)
    calls = {}
    for key in gens:
        for fmt, suffix in (("float", ".onnx"), ("int8", ".int8.onnx")):
            session = onnx_session(export / f"student_{key}{suffix}")
            feed = onnx_feed(session, inputs[key])
            calls[f"{fmt}/{key}"] = (lambda s, f: lambda: s.run(None, f))(session, feed)
    times = time_interleaved(calls, repeats, warmup=3)
    median = lambda v: sorted(v)[len(v) // 2] * 1e3  # noqa: E731
    return {fmt: sum(median(v) for k, v in times.items() if k.startswith(fmt + "/")) for fmt in ("float", "int8")}


@click.command()
@click.argument("runs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--samples", default=1000, show_default=True)
@click.option("--repeats", default=30, show_default=True)
def main(runs, samples, repeats):
    lines = ["| run | recipe | metric | float | int8 | int8 / float | file KB float -> int8 | ort ms float -> int8 |",
             "|---|---|---|---|---|---|---|---|"]
    for run in runs:
        export = Path(run) / "export-int8"
        started = time.perf_counter()
        summary = export_run(run, export, ("onnx", "onnx-int8"), materialize_channels=True, force=True)
        scores, name = {}, None
        for fmt in ("onnx", "onnx-int8"):
            recipe, gens = load_exported(export, prefer=fmt)
            result = evaluate_generator(recipe, gens, fmt, samples)
            scores[fmt], name = result["model"], result["recipe"]
        ms = latency_ms(export, recipe, repeats)
        kb = {fmt: sum(n["files"][fmt]["bytes"] for n in summary["networks"].values()) / 1024
              for fmt in ("onnx", "onnx-int8")}
        for key in (k for k in scores["onnx"] if base_metric(k) in MAIN):
            f, q = scores["onnx"][key], scores["onnx-int8"][key]
            lines.append(f"| {run} | {name} | {key} | {f:.3f} | "
                         f"{q:.3f} | {q / f:.3f} | {kb['onnx']:.0f} -> {kb['onnx-int8']:.0f} | "
                         f"{ms['float']:.2f} -> {ms['int8']:.2f} |")
        click.echo(f"{run}: done in {time.perf_counter() - started:.0f} s", err=True)
    click.echo("\n".join(lines))


if __name__ == "__main__":
    main()
