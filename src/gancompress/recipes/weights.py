"""A recipe's networks from files: a teacher folder (ours or a reference script's) or a run directory.

Reference scripts save one file per network and epoch or iteration (``netG_epoch_24.pth``,
``200_net_G_A.pth``, ``200000-G.ckpt``): among the files of a network, ``latest_*`` wins,
then the highest number (compared as a number, not as text). A teacher may also be named
by one of its files: that file is used for its network, and the other networks take the
file of the same epoch or iteration when there is one.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

import torch
from torch import nn

from gancompress.errors import CheckpointError
from gancompress.io import load_into, load_state_dict_file, save_state_dict
from gancompress.recipes.base import Recipe, get_recipe
from gancompress.rundir import STUDENT, RunDir

WEIGHT_SUFFIXES = (".safetensors", ".pth", ".pt", ".ckpt")
LEGACY_NORM_KEYS = ("running_mean", "running_var", "num_batches_tracked")
log = logging.getLogger("gancompress")


@dataclass(frozen=True)
class WeightSource:
    """Where networks come from: a folder, and optionally one file in it the user named."""

    directory: Path
    named: Path | None = None

    @classmethod
    def of(cls, path: str | Path) -> "WeightSource":
        path = Path(path)
        return cls(path.parent, path) if path.is_file() else cls(path)


def _number(path: Path) -> int | None:
    numbers = re.findall(r"\d+", path.stem)
    return int(numbers[-1]) if numbers else None


def _recency(path: Path) -> tuple:
    """Sort key: ``latest_*`` after everything, then the last number in the name (epoch, iteration)."""
    number = _number(path)
    return path.stem.startswith("latest"), -1 if number is None else number, path.name


def weight_patterns(key: str, recipe: Recipe) -> list[str]:
    return [f"{key}{s}" for s in WEIGHT_SUFFIXES] + list(recipe.checkpoint_aliases.get(key, ()))


def find_weights(source: WeightSource | Path, key: str, recipe: Recipe) -> Path:
    """The file holding network `key`: the named file if it is one of `key`'s, else the first pattern
    with files, of those the latest (the named file's epoch or iteration when there is one)."""
    source = source if isinstance(source, WeightSource) else WeightSource(Path(source))
    patterns = weight_patterns(key, recipe)
    if source.named is not None and any(fnmatch(source.named.name, p) for p in patterns):
        return source.named
    for pattern in patterns:
        hits = sorted(source.directory.glob(pattern), key=_recency)
        if hits:
            wanted = _number(source.named) if source.named is not None else None
            same = [h for h in hits if wanted is not None and _number(h) == wanted]
            return (same or hits)[-1]
    raise CheckpointError(f"no weights for network {key!r} in {str(source.directory)!r} "
                          f"(looked for: {', '.join(patterns)})")


def without_legacy_norm_keys(net: nn.Module, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """`state` without the running statistics of InstanceNorm layers that keep none: checkpoints saved
    before InstanceNorm stopped tracking them hold these keys, and the reference's loader drops them too."""
    stateless = {name for name, m in net.named_modules()
                 if isinstance(m, nn.modules.instancenorm._InstanceNorm) and not m.track_running_stats}
    state = {k.removeprefix("module."): v for k, v in state.items()}
    return {k: v for k, v in state.items()
            if not (k.rpartition(".")[2] in LEGACY_NORM_KEYS and k.rpartition(".")[0] in stateless)}


def load_networks(nets: nn.ModuleDict, source: WeightSource | Path, recipe: Recipe, prefix: str = "",
                  what: str = "teacher", files: dict[str, Path] | None = None) -> nn.ModuleDict:
    """Load every network of `nets` from its file (strictly: every key, every shape), logging each file
    and recording it in `files` when given."""
    source = source if isinstance(source, WeightSource) else WeightSource(Path(source))
    for key, net in nets.items():
        path = find_weights(source, prefix + key, recipe)
        load_into(net, without_legacy_norm_keys(net, load_state_dict_file(path)), f"{path.name} ({key})")
        log.info(f"{what} {key}: {path}")
        if files is not None:
            files[key] = path
    return nets


def check_named(source: WeightSource, recipe: Recipe, keys: list[str]) -> None:
    """Raise when the file the user named is the weight file of none of `keys` (all the recipe's networks)."""
    if source.named is None:
        return
    patterns = {k: weight_patterns(k, recipe) for k in keys}
    if not any(fnmatch(source.named.name, p) for ps in patterns.values() for p in ps):
        raise CheckpointError(f"{str(source.named)!r} is not a weight file of recipe {type(recipe).__name__}'s "
                              f"networks; their names: {'; '.join(f'{k}: ' + ', '.join(ps) for k, ps in patterns.items())}")


def save_in_teacher_format(nets: nn.ModuleDict, teachers: nn.ModuleDict, teacher_files: dict[str, Path],
                           out: Path) -> dict[str, Path]:
    """Each network whose teacher (in `teachers`) came as a reference script's file (not our safetensors)
    and kept its shapes, saved under that file's name in `out` as a torch state dict: the user's unmodified
    reference model loads it with ``load_state_dict(torch.load(path))``. Returns the files written."""
    written = {}
    for key, net in nets.items():
        source = teacher_files.get(key)
        if source is None or source.suffix == ".safetensors" or key not in teachers:
            continue
        teacher_shapes = {k: tuple(v.shape) for k, v in teachers[key].state_dict().items()}
        state = net.state_dict()
        if any(teacher_shapes.get(k) != tuple(v.shape) for k, v in state.items()):
            log.info(f"{key}: the student's shapes differ from {source.name}'s; not written in its format")
            continue
        written[key] = save_state_dict(state, out / source.name)
    return written


def recipe_of(run: RunDir, what: str = "a run") -> Recipe:
    """The recipe a run directory's ``recipe.yaml`` names, with the options saved there."""
    name, options = run.recipe_spec(what)
    return get_recipe(name, options)


def load_student(run_dir: str | Path) -> tuple[Recipe, nn.ModuleDict]:
    """The recipe and the student generator(s) a `compress` run wrote to `run_dir`."""
    run = RunDir(run_dir)
    recipe = recipe_of(run, "a compress run")
    return recipe, load_networks(recipe.build_generators(), run.path, recipe, prefix=STUDENT, what="student").eval()
