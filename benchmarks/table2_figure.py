"""Table 2 as one picture: FID ratio (student / teacher) against sparsity, a panel per family, a line per
granularity and technique row (mean ± sample sd over seeds), the paper's element ratios as grey crosses.

    python benchmarks/table2_figure.py --out benchmarks/figures/table2.png \\
        --family dcgan-mnist=runs/sweep-mnist,runs/sweep-mnist-o --rows b,o \\
        --family cyclegan-photos=runs/sweep-cyclegan,runs/t1-cg-50s,runs/t1-cg-90s

Nothing is run: every finished run below the folders (a metrics.json beside its config.yaml, sweep cells
and `compare` rows alike) is one point. A run copied into two folders counts once (same granularity,
target, seed and row).
"""
from __future__ import annotations

import json
from pathlib import Path

import click
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import ticker  # noqa: E402

from gancompress.io import atomic_write, read_yaml  # noqa: E402
from gancompress.report.plots import errorbar_over_seeds  # noqa: E402

# the paper's Table 2, element sparsity 25 / 50 / 75 / 90% (FID ratio; SRGAN's is FID too)
PAPER = {"dcgan": (0.995, 1.005, 1.008, 1.019), "pix2pix": (1.015, 1.020, 1.147, 1.411),
         "cyclegan": (1.001, 1.003, 1.082, 1.123), "stargan": (1.032, 1.133, 1.098, 1.169),
         "srgan": (1.040, 1.134, 1.198, 1.254)}
PAPER_TARGETS = (0.25, 0.5, 0.75, 0.9)
COLOURS = {"b": "tab:blue", "o": "tab:green", "q": "tab:orange", "o+q": "tab:purple"}  # one per row in every panel


def row_of(cfg: dict) -> str:
    """Table 1's letter of a self-supervised run: o with an output distance, q undivided, else b."""
    if cfg["technique"] != "self-supervised":
        return cfg["technique"]
    options = cfg.get("technique_options") or {}
    if options.get("distill", 0) > 0:
        return "o" + ("+q" if options.get("normalise") is False else "")
    return "q" if options.get("normalise") is False else "b"


def collect(recipe: str, folders: list[Path], rows: set[str]) -> dict[tuple[str, str], dict[float, list[float]]]:
    """{(granularity, row): {target: [fid_ratio per seed]}} of `recipe`'s finished runs of `rows` below `folders`."""
    seen: set[tuple] = set()
    cells: dict[tuple[str, str], dict[float, list[float]]] = {}
    for folder in folders:
        for path in sorted(Path(folder).rglob("metrics.json")):
            if not (path.parent / "config.yaml").exists():
                continue
            cfg, metrics = read_yaml((path.parent / "config.yaml").read_text()), json.loads(path.read_text())
            row, prune = row_of(cfg), cfg["prune"]
            key = (prune["granularity"], prune["target"], cfg["train"]["seed"], row)
            if cfg["recipe"] != recipe or row not in rows or key in seen or metrics.get("fid_ratio") is None:
                continue
            seen.add(key)
            cells.setdefault((prune["granularity"], row), {}).setdefault(prune["target"], []).append(
                metrics["fid_ratio"])
    return cells


def draw(panels: dict[str, dict[tuple[str, str], dict[float, list[float]]]]) -> plt.Figure:
    fig, axes = plt.subplots(1, len(panels), figsize=(3.1 * len(panels), 3.5), squeeze=False)
    legend: dict[str, object] = {}
    for ax, (family, cells) in zip(axes[0], panels.items()):
        for (gran, row), by_target in sorted(cells.items()):
            line = errorbar_over_seeds(ax, by_target, fmt="o-" if gran == "element" else "s--",
                                       color=COLOURS.get(row), ms=4)
            legend.setdefault(f"{gran} ({row})", line)
        paper = PAPER.get(family.split("-")[0])
        if paper:
            legend.setdefault("the paper (element)", ax.plot([t * 100 for t in PAPER_TARGETS], paper, "x",
                                                             color="gray", ms=7)[0])
        ax.axhline(1.0, color="lightgray", lw=0.8)
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(ticker.FormatStrFormatter("%g"))
        ax.yaxis.set_minor_formatter(ticker.NullFormatter())
        ax.set_title(family, fontsize=9)
        ax.set_xlabel("sparsity (%)")
    axes[0][0].set_ylabel("FID ratio, student / teacher")
    labels = sorted(legend, key=lambda k: (k.startswith("the paper"), k))
    fig.legend([legend[k] for k in labels], labels, loc="lower center", ncol=len(legend), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig


@click.command()
@click.option("--family", "families", multiple=True, required=True, metavar="RECIPE=DIR[,DIR...]",
              help="A panel: the recipe and the folders holding its runs (repeatable).")
@click.option("--rows", default="b", show_default=True, help="Comma list of the technique rows to draw (b, o, q).")
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="The PNG to write.")
@click.option("--force", is_flag=True, help="Replace an existing --out.")
def main(families, rows, out, force):
    if Path(out).exists() and not force:
        raise click.ClickException(f"{out} exists; pass --force to replace it")
    panels = {}
    for spec in families:
        recipe, sep, dirs = spec.partition("=")
        if not sep or not dirs:
            raise click.BadParameter(f"{spec!r}: expected RECIPE=DIR[,DIR...]", param_hint="--family")
        folders = [Path(d) for d in dirs.split(",")]
        missing = [d for d in folders if not d.is_dir()]
        if missing:
            raise click.BadParameter(f"{missing[0]}: no such folder", param_hint="--family")
        panels[recipe] = collect(recipe, folders, set(rows.split(",")))
        if not panels[recipe]:
            raise click.ClickException(f"{recipe}: no finished run of rows {rows} below {dirs}")
    fig = draw(panels)
    atomic_write(out, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    click.echo(f"written {out}")


if __name__ == "__main__":
    main()
