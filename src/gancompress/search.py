"""`gancompress search`: the most compressed student whose quality stays within a budget.

Bisection over the target sparsity: each probe is one ``compress`` run (its own folder,
reused when finished, resumed when interrupted, so a search that is run again replays
the same probes and continues where it stopped). A probe is within the budget when every
chosen metric is worse than the teacher's by at most `max_ratio` (student/teacher for
FID-like metrics, teacher/student for PSNR-like ones). Every probe is then benched
(MACs of the materialised student, torch latency at the chosen image size, interleaved
with the teacher), and the most compressed one within the budget is exported.
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable

from gancompress.config import RunConfig
from gancompress.metrics.result import lower_is_better
from gancompress.rundir import RunDir

log = logging.getLogger("gancompress")


@dataclass(frozen=True)
class SearchOptions:
    max_ratio: float = 1.05
    metrics: tuple[str, ...] = ("fid",)
    min_sparsity: float = 0.0  # assumed within the budget (the teacher itself at 0)
    max_sparsity: float = 0.95
    rounds: int = 4
    image_size: int | None = None  # for the latency column (None: the recipe's size)
    bench_repeats: int = 10

    def __post_init__(self) -> None:
        if not self.max_ratio >= 1.0:
            raise ValueError(f"max_ratio={self.max_ratio}: must be >= 1 (1 = the teacher's quality)")
        if not 0.0 <= self.min_sparsity < self.max_sparsity < 1.0:
            raise ValueError(f"sparsity range [{self.min_sparsity}, {self.max_sparsity}]: need 0 <= min < max < 1")
        if self.rounds < 1:
            raise ValueError(f"rounds={self.rounds}: must be >= 1")
        if not self.metrics:
            raise ValueError("metrics: name at least one (e.g. fid)")
        unknown = [m for m in self.metrics if lower_is_better(m) is None]
        if unknown:
            raise ValueError(f"metric {unknown[0]!r} is not a quality metric (e.g. fid, fid_A2B, kid, psnr, ssim)")


def worse_by(teacher: dict, student: dict, key: str) -> float:
    """How many times worse the student is than the teacher on `key` (1: as good; < 1: better)."""
    if key not in teacher or key not in student:
        raise ValueError(f"metric {key!r} is not among the run's metrics ({', '.join(sorted(teacher))})")
    lower = lower_is_better(key)
    if lower is None:
        raise ValueError(f"metric {key!r} is not a quality metric")
    t, s = teacher[key], student[key]
    return s / max(t, 1e-12) if lower else t / max(s, 1e-12)


def bisect(lo: float, hi: float, rounds: int, within: Callable[[float], bool]) -> list[tuple[float, bool]]:
    """Probe the midpoint `rounds` times, moving `lo` up on a probe within the budget and `hi` down on one
    outside it; returns the probes as (target, within)."""
    probes = []
    for _ in range(rounds):
        target = round((lo + hi) / 2, 4)
        ok = within(target)
        probes.append((target, ok))
        lo, hi = (target, hi) if ok else (lo, target)
    return probes


def search(base: RunConfig, out: str | Path, opts: SearchOptions = SearchOptions()) -> dict:
    """Run the search (see the module docstring); writes ``search.json``, ``pareto.md``, ``pareto.png`` and
    the chosen student's export (``chosen/``) under `out`."""
    from gancompress.api import compress
    from gancompress.io import atomic_write, write_json

    out = Path(out)
    results: dict[float, dict] = {}

    def within(target: float) -> bool:
        run = RunDir(out / f"sparsity-{round(target * 100, 2):g}")
        if run.is_finished():
            log.info(f"search: reusing the finished run {run.path}")
            metrics = run.metrics()
        else:
            resume = run.checkpoint.exists()
            cfg = replace(base, out=str(run.path), prune=replace(base.prune, target=target))
            metrics = compress(cfg, resume=resume)
        ratios = {k: worse_by(metrics["teacher"], metrics["student"], k) for k in opts.metrics}
        ok = all(r <= opts.max_ratio for r in ratios.values())
        results[target] = {"target": target, "run": str(run.path), "sparsity": metrics["student"].get("sparsity"),
                           "ratios": ratios, "ratio": max(ratios.values()), "within": ok}
        log.info(f"search: {target:.2%} -> worse by {max(ratios.values()):.3f} ({'within' if ok else 'over'} "
                 f"{opts.max_ratio:g})")
        return ok

    bisect(opts.min_sparsity, opts.max_sparsity, opts.rounds, within)
    points = _mark_pareto([_with_costs(results[t], opts) for t in sorted(results)])
    chosen = max((p for p in points if p["within"]), key=lambda p: p["target"], default=None)
    result = {"options": {**asdict(opts), "metrics": list(opts.metrics)}, "recipe": base.recipe,
              "granularity": base.prune.granularity, "points": points,
              "chosen": chosen and {"run": chosen["run"], "target": chosen["target"], "export": str(out / "chosen")}}
    if chosen:
        from gancompress.export.bundle import export_run

        export_run(chosen["run"], out / "chosen", ("safetensors", "onnx"), materialize_channels=True, force=True)
    write_json(out / "search.json", result)
    atomic_write(out / "pareto.md", lambda tmp: Path(tmp).write_text(pareto_table(result) + "\n"))
    from gancompress.report.plots import pareto_png

    png = pareto_png(points, opts.max_ratio, "/".join(opts.metrics))
    atomic_write(out / "pareto.png", lambda tmp: Path(tmp).write_bytes(png))
    return result


