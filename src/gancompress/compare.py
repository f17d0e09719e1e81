"""`gancompress compare`: Table 1's techniques on one recipe, same budget, seed and inputs.

Each row of `techniques/table1.py` runs as an ordinary `compress` run in ``out/<id>/``
(finished runs are reused and a half-done one is resumed from its checkpoint, so an
interrupted comparison continues where it stopped);
row (a) is the dense teacher itself. Results go to ``out/compare.json``, a Markdown
table shaped like the paper's (``out/compare.md``) and one picture sheet with a row of
samples per technique on the same inputs (``out/compare.png``). With several seeds
(`compare_seeds`) each seed's comparison goes to ``out/seed-<s>/`` and ``out/compare.md``
holds every row's mean and sample standard deviation over the seeds. With ``jobs`` > 1 the
rows (of every seed) first run side by side in worker processes (`gancompress.pool`).
"""
from __future__ import annotations

import statistics
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from gancompress.config import RunConfig
from gancompress.metrics.result import Metrics, lower_is_better
from gancompress.pool import run_metrics, run_pending
from gancompress.rundir import RunDir
from gancompress.techniques.table1 import Row

# A qualitative flag from the numbers, relative to the dense teacher (row a):
COLLAPSE_COVERAGE_DROP = 0.15  # classes covered fall by more than this (absolute) ...
COLLAPSE_DIVERSITY = 0.75  # ... or diversity falls below this fraction of the teacher's
FAIL_RATIO, ARTIFACT_RATIO, LOSS_RATIO = 5.0, 1.5, 1.15  # FID ratios
CONTROL = "p"  # the row that trains the teacher the same budget without pruning


def qualitative_flag(metrics: dict[str, Any], dense: dict[str, Any]) -> str:
    """"mode collapse", "fails", "artifacts", "quality loss" (or several, or "-"), from coverage / diversity / FID."""
    flags = []
    cov, d_cov = metrics.get("coverage"), dense.get("coverage")
    div, d_div = metrics.get("diversity"), dense.get("diversity")
    if (cov is not None and d_cov is not None and cov < d_cov - COLLAPSE_COVERAGE_DROP) or \
            (div is not None and d_div and div < COLLAPSE_DIVERSITY * d_div):
        flags.append("mode collapse")
    ratio = metrics["fid"] / max(dense["fid"], 1e-12)
    if ratio >= FAIL_RATIO:
        flags.append(f"fails (FID x{ratio:.0f})")
    elif ratio >= ARTIFACT_RATIO:
        flags.append("artifacts")
    elif ratio >= LOSS_RATIO:
        flags.append("quality loss")
    return "; ".join(flags) or "-"


def row_config(base: RunConfig, row: Row, out: str | Path) -> RunConfig:
    """`base` set up for one trained row of Table 1, run in ``out/<row id>/``."""
    # the base config's options tune its own technique (the method's, for the shipped configs)
    options = {**base.technique_options, **row.options} if row.technique == base.technique else row.options
    return replace(base, technique=row.technique, technique_options=dict(options), out=str(Path(out) / row.id))


def compare(base: RunConfig, rows: list[Row], out: str | Path, jobs: int = 1) -> dict[str, dict]:
    """Run every row on `base` (recipe, teacher, prune target, steps, seed), `jobs` at a time; write the results."""
    from gancompress.api import evaluate, feature_net_for, load_student, load_teacher, resolve_device, write_json

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    run_pending([row_config(base, row, out) for row in rows if row.technique is not None], jobs, desc="techniques")
    device = resolve_device(base.train.device)
    recipe, teacher = load_teacher(base, device)
    feats = feature_net_for(recipe, base.inception)
    dense = evaluate(recipe, teacher, feats, base.train.eval_samples, device)
    results: dict[str, dict] = {}
    panels = {}
    for row in tqdm(rows, desc="techniques", unit="run"):
        columns = {"name": row.name, "technique": row.technique, "options": dict(row.options),
                   "teacher": row.teacher, "student_init": row.student, "pruning": row.pruning,
                   "disc": row.disc, "disc_trained": row.disc_trained, "losses": list(row.losses)}
        if row.technique is None:
            results[row.id] = {**columns, **_numbers(dense), "sparsity": 0.0, "features": feats.description}
            panels[row.id] = (recipe, teacher.cpu())
            continue
        cfg = row_config(base, row, out)
        metrics = run_metrics(cfg)
        student = metrics["student"]
        results[row.id] = {**columns, **_numbers(student), "sparsity": student["sparsity"],
                           "fid_ratio": metrics.get("fid_ratio"), "seconds": metrics.get("compress_seconds"),
                           "features": metrics["features"], "run": cfg.out}
        panels[row.id] = load_student(cfg.out)
    for entry in results.values():
        entry["flag"] = qualitative_flag(entry, dense)
        if CONTROL in results:  # compression's cost apart from what the same training does anyway
            entry["fid_to_control"] = entry["fid"] / max(results[CONTROL]["fid"], 1e-12)
    write_json(out / RunDir.COMPARE, results)
    (out / "compare.md").write_text(compare_table(results, base) + "\n")
    picture_sheet(panels, {k: f"({k}) FID {v['fid']:.4g}" for k, v in results.items()}, out / "compare.png")
    return results


