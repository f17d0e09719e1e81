"""Element and filter pruning at 25/50/75/90% on the shipped DCGAN-digits teacher.

    python benchmarks/sweep_dcgan.py --out runs/sweep-dcgan [--steps 600]
"""
from __future__ import annotations

import click

from gancompress.config import load_config
from gancompress.sweep import sweep, sweep_table


@click.command()
@click.option("--out", default="runs/sweep-dcgan", show_default=True)
@click.option("--steps", type=int, default=None, help="Compression steps per run (default: the config's).")
@click.option("--granularities", default="element,filter", show_default=True)
@click.option("--sparsities", default="0.25,0.5,0.75,0.9", show_default=True)
@click.option("--filter-scope", default="layer", show_default=True,
              help="Pruning scope for filter granularity (element uses the config's, global).")
def main(out, steps, granularities, sparsities, filter_scope):
    """Uses the shipped configs/dcgan-digits.yaml (the demo's settings) for every run."""
    overrides = [f"train.steps={steps}"] if steps else []
    rows = sweep(load_config("dcgan-digits", overrides), granularities.split(","),
                 [float(s) for s in sparsities.split(",")], out, scopes={"filter": filter_scope})
    print(f"features: {rows[0]['features']}")
    print(sweep_table(rows, "fid"))
    print()
    print("class coverage / diversity ratio of the students:")
    for r in rows:
        s = r["student"]
        print(f"  {r['granularity']:>8} ({r['scope']}) {r['target']:.0%}: coverage {s.get('coverage', float('nan')):.2f}, "
              f"diversity {s.get('diversity', float('nan')):.3f}, sparsity {r['sparsity']:.3f}")


if __name__ == "__main__":
    main()