def _with_costs(point: dict, opts: SearchOptions) -> dict:
    """`point` plus its MAC reduction and torch speed-up over the teacher (summed over the generators)."""
    from gancompress.bench import BenchOptions, bench_run

    bench = bench_run(point["run"], opts=BenchOptions(backends=("torch",), repeats=opts.bench_repeats,
                                                      image_size=opts.image_size))
    rows = bench["rows"]
    total = lambda model, f: sum(f(r) for r in rows if r["model"] == model)  # noqa: E731
    macs = {m: total(m, lambda r: r["macs"]) for m in ("teacher", "student")}
    ms = {m: total(m, lambda r: r["torch"]["ms_median"]) for m in ("teacher", "student")}
    return {**point, "student_macs": macs["student"], "macs_reduction": round(macs["teacher"] / macs["student"], 3),
            "student_ms": round(ms["student"], 3), "speedup": round(ms["teacher"] / ms["student"], 3)}


def _mark_pareto(points: list[dict]) -> list[dict]:
    """Each point with ``pareto``: no other probe is both cheaper (fewer MACs) and better (lower ratio)."""
    return [{**p, "pareto": not any(q["student_macs"] < p["student_macs"] and q["ratio"] < p["ratio"]
                                    for q in points)} for p in points]


def pareto_table(result: dict) -> str:
    """Markdown: one line per probe (by sparsity), whether it is within the budget and on the Pareto front."""
    points, o = result["points"], result["options"]
    metric = "/".join(o["metrics"])
    lines = [f"| target sparsity | sparsity | MACs (M) | fewer MACs | torch speed-up | {metric} worse by | "
             f"within {o['max_ratio']:g} | Pareto |", "|---|---|---|---|---|---|---|---|"]
    for p in points:
        sparsity = "-" if p["sparsity"] is None else f"{p['sparsity']:.3f}"
        lines.append(f"| {p['target']:.2%} | {sparsity} | {p['student_macs'] / 1e6:.2f} | {p['macs_reduction']:.2f}x "
                     f"| {p['speedup']:.2f}x | {p['ratio']:.3f} | {'yes' if p['within'] else 'no'} "
                     f"| {'yes' if p['pareto'] else ''} |")
    chosen = result["chosen"]
    lines.append("")
    lines.append(f"chosen: {chosen['run']} (exported to {chosen['export']})" if chosen else
                 f"no probe stayed within {o['max_ratio']:g}: lower the sparsity range or raise --max-ratio")
    size = o["image_size"]
    lines.append(f"latency: torch, CPU, 1 thread, batch 1, {f'{size} px, ' if size else ''}"
                 f"{o['bench_repeats']} interleaved repeats; {result['recipe']}, {result['granularity']} pruning")
    return "\n".join(lines)
