"""Recipes from outside the package: a Python file named on the command line, or an installed
package's ``gancompress.recipes`` entry point.

Either runs the user's own code (that is its purpose), so only name files you trust. A file
registers its recipe itself (``@RECIPES.register("my-gan")``); an entry point may instead
point at a Recipe subclass, registered under the entry point's name.
"""
from __future__ import annotations

import importlib.util
import sys
from importlib.metadata import entry_points
from pathlib import Path

from gancompress.recipes.base import RECIPES, Recipe

ENTRY_POINT_GROUP = "gancompress.recipes"
_loaded: dict[Path, list[str]] = {}  # a file runs once per process


def load_recipe_file(path: str | Path) -> list[str]:
    """Run the Python file at `path`; returns the names of the recipes it registered."""
    path = Path(path)
    if path.suffix != ".py" or not path.is_file():
        raise FileNotFoundError(f"recipe file {str(path)!r}: expected an existing .py file")
    if path.resolve() in _loaded:
        return _loaded[path.resolve()]
    before = set(RECIPES.names())
    name = f"gancompress_recipe_file_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look modules up by name
    try:
        spec.loader.exec_module(module)
    except SyntaxError as err:
        del sys.modules[name]
        raise ValueError(f"recipe file {str(path)!r}, line {err.lineno}: {err.msg}") from None
    except Exception as err:  # the user's code: whatever it raised, name the file it came from
        del sys.modules[name]
        raise ValueError(f"recipe file {str(path)!r} failed while loading: {type(err).__name__}: {err}") from None
    added = sorted(set(RECIPES.names()) - before)
    if not added:
        raise ValueError(f"recipe file {str(path)!r} registered no recipe (decorate a Recipe subclass with "
                         "@RECIPES.register('name'))")
    _loaded[path.resolve()] = added
    return added


def load_entry_points() -> list[str]:
    """Register the recipes of installed packages' ``gancompress.recipes`` entry points."""
    added = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        obj = ep.load()
        if isinstance(obj, type) and issubclass(obj, Recipe) and ep.name not in RECIPES:
            RECIPES.register(ep.name, obj)
        added.append(ep.name)
    return added
