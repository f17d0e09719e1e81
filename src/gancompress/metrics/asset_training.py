"""Command line of the scripts that retrain a shipped classifier (``python -m gancompress.metrics.<name>``)."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import click
from torch import nn


def save_asset(model: nn.Module, out: Path, metadata: dict[str, str]) -> None:
    """The model's weights as safetensors, with how they were made as metadata."""
    from safetensors.torch import save_file

    out.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(out), metadata=metadata)


def classifier_main(doc: str, train: Callable[..., tuple[nn.Module, float]], epochs: int,
                    asset: Path | None = None, assets: dict[str, Path] | None = None) -> click.Command:
    """A click command: ``--seed``, ``--epochs``, ``--out`` (and ``--dataset`` when `assets` names several
    datasets, each with its own shipped file); trains, saves, prints the held-out accuracy."""
    assets = assets or {"": asset}
    datasets = [name for name in assets if name]

    @click.command(help=doc.splitlines()[0])
    @click.option("--seed", type=int, default=0, show_default=True)
    @click.option("--epochs", type=int, default=epochs, show_default=True)
    @click.option("--dataset", type=click.Choice(datasets or [""]), default=next(iter(assets)), show_default=True,
                  hidden=not datasets)
    @click.option("--out", type=click.Path(path_type=Path), default=None, help="default: the shipped file")
    def main(seed: int, epochs: int, dataset: str, out: Path | None) -> None:
        out = out or assets[dataset]
        model, acc = train(seed, epochs, dataset=dataset) if dataset else train(seed, epochs)
        meta = {"seed": str(seed), "epochs": str(epochs), "test_accuracy": f"{acc:.4f}"}
        save_asset(model, out, meta | ({"dataset": dataset} if dataset else {}))
        click.echo(f"held-out accuracy {acc:.4f}; written to {out}")

    return main
