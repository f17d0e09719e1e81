"""Sweeps over granularity x sparsity (x seed): our version of the paper's Table 2 rows."""
from __future__ import annotations

import json
import statistics
from dataclasses import replace
from pathlib import Path
from typing import Iterable, Mapping

from gancompress.config import RunConfig
from gancompress.pool import run_metrics, run_pending
from gancompress.rundir import RunDir


def sweep(base: RunConfig, granularities: Iterable[str], sparsities: Iterable[float], out: str | Path,
          scopes: Mapping[str, str] | None = None, jobs: int = 1, seeds: Iterable[int] | None = None) -> list[dict]:
    """Compress `base` at every (granularity, sparsity), and with `seeds` once per seed; one run directory
    each (``out/<granularity>-<percent>``, with seeds ``...-s<seed>``), `jobs` at a time.

    `scopes` overrides the pruning scope per granularity (e.g. filter pruning per layer,
    so that no layer loses all its channels under a global ranking).

    Returns one row per run with the student's metrics and the FID ratio to the teacher,
    and writes them to ``out/sweep.json``. Finished runs (with a metrics.json) are reused, half-done
    ones resumed.
    """
    out, sparsities = Path(out), list(sparsities)
    seeds = list(seeds) if seeds is not None else [None]  # None: the base's seed, unnamed folders
    cfgs = [_run_config(base, out, gran, target, (scopes or {}).get(gran, base.prune.scope), seed)
            for gran in granularities for target in sparsities for seed in seeds]
    run_pending(cfgs, jobs, desc="sweep")
    rows = []
    for cfg in cfgs:
        metrics = run_metrics(cfg)
        rows.append({"granularity": cfg.prune.granularity, "target": cfg.prune.target, "seed": cfg.train.seed,
                     "run": cfg.out, "scope": cfg.prune.scope,
                     "sparsity": metrics["student"]["sparsity"], "teacher": metrics["teacher"],
                     "student": metrics["student"], "fid_ratio": metrics.get("fid_ratio"),
                     "features": metrics["features"]})
    (out / RunDir.SWEEP).write_text(json.dumps(rows, indent=2) + "\n")
    return rows


def _run_config(base: RunConfig, out: Path, gran: str, target: float, scope: str, seed: int | None) -> RunConfig:
    """One cell's run: ``out/<granularity>-<percent>``, and ``-s<seed>`` with a seed (else the base's seed)."""
    name = f"{gran}-{round(target * 100):02d}" + ("" if seed is None else f"-s{seed}")
    train = base.train if seed is None else replace(base.train, seed=seed)
    return replace(base, out=str(out / name), train=train,
                   prune=replace(base.prune, granularity=gran, target=target, scope=scope))


def sweep_table(rows: list[dict], metric: str = "fid") -> str:
    """Markdown: one line per granularity, dense value then each sparsity as value (ratio); where a cell
    has several seeds, their mean ± sample standard deviation and the seed count."""
    targets = sorted({r["target"] for r in rows})
    grans = list(dict.fromkeys(r["granularity"] for r in rows))
    teacher = rows[0]["teacher"][metric]
    head = "| granularity | dense | " + " | ".join(f"{t:.0%}" for t in targets) + " |"
    lines = [head, "|" + "---|" * (len(targets) + 2)]
    for gran in grans:
        cells = [_cell([r["student"][metric] for r in rows if r["granularity"] == gran and r["target"] == t
                        and r["student"].get(metric) is not None], teacher) for t in targets]
        lines.append(f"| {gran} | {teacher:.3f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def mean_sd(values: list[float], digits: int = 3) -> str:
    """One value as is; several as mean ± sample standard deviation (two significant digits)."""
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.fmean(values):.{digits}f} ± {statistics.stdev(values):.2g}"


def _cell(values: list[float], teacher: float) -> str:
    if not values:
        return "-"
    value, ratio = mean_sd(values), mean_sd([v / teacher for v in values])
    return f"{value} ({ratio}x)" + (f" [{len(values)}]" if len(values) > 1 else "")
