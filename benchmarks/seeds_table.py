"""Mean and spread over seeds of finished compress runs, grouped by what differs besides the seed.

    python benchmarks/seeds_table.py runs/mnist/e50-s0 runs/mnist/e50-s1 runs/mnist/e50-s2 runs/mnist/e90-s*

Rows: (technique with the settings that differ between the runs given, granularity, target sparsity);
cells: mean +- sample standard deviation of the student's metric and of its ratio to the teacher
(``fid_ratio``, per direction / evaluation set where the recipe has them), with the number of seeds.
Reads only metrics.json and config.yaml.
"""
from __future__ import annotations

import statistics
from collections import defaultdict
from pathlib import Path

import click

from gancompress.io import read_yaml
from gancompress.metrics.result import Metrics, lower_is_better
from gancompress.rundir import RunDir


SHOWN_APART = ("train.seed", "out", "technique", "prune.granularity", "prune.target")


def flat(cfg: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in cfg.items():
        if isinstance(value, dict) and value:
            out.update(flat(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


def group_keys(runs: list[Path]) -> dict[Path, tuple[str, str, float]]:
    """Per run: (technique with its training settings and every other setting that differs between the
    runs, granularity, target); runs that differ only in their seed share a key."""
    configs = {run: flat(read_yaml(RunDir(run).config_file.read_text())) for run in runs}
    keys = sorted({k for c in configs.values() for k in c} - set(SHOWN_APART))
    differing = [k for k in keys if len({repr(c.get(k)) for c in configs.values()}) > 1
                 and k not in ("train.steps", "train.lr_g")]
    out = {}
    for run, c in configs.items():
        shown = [f"{c['train.steps']} steps", f"lr {c['train.lr_g']:g}"] + [f"{k}={c.get(k)}" for k in differing]
        out[run] = (f"{c['technique']} ({', '.join(shown)})", c["prune.granularity"], c["prune.target"])
    return out


def spread(values: list[float]) -> str:
    mean = statistics.fmean(values)
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{mean:.4g} ± {sd:.2g}"


def table(runs: list[Path], metrics: list[str]) -> str:
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for run, key in group_keys(runs).items():
        groups[key].append(RunDir(run).metrics())
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
