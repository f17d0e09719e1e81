"""A recipe's networks from files: a teacher folder (ours or a reference script's) or a run directory."""
from __future__ import annotations

from pathlib import Path

from torch import nn

from gancompress.errors import CheckpointError
from gancompress.io import load_into, load_state_dict_file
from gancompress.recipes.base import Recipe, get_recipe
from gancompress.rundir import STUDENT, RunDir

WEIGHT_SUFFIXES = (".safetensors", ".pth", ".pt", ".ckpt")


def find_weights(directory: Path, key: str, recipe: Recipe) -> Path:
    """The file holding network `key` in `directory`: ``{key}.safetensors`` or an alias."""
    names = [f"{key}{s}" for s in WEIGHT_SUFFIXES] + list(recipe.checkpoint_aliases.get(key, ()))
    for pattern in names:
        hits = sorted(directory.glob(pattern))
        if hits:
            return hits[-1]
    raise CheckpointError(f"no weights for network {key!r} in {str(directory)!r} (looked for: {', '.join(names)})")


def load_networks(nets: nn.ModuleDict, directory: Path, recipe: Recipe, prefix: str = "") -> nn.ModuleDict:
    """Load every network of `nets` from its file in `directory` (strictly: every key, every shape)."""
    for key, net in nets.items():
        path = find_weights(directory, prefix + key, recipe)
        load_into(net, load_state_dict_file(path), f"{path.name} ({key})")
    return nets


def recipe_of(run: RunDir, what: str = "a run") -> Recipe:
    """The recipe a run directory's ``recipe.yaml`` names, with the options saved there."""
    name, options = run.recipe_spec(what)
    return get_recipe(name, options)


def load_student(run_dir: str | Path) -> tuple[Recipe, nn.ModuleDict]:
    """The recipe and the student generator(s) a `compress` run wrote to `run_dir`."""
    run = RunDir(run_dir)
    recipe = recipe_of(run, "a compress run")
    return recipe, load_networks(recipe.build_generators(), run.path, recipe, prefix=STUDENT).eval()
