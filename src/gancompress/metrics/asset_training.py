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


def classifier_main(doc: str, train: Callable[[int, int], tuple[nn.Module, float]], epochs: int,
                    asset: Path) -> click.Command:
    """A click command: ``--seed``, ``--epochs``, ``--out``; trains, saves, prints the held-out accuracy."""

    @click.command(help=doc.splitlines()[0])
    @click.option("--seed", type=int, default=0, show_default=True)
    @click.option("--epochs", type=int, default=epochs, show_default=True)
    @click.option("--out", type=click.Path(path_type=Path), default=asset, show_default=True)
    def main(seed: int, epochs: int, out: Path) -> None:
        model, acc = train(seed, epochs)
        save_asset(model, out, {"seed": str(seed), "epochs": str(epochs), "test_accuracy": f"{acc:.4f}"})
        click.echo(f"held-out accuracy {acc:.4f}; written to {out}")

    return main
