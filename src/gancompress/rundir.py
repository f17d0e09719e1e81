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
import os
import socket
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import yaml

from gancompress.errors import CheckpointError
from gancompress.io import read_yaml, write_json, write_yaml

STUDENT, TRAINED = "student_", "trained_"  # file-name prefixes of a compress run's networks


def _file(name: str) -> property:
    return property(lambda self: self.path / name, doc=f"``{name}`` in the run directory")


def _read_lock(lock: Path) -> dict:
    try:
        data = json.loads(lock.read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):  # gone, or half-written by a process killed while taking it
        return {}


def _is_stale(holder: dict) -> bool:
    """The lock's process no longer runs (checked on this host only), or the lock is unreadable."""
    if not holder:
        return True
    if holder.get("host") != socket.gethostname():
        return False
    try:
        os.kill(int(holder["pid"]), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, KeyError, ValueError, TypeError):
        return False
    return False


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
    LOCK = ".lock"

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
        try:
            saved = read_yaml(self.recipe_file.read_text())
        except (yaml.YAMLError, UnicodeDecodeError) as err:
            raise CheckpointError(f"{str(self.recipe_file)!r} is not valid YAML: {str(err).splitlines()[0]}") from None
        if not isinstance(saved, dict) or not isinstance(saved.get("options", {}), dict):
            raise CheckpointError(f"{str(self.recipe_file)!r} must map recipe: NAME and options: {{...}}; "
                                  f"it holds {type(saved).__name__ if saved is not None else 'nothing'}")
        return saved.get("recipe"), saved.get("options", {})

    def write_recipe_spec(self, name: str, options: dict[str, Any]) -> Path:
        return write_yaml(self.recipe_file, {"recipe": name, "options": options})

    CONFIG_MARK = "# gancompress: the resolved config of the run in this folder\n"

    def write_config(self, data: dict[str, Any]) -> Path:
        return write_yaml(self.config_file, data, header=self.CONFIG_MARK)

    def foreign_files(self) -> list[str]:
        """Names in the folder that no run of ours wrote: everything but the lock, temporaries, a log and
        TensorBoard files of a run that died before its first checkpoint, and a config.yaml we wrote."""
        if not self.path.is_dir():
            return []
        ours = {self.LOCK, self.LOG, "tb"}
        return sorted(p.name for p in self.path.iterdir() if p.name not in ours and not p.name.endswith(".tmp")
                      and not (p == self.config_file and p.read_text(errors="replace").startswith(self.CONFIG_MARK)))

    # -- one run at a time --------------------------------------------------------------
    @contextmanager
    def locked(self, enabled: bool = True) -> Iterator["RunDir"]:
        """Hold the directory for this process (``.lock``: pid, host, start time). A second run on it fails
        at once, naming the holder; a lock whose process is gone (on this host) is taken over."""
        if not enabled:
            yield self
            return
        self.path.mkdir(parents=True, exist_ok=True)
        lock = self.path / self.LOCK
        mine = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%d %H:%M:%S")}
        for attempt in range(2):
            try:
                fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
                break
            except FileExistsError:
                holder = _read_lock(lock)
                if attempt == 0 and _is_stale(holder):
                    lock.unlink(missing_ok=True)
                    continue
                raise FileExistsError(f"{str(self.path)!r} is in use by process {holder.get('pid', '?')} on "
                                      f"{holder.get('host', '?')} (since {holder.get('since', '?')}); wait for it "
                                      f"to finish, or delete {str(lock)!r} if that process is gone") from None
        with os.fdopen(fd, "w") as f:
            json.dump(mine, f)
        try:
            yield self
        finally:
            if _read_lock(lock).get("pid") == mine["pid"]:
                lock.unlink(missing_ok=True)

    def remove_stale_temporaries(self) -> list[Path]:
        """Half-written files an earlier run left when it was killed (``.name.XXXX.tmp``); call it holding the lock."""
        stale = sorted(self.path.glob(".*.tmp"))
        for tmp in stale:
            tmp.unlink(missing_ok=True)
        return stale

    def is_finished(self) -> bool:
        """A run that wrote its metrics (compare and sweep reuse such runs)."""
        return self.metrics_file.exists()

    def metrics(self) -> dict[str, Any]:
        return json.loads(self.metrics_file.read_text())

    def write_metrics(self, metrics: dict[str, Any]) -> Path:
        return write_json(self.metrics_file, metrics)
