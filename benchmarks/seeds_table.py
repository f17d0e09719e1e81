"""Mean and spread over seeds of finished compress runs, grouped by what differs besides the seed.

    python benchmarks/seeds_table.py runs/mnist/e50-s0 runs/mnist/e50-s1 runs/mnist/e50-s2 runs/mnist/e90-s*

Rows: (technique, granularity, target sparsity); cells: mean +- sample standard deviation of the
student's metric and of its ratio to the teacher (``fid_ratio``, per direction / evaluation set where
the recipe has them), with the number of seeds. Reads only metrics.json and config.yaml.
"""
from __future__ import annotations

import statistics
from collections import defaultdict
from pathlib import Path

import click

from gancompress.io import read_yaml
from gancompress.metrics.result import Metrics, lower_is_better
from gancompress.rundir import RunDir


def group_key(run: Path) -> tuple[str, str, float]:
    """(technique with its distinguishing options and training settings, granularity, target)."""
    cfg = read_yaml(RunDir(run).config_file.read_text())
    options = cfg.get("technique_options") or {}
    shown = [f"{k}={v}" for k, v in options.items() if k in ("init", "prune", "disc")]
    shown += [f"{cfg['train']['steps']} steps", f"lr {cfg['train']['lr_g']:g}"]
    return f"{cfg['technique']} ({', '.join(shown)})", cfg["prune"]["granularity"], cfg["prune"]["target"]


def spread(values: list[float]) -> str:
    mean = statistics.fmean(values)
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{mean:.4g} ± {sd:.2g}"


def table(runs: list[Path], metrics: list[str]) -> str:
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for run in runs:
        groups[group_key(run)].append(RunDir(run).metrics())
    head = ["technique", "granularity", "target", "seeds", "teacher", *[f"student {m}" for m in metrics],
            *[f"{m} ratio" for m in metrics if f"{m}_ratio" in next(iter(groups.values()))[0]]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for (technique, granularity, target), rows in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2])):
        teacher = Metrics(rows[0]["teacher"]).numbers()
        cells = [technique, granularity, f"{target:.0%}", str(len(rows)),
                 ", ".join(f"{m} {teacher[m]:.4g}" for m in metrics if m in teacher)]
        cells += [spread([r["student"][m] for r in rows]) for m in metrics]
        cells += [spread([r[f"{m}_ratio"] for r in rows]) for m in metrics if f"{m}_ratio" in rows[0]]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


@click.command()
@click.argument("runs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--metrics", default=None, help="Comma list (default: the quality metrics of the first run).")
def main(runs: tuple[Path, ...], metrics: str | None) -> None:
    first = RunDir(runs[0]).metrics()["student"]
    names = metrics.split(",") if metrics else [k for k, v in Metrics(first).numbers().items()
                                                if lower_is_better(k) is not None and "_std" not in k]
    click.echo(table(list(runs), names))


if __name__ == "__main__":
    main()
