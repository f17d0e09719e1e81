"""Our version of the paper's Table 3 (SRGAN): dense vs filter-pruned vs element-pruned at 50%,
PSNR (dB, Y channel) / SSIM / FID per evaluation set.

    python benchmarks/table3_srgan.py --out runs/table3-srgan [--recipe srgan-photos] [--steps 300]
    python benchmarks/table3_srgan.py --seeds 0,1,2 --out runs/sweep-srgan   # mean ± sd; reuses a sweep's runs
    python benchmarks/table3_srgan.py --recipe srgan-div2k --teacher DIR \\
        --set recipe_options.data_root=DIV2K --set 'recipe_options.eval_sets=[set5=Set5/HR, set14=Set14/HR]'
"""
from __future__ import annotations

import click

from gancompress.cli_common import seeds_option, set_option
from gancompress.config import default_config_for, load_config
from gancompress.sweep import mean_sd, sweep

GRANULARITIES = ("filter", "element")


def eval_set_names(metrics: dict) -> list[str]:
    """'' for a single evaluation set (keys psnr, ssim, fid), else the names in psnr_<set>."""
    return sorted({k.split("_", 1)[1] for k in metrics if k.startswith("psnr_")}) or [""]


def table3(rows: list[dict], default_name: str = "photos") -> str:
    """Markdown: one line per evaluation set; dense, filter 50%, element 50% as PSNR / SSIM / FID
    (students over several seeds: mean ± sd of each)."""
    teacher = rows[0]["teacher"]

    def cell(runs: list[dict], suffix: str) -> str:
        return " / ".join(mean_sd([m[key + suffix] for m in runs], digits)
                          for key, digits in (("psnr", 3), ("ssim", 4), ("fid", 2)))

    students = {g: [r["student"] for r in rows if r["granularity"] == g] for g in GRANULARITIES}
    seeds = len(students[GRANULARITIES[0]])
    lines = ["| data | dense | " + " | ".join(f"{g} {rows[0]['target']:.0%}" for g in GRANULARITIES) + " |",
             "|---|---|" + "---|" * len(GRANULARITIES)]
    for name in eval_set_names(teacher):
        suffix = f"_{name}" if name else ""
        cells = [cell([teacher], suffix)] + [cell(students[g], suffix) for g in GRANULARITIES]
        lines.append(f"| {name or default_name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + (f"\n\nStudents: mean ± sd over {seeds} seeds." if seeds > 1 else "")


@click.command()
@click.option("--recipe", default="srgan-photos", show_default=True)
@click.option("--teacher", default=None, help="Teacher directory (default: the shipped one).")
@click.option("--out", default="runs/table3-srgan", show_default=True)
@click.option("--steps", type=int, default=None, help="Compression steps per run (default: the config's).")
@click.option("--sparsity", type=float, default=0.5, show_default=True)
@click.option("--filter-scope", default="layer", show_default=True, help="Pruning scope for filter granularity.")
@seeds_option("Comma list of seeds, one run each per granularity (e.g. 0,1,2); students as mean ± sd "
              "(default: the config's seed).")
@set_option
def main(recipe, teacher, out, steps, sparsity, filter_scope, seeds, sets):
    """Runs the recipe's shipped config at `sparsity` for each granularity; reuses finished runs."""
    overrides = [f"recipe={recipe}", *([f"teacher={teacher}"] if teacher else []),
                 *([f"train.steps={steps}"] if steps else []), *sets]
    rows = sweep(load_config(default_config_for(recipe), overrides), GRANULARITIES, [sparsity], out,
                 scopes={"filter": filter_scope}, seeds=seeds)
    print(f"features: {rows[0]['features']}")
    print(table3(rows))
    for r in rows:
        psnr = {k: v for k, v in r["student"].items() if k.startswith("psnr")}
        print(f"  {r['granularity']:>8} ({r['scope']}), seed {r['seed']}: sparsity {r['sparsity']:.3f}, "
              + ", ".join(f"{k} {v:.3f}" for k, v in psnr.items()))


if __name__ == "__main__":
    main()
