"""How far each pruned layer's output has drifted from the dense teacher's, for finished compress runs.

For every run: teacher and student (both in eval mode) on the same evaluation inputs; for each layer
the run pruned, the mean squared distance of the student's output to the teacher's divided by the
variance of the teacher's output there (0: the same; 1: an error as large as the signal): which layers
a sparse student computes differently from its teacher. It does not rank students by quality: on
DCGAN-MNIST at 90% the run with the lowest drift had an ordinary FID (benchmarks/README.md).

    python benchmarks/layer_drift.py RUN_DIR [RUN_DIR ...] [--samples 250]
"""
from __future__ import annotations

from pathlib import Path

import click
import torch

from gancompress.api import load_teacher
from gancompress.config import saved_config
from gancompress.pruning.pruner import select_layers
from gancompress.recipes.weights import load_student
from gancompress.techniques.base import feature_distance, recording


@torch.no_grad()
def layer_drift(run: Path, samples: int) -> dict[str, float]:
    """{layer: relative squared error of the student's output to the teacher's} for `run`'s pruned layers."""
    cfg = saved_config(run / "config.yaml")
    recipe, student = load_student(run)
    _, teacher = load_teacher(cfg)
    t_layers, s_layers = select_layers(teacher, cfg.prune), select_layers(student, cfg.prune)
    drift: dict[str, list[float]] = {name: [] for name in s_layers}
    for batch in recipe.eval_batches(samples, seed=0):
        with recording(t_layers) as t_out, recording(s_layers) as s_out:
            recipe.generate(teacher, batch)
            recipe.generate(student, batch)
        for name in s_layers:
            drift[name].append(feature_distance({name: t_out[name]}, {name: s_out[name]}).item())
    return {name: sum(v) / len(v) for name, v in drift.items()}


@click.command()
@click.argument("runs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--samples", default=250, show_default=True, help="Evaluation inputs per run.")
def main(runs, samples):
    torch.manual_seed(0)
    tables: dict[tuple[str, ...], dict[str, dict[str, float]]] = {}  # one table per set of pruned layers
    for run in runs:
        drift = layer_drift(Path(run), samples)
        tables.setdefault(tuple(drift), {})[run] = drift
    for layers, rows in tables.items():
        print("\n| run | " + " | ".join(layers) + " | mean |")
        print("|---|" + "---|" * (len(layers) + 1))
        for run, drift in rows.items():
            cells = " | ".join(f"{drift[name]:.3f}" for name in layers)
            print(f"| {run} | {cells} | {sum(drift.values()) / len(drift):.3f} |")


if __name__ == "__main__":
    main()
