"""Element and filter pruning at 25/50/75/90% of a recipe's shipped teacher: the paper's Table 2 rows.

    python benchmarks/sweep.py --recipe dcgan-digits --out runs/sweep-dcgan [--steps 600]
    python benchmarks/sweep.py --recipe cyclegan-photos --out runs/sweep-cyclegan --jobs 4
    python benchmarks/sweep.py --recipe dcgan-mnist --seeds 0,1,2 --out runs/sweep-mnist   # Table 2's mean ± sd

Every run uses the recipe's shipped config (configs/<recipe>.yaml). One table per
FID-like metric (per direction for CycleGAN), plus PSNR for paired tasks and class
coverage / diversity where the recipe reports them.
"""
from __future__ import annotations

import click

from gancompress.cli_common import jobs_option, seeds_option, set_option
from gancompress.config import load_config
from gancompress.metrics.result import Metrics, base_metric
from gancompress.sweep import sweep, sweep_table

QUALITY = ("fid", "psnr", "ssim")


def quality_keys(teacher: dict) -> list[str]:
    """The teacher's FID-like keys (per direction first, then their mean) and PSNR/SSIM."""
    keys = [k for k in Metrics(teacher).numbers() if base_metric(k) in QUALITY]
    return sorted(keys, key=lambda k: (base_metric(k) != "fid", k == "fid", k))


@click.command()
@click.option("--recipe", default="dcgan-digits", show_default=True)
@click.option("--out", default=None, help="Sweep directory (default runs/sweep-<recipe>).")
@click.option("--steps", type=int, default=None, help="Compression steps per run (default: the config's).")
@click.option("--granularities", default="element,filter", show_default=True)
@click.option("--sparsities", default="0.25,0.5,0.75,0.9", show_default=True)
@seeds_option("Comma list of seeds, one run each (e.g. 0,1,2); cells give mean ± sd (default: the config's "
              "seed, one run per cell).")
@click.option("--filter-scope", default="layer", show_default=True,
              help="Pruning scope for filter granularity (element uses the config's).")
@jobs_option
@set_option
def main(recipe, out, steps, granularities, sparsities, seeds, filter_scope, jobs, sets):
    overrides = ([f"train.steps={steps}"] if steps else []) + list(sets)
    rows = sweep(load_config(recipe, overrides), granularities.split(","),
                 [float(s) for s in sparsities.split(",")], out or f"runs/sweep-{recipe}",
                 scopes={"filter": filter_scope}, jobs=jobs, seeds=seeds)
    print(f"features: {rows[0]['features']}")
    for key in quality_keys(rows[0]["teacher"]):
        print(f"\n{key} (student value and student/teacher ratio):")
        print(sweep_table(rows, key))
    extras = [k for k in ("coverage", "diversity") if k in rows[0]["student"]]
    if extras:
        print("\nstudents' " + " / ".join(extras) + ":")
        for r in rows:
            values = ", ".join(f"{k} {r['student'][k]:.3f}" for k in extras)
            print(f"  {r['granularity']:>8} ({r['scope']}) {r['target']:.0%}, seed {r['seed']}: {values}, "
                  f"sparsity {r['sparsity']:.3f}")


if __name__ == "__main__":
    main()
