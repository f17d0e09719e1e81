"""The run directory: which files a train, compress or export run writes, and how to read them back.

One type owns the layout, so the API, export, bench, compare, sweep and report agree on it:

- every run: ``config.yaml`` (the resolved config), ``recipe.yaml`` (recipe name and the
  options its generators were built with), ``metrics.json``, ``log.jsonl``, ``tb/``,
  ``checkpoint.pt`` (+ ``checkpoint.prev.pt``) for ``--resume``;
- ``train``: the networks as ``{key}.safetensors`` (``G``, ``D``, ...) and ``samples.png``;
- ``compress``: ``student_{key}.safetensors``, ``trained_{key}.safetensors`` (the
  discriminators it trained) and ``teacher_vs_student.png``; when the teacher came as a
  reference script's files (``netG_epoch_24.pth``, ``200000-G.ckpt``, ...), ``reference/``
  holds the student and trained discriminators under those very names, as torch state dicts;
- ``export``: ``recipe.yaml``, ``export.json`` and per generator ``student_{key}.safetensors``,
  ``.sparse.safetensors``, ``.onnx`` and, when materialised, ``.channels.json``;
- ``compare`` / ``sweep``: ``compare.json`` / ``sweep.json`` beside one run directory per row.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from gancompress.errors import CheckpointError
from gancompress.io import write_json, write_yaml

STUDENT, TRAINED = "student_", "trained_"  # file-name prefixes of a compress run's networks


def _file(name: str) -> property:
    return property(lambda self: self.path / name, doc=f"``{name}`` in the run directory")


class RunDir:
    """A run directory at `path` (nothing is created until something is written)."""

    CONFIG = "config.yaml"
    RECIPE = "recipe.yaml"
    METRICS = "metrics.json"
    LOG = "log.jsonl"
    CHECKPOINT = "checkpoint.pt"
    EXPORT = "export.json"
    COMPARE = "compare.json"
    SWEEP = "sweep.json"
    PICTURES = ("teacher_vs_student.png", "samples.png", "compare.png")

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    # -- files ------------------------------------------------------------------------
    config_file = _file(CONFIG)
    recipe_file = _file(RECIPE)
    metrics_file = _file(METRICS)
    log_file = _file(LOG)
    checkpoint = _file(CHECKPOINT)

    def student_file(self, key: str, suffix: str = ".safetensors") -> Path:
        """A student generator's file: ``student_{key}{suffix}`` (``.sparse.safetensors``, ``.onnx``, ...)."""
        return self.path / f"{STUDENT}{key}{suffix}"

    @property
    def reference_dir(self) -> Path:
        """The student in the teacher's own file names and format (see the module docstring)."""
        return self.path / "reference"

    def export_dir(self) -> "RunDir":
        """Where ``gancompress export`` writes by default."""
        return RunDir(self.path / "export")

    # -- contents ---------------------------------------------------------------------
    def has_recipe(self) -> bool:
        return self.recipe_file.exists()

    def recipe_spec(self, what: str = "a run") -> tuple[str, dict[str, Any]]:
        """(recipe name, options) from ``recipe.yaml``; `what` names the kind of directory in the error."""
        if not self.has_recipe():
            raise CheckpointError(f"{str(self.path)!r} has no {self.RECIPE}: not {what} directory")
        saved = yaml.safe_load(self.recipe_file.read_text())
        return saved.get("recipe"), saved.get("options", {})

    def write_recipe_spec(self, name: str, options: dict[str, Any]) -> Path:
        return write_yaml(self.recipe_file, {"recipe": name, "options": options})

    def write_config(self, data: dict[str, Any]) -> Path:
        return write_yaml(self.config_file, data)

    def is_finished(self) -> bool:
        """A run that wrote its metrics (compare and sweep reuse such runs)."""
        return self.metrics_file.exists()

    def metrics(self) -> dict[str, Any]:
        return json.loads(self.metrics_file.read_text())

    def write_metrics(self, metrics: dict[str, Any]) -> Path:
        return write_json(self.metrics_file, metrics)
