"""Training checkpoints: optimisers, masks, step and RNG state.

Written with ``torch.save`` to a temp file and renamed into place (the one replaced is
kept as ``*.prev.pt``), loaded only with ``weights_only=True``. Network weight files
are ground-floor I/O (`gancompress.io`).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

import torch

from gancompress.errors import CheckpointError
from gancompress.io import atomic_write


def previous_path(path: str | Path) -> Path:
    path = Path(path)
    return path.with_name(path.stem + ".prev" + path.suffix)


def save_training_state(state: Mapping[str, Any], path: str | Path) -> Path:
    """Atomically write a training checkpoint; the one it replaces is kept as ``*.prev.pt``."""
    path = Path(path)

    def write(tmp: str) -> None:
        torch.save(dict(state), tmp)
        if path.exists():
            os.replace(path, previous_path(path))

    return atomic_write(path, write)


def load_training_state(path: str | Path) -> dict[str, Any]:
    """Read a training checkpoint written by `save_training_state`; clear error if corrupt."""
    path = Path(path)
    prev = previous_path(path)
    if not path.exists() and prev.exists():  # killed between the two renames of a save
        path = prev
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint {str(path)!r} does not exist") from None
    except Exception as err:  # truncated zip, bad pickle opcode, refused global...
        kept = (f"; the previous checkpoint {str(prev)!r} is intact: move it onto {path.name} to resume from it"
                if prev.exists() and prev != path else "")
        raise CheckpointError(
            f"checkpoint {str(path)!r} is truncated or corrupt ({type(err).__name__}: "
            f"{str(err).splitlines()[0][:200]}){kept}"
        ) from None