def compare_seeds(base: RunConfig, rows: list[Row], out: str | Path, seeds: list[int],
                  jobs: int = 1) -> dict[str, dict]:
    """`compare` once per seed (in ``out/seed-<s>/``), then each row's mean and spread of every number."""
    from gancompress.api import write_json

    out = Path(out)
    bases = {s: replace(base, train=replace(base.train, seed=s)) for s in seeds}
    run_pending([row_config(bases[s], row, out / f"seed-{s}") for s in seeds for row in rows
                 if row.technique is not None], jobs, desc="techniques x seeds")
    runs = {s: compare(bases[s], rows, out / f"seed-{s}") for s in seeds}
    summary: dict[str, dict] = {}
    for rid, first in runs[seeds[0]].items():
        entries = [runs[s][rid] for s in seeds]
        keys = [k for k, v in first.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
                and all(isinstance(e.get(k), (int, float)) for e in entries)]
        summary[rid] = {"name": first["name"], "seeds": list(seeds),
                        **{k: statistics.fmean(e[k] for e in entries) for k in keys},
                        **{f"{k}_sd": statistics.stdev(e[k] for e in entries) if len(entries) > 1 else 0.0
                           for k in keys},
                        "flags": [e.get("flag", "-") for e in entries]}
    write_json(out / RunDir.COMPARE, {"seeds": list(seeds), "rows": summary})
    (out / "compare.md").write_text(seeds_table(summary, base, seeds) + "\n")
    return summary


def seeds_table(summary: dict[str, dict], base: RunConfig, seeds: list[int]) -> str:
    """Markdown: per row, mean ± sample standard deviation over the seeds of FID, the FID ratio and the
    family's other quality metrics, and the flags of the seeds' runs."""
    ratio = ["fid_ratio"] if any("fid_ratio" in r for r in summary.values()) else []  # row (a) has none
    metrics = quality_metrics(next(iter(summary.values()))) + ratio
    head = ["id", "technique", *metrics, "flags"]
    lines = [f"Recipe `{base.recipe}`, target sparsity {base.prune.final_sparsity:.0%} ({base.prune.granularity}), "
             f"{base.train.steps} steps; mean ± sample standard deviation over seeds {', '.join(map(str, seeds))}.",
             "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for rid, r in summary.items():
        cells = [rid, r["name"]] + [f"{r[m]:.4g} ± {r[m + '_sd']:.2g}" if m in r else "-" for m in metrics]
        lines.append("| " + " | ".join(cells + [", ".join(dict.fromkeys(r["flags"]))]) + " |")
    return "\n".join(lines)


def quality_metrics(row: dict) -> list[str]:
    """The quality metrics among `row`'s keys (FID first, then by name): those with a better direction,
    not their spreads (``kid_std``, ``*_sd``)."""
    keys = [k for k in row if not k.endswith("_sd") and "_std" not in k and lower_is_better(k) is not None]
    return sorted(keys, key=lambda k: (k != "fid", k))


def _numbers(metrics: dict) -> dict:
    return Metrics(metrics).numbers()


def compare_table(results: dict[str, dict], base: RunConfig) -> str:
    """Markdown shaped like the paper's Table 1: configuration columns, FID, the family's other quality
    metrics (PSNR, SSIM, coverage, domain accuracy, FID per direction, ...), a flag."""
    yes = {True: "yes", False: "no"}
    own_columns = ("fid", "fid_ratio", "fid_to_control")
    others = [k for k in quality_metrics(next(iter(results.values()))) if k not in own_columns]
    head = ["id", "technique", "G_O used", "student starts", "pruning", "D", "D trained", "student loss",
            "sparsity", "FID", "FID ratio", *([f"FID / ({CONTROL})"] if CONTROL in results else []),
            *others, "diversity", "flag"]
    lines = [f"Recipe `{base.recipe}`, target sparsity {base.prune.final_sparsity:.0%} "
             f"({base.prune.granularity}, {base.prune.scope} scope), {base.train.steps} steps, seed {base.train.seed}.",
             f"FID features: {next(iter(results.values()))['features']}.", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    dense_fid = results["a"]["fid"] if "a" in results else None
    for rid, r in results.items():
        ratio = r.get("fid_ratio") or (r["fid"] / dense_fid if dense_fid else None)
        cells = [rid, r["name"], yes[r["teacher"]], r["student_init"], r["pruning"], r["disc"],
                 yes[r["disc_trained"]] if r["disc"] != "none" else "-", " + ".join(r["losses"]) or "-",
                 f"{r['sparsity']:.3f}", f"{r['fid']:.4g}", "-" if ratio is None else f"{ratio:.3f}",
                 *([_fmt(r["fid_to_control"])] if CONTROL in results else []),
                 *[_fmt(r.get(k)) for k in others], _fmt(r.get("diversity")), r.get("flag", "-")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.3f}"


@torch.no_grad()
def picture_sheet(panels: dict[str, tuple], labels: dict[str, str], path: Path, n: int = 12) -> Path:
    """A row of `n` samples per technique, every row on the same evaluation inputs."""
    from gancompress.report.grid import grid_image, labelled_rows, save_png

    rows = []
    for key, (recipe, gens) in panels.items():
        batch = next(recipe.eval_batches(n, seed=7, batch_size=n))
        gens.eval()
        images = recipe.display(batch, recipe.generate(gens, batch))
        rows.append((labels[key], grid_image(images, nrow=images.shape[0], scale=2)))
    return save_png(labelled_rows(rows, label_w=120), path)
