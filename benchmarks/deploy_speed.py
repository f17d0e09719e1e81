"""Teacher vs materialised student of compress runs: MACs, size, CPU latency (torch and onnxruntime).

For each run directory: the student's dead channels are removed (`gancompress.export.materialize`),
then teacher and student calls are interleaved in one process, in torch and in onnxruntime, and
the median-latency ratios are printed side by side. ``--fid`` also evaluates the materialised
student with the recipe's own metrics (its FID can differ from the masked student's in
metrics.json when pruned channels still emitted a constant; see the materialize docstring).

    python benchmarks/deploy_speed.py RUN_DIR [RUN_DIR ...] [--threads 1] [--batch-size 1] [--fid]
"""
from __future__ import annotations

import json
from pathlib import Path

import click
import torch
from torch import nn

from gancompress.bench import BenchOptions, bench_models, load_pair, to_markdown
from gancompress.export.materialize import materialize
from gancompress.nets import example_inputs


def fid_of(recipe, gens: nn.ModuleDict, n: int) -> dict:
    from gancompress.api import evaluate, feature_net_for

    metrics = evaluate(recipe, gens, feature_net_for(recipe, None), n, torch.device("cpu"))
    return {k: v for k, v in metrics.items() if k.startswith("fid")}


@click.command()
@click.argument("runs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--teacher", type=click.Path(exists=True, file_okay=False), help="Default: each run's own.")
@click.option("--threads", default=1, show_default=True)
@click.option("--batch-size", default=1, show_default=True)
@click.option("--repeats", default=50, show_default=True)
@click.option("--fid", is_flag=True, help="Evaluate the materialised student (recipe metrics).")
@click.option("--eval-samples", default=1000, show_default=True)
@click.option("--json", "json_path", type=click.Path(dir_okay=False))
def main(runs, teacher, threads, batch_size, repeats, fid, eval_samples, json_path):
    opts = BenchOptions(batch_size=batch_size, threads=threads, repeats=repeats)
    summary = []
    for run_dir in runs:
        recipe, t_gens, s_gens = load_pair(run_dir, teacher)
        inputs = example_inputs(recipe, s_gens, n=batch_size)
        small = nn.ModuleDict({k: materialize(net, inputs[k]).net for k, net in s_gens.items()})
        result = bench_models({"teacher": t_gens, "student": small}, inputs, opts)
        metrics_file = Path(run_dir) / "metrics.json"
        saved = json.loads(metrics_file.read_text()) if metrics_file.exists() else {}
        row = {"run": run_dir, "ratios": result["ratios"], "masked_fid_ratio": saved.get("fid_ratio")}
        if fid:
            t_fid, s_fid = fid_of(recipe, t_gens, eval_samples), fid_of(recipe, small, eval_samples)
            row.update(teacher_fid=t_fid, materialized_fid=s_fid,
                       materialized_fid_ratio=s_fid["fid"] / max(t_fid["fid"], 1e-12))
        summary.append(row)
        click.echo(f"## {run_dir}\n{to_markdown(result)}\n")
    click.echo("| run | net | MACs teacher/student | params teacher/student | torch speed-up | onnxruntime speed-up "
               "| FID ratio (masked) | FID ratio (materialised) |")
    click.echo("|---|---|---|---|---|---|---|---|")
    for row in summary:
        for key, r in row["ratios"].items():
            cells = [row["run"], key, f"{r['macs_reduction']:.2f}x", f"{r['params_reduction']:.2f}x"]
            cells += [f"{r.get(f'{b}_speedup', float('nan')):.2f}x" for b in ("torch", "onnxruntime")]
            fids = (row["masked_fid_ratio"], row.get("materialized_fid_ratio"))
            cells += ["-" if v is None else f"{v:.3f}" for v in fids]
            click.echo("| " + " | ".join(cells) + " |")
    click.echo(f"\nCPU, {threads} thread(s), batch {batch_size}, {repeats} interleaved repeats, "
               f"torch {torch.__version__}")
    if json_path:
        Path(json_path).write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
