"""Plots for the report (matplotlib, Agg backend): loss terms beside FID, FID against sparsity."""
from __future__ import annotations

import io
import statistics
from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def curves_png(log: Sequence[dict], max_terms: int = 15) -> bytes | None:
    """One small panel per logged loss term, and the FID trajectory in the last panel (none when the run
    measured no FID on the way: the report says so in words instead of drawing an empty panel).

    Loss curves alone can look fine while images are bad (the paper's warning), so the
    FID measured during the run sits next to them.
    """
    terms = [k for k in dict.fromkeys(k for row in log for k in row) if k != "step" and not k.startswith("eval/")]
    terms = terms[:max_terms]
    fid = [(row["step"], row["eval/fid"]) for row in log if "eval/fid" in row]
    if not terms and not fid:
        return None
    n = len(terms) + bool(fid)
    cols = min(4, n)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.3 * rows), squeeze=False)
    flat = axes.flatten()
    for ax, name in zip(flat, terms):
        pts = [(row["step"], row[name]) for row in log if name in row]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], lw=1)
        ax.set_title(name, fontsize=9)
        ax.tick_params(labelsize=7)
    if fid:
        ax = flat[len(terms)]
        ax.plot([p[0] for p in fid], [p[1] for p in fid], "o-", color="crimson", lw=1.5, ms=3)
        ax.set_title("FID during the run", fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in flat[n:]:
        ax.axis("off")
    fig.tight_layout()
    return _png(fig)


def errorbar_over_seeds(ax, by_target: Mapping[float, Sequence[float]], **style):
    """One line against sparsity (%): each target's mean over seeds, its sample sd as the error bar where it
    has several seeds."""
    targets = sorted(by_target)
    return ax.errorbar([t * 100 for t in targets], [statistics.fmean(by_target[t]) for t in targets],
                       yerr=[statistics.stdev(by_target[t]) if len(by_target[t]) > 1 else 0.0 for t in targets],
                       capsize=3, **style)


def sweep_png(rows: Sequence[dict], metric: str = "fid") -> bytes:
    """Student `metric` against sparsity, one line per granularity (the mean over seeds, the sample standard
    deviation as error bars where a sparsity has several), the dense teacher as a dashed line."""
    fig, ax = plt.subplots(figsize=(5, 3.2))
    for gran in dict.fromkeys(r["granularity"] for r in rows):
        cells: dict[float, list[float]] = {}
        for r in rows:
            if r["granularity"] == gran:
                cells.setdefault(r["target"], []).append(r["student"][metric])
        seeds = max(len(v) for v in cells.values())
        errorbar_over_seeds(ax, cells, fmt="o-", label=gran + (f" (mean ± sd, {seeds} seeds)" if seeds > 1 else ""))
    ax.axhline(rows[0]["teacher"][metric], ls="--", color="gray", label="dense teacher")
    ax.set_xlabel("sparsity (%)")
    ax.set_ylabel(metric.upper())
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _png(fig)


def bar_png(values: dict[str, float], label: str) -> bytes:
    """A bar per technique (compare runs)."""
    fig, ax = plt.subplots(figsize=(max(4, 0.5 * len(values)), 3))
    ax.bar(list(values), list(values.values()), color="steelblue")
    ax.set_ylabel(label)
    fig.tight_layout()
    return _png(fig)


def pareto_png(points: Sequence[dict], max_ratio: float, metric: str = "fid") -> bytes:
    """Quality ratio against MAC reduction, one dot per student (labelled by sparsity), the budget dashed."""
    fig, ax = plt.subplots(figsize=(5, 3.2))
    for p in points:
        colour = "seagreen" if p["within"] else "crimson"
        ax.plot(p["macs_reduction"], p["ratio"], "o", color=colour)
        ax.annotate(f"{p['target']:.0%}", (p["macs_reduction"], p["ratio"]), fontsize=7,
                    xytext=(3, 3), textcoords="offset points")
    ax.axhline(max_ratio, ls="--", color="gray", label=f"budget {max_ratio:g}")
    ax.set_xlabel("fewer MACs than the teacher (x)")
    ax.set_ylabel(f"{metric} ratio (worse by)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _png(fig)


def sensitivity_png(curves: dict[str, dict[float, float]], allocation: dict[str, float]) -> bytes:
    """Left: each unit's output distortion against its pruned fraction (log scale). Right: the fraction
    allocated to each unit, in network order."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.4))
    for unit, curve in curves.items():
        ratios = sorted(curve)
        left.plot(ratios, [max(curve[r], 1e-6) for r in ratios], marker=".", lw=0.8, alpha=0.7)
    left.set_yscale("log")
    left.set_xlabel("filters pruned in that layer alone")
    left.set_ylabel("output distortion")
    names = list(allocation)
    right.bar(range(len(names)), [allocation[n] for n in names], color="steelblue")
    right.set_xticks(range(len(names)), [n.split("+")[0] for n in names], rotation=90, fontsize=5)
    right.set_ylabel("filters pruned (allocated)")
    right.set_ylim(0, 1)
    fig.tight_layout()
    return _png(fig)
