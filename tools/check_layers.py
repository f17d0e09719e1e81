"""Check that gancompress's modules import only downward (ARCHITECTURE.md) and form no cycle.

    python tools/check_layers.py          # prints the floor map and any violation; exit 1 on one

Every ``import`` counts, at module level or inside a function (a lazy import is still a
dependency). A module may import its own package freely (``pruning.pruner`` ->
``pruning.granularity``); any other import must go to a lower floor. Floors 0, 1, 6, 7 and
8 are ordered inside (``1.1`` below ``1.3``), so they read the same way.
"""
from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

PACKAGE = "gancompress"
SRC = Path(__file__).resolve().parent.parent / "src" / PACKAGE

# module or package (relative to gancompress) -> floor; the longest matching prefix wins
FLOORS: dict[str, float] = {
    # 0 ground: helpers that know no GAN family, no config and no torch-pruning
    "": 0.0, "registry": 0.0, "errors": 0.0, "seeds": 0.0, "nets": 0.0, "io": 0.1, "rundir": 0.2,
    # 1 the building blocks, in this order
    "data": 1.0, "pruning": 1.1, "metrics": 1.2, "config": 1.3, "report": 1.4,
    "recipes": 2.0,
    "techniques": 3.0,
    "training": 4.0,
    "export": 5.0,
    "api": 6.0,
    "pool": 6.5,  # many api runs at once, for the commands below
    # 7 the commands' libraries
    "compare": 7.0, "bench": 7.0, "sweep": 7.0, "evaluation": 7.0, "search": 7.1, "sensitivity": 7.1,
    # 8 the command line
    "cli_common": 8.0, "cli_deploy": 8.1, "cli": 8.2, "__main__": 8.3,
}


def module_name(path: Path, root: Path = SRC) -> str:
    """``src/gancompress/pruning/pruner.py`` -> ``pruning.pruner`` (a package's __init__ -> the package)."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def floor_of(module: str) -> float:
    parts = module.split(".") if module else []
    for n in range(len(parts), -1, -1):
        key = ".".join(parts[:n])
        if key in FLOORS:
            return FLOORS[key]
    raise KeyError(module)


def imports_of(path: Path, modules: set[str], root: Path = SRC) -> set[str]:
    """The gancompress modules `path` imports: ``from a import b`` is module ``a.b`` when there is one, else ``a``."""
    own = module_name(path, root)
    package = own.split(".") if path.name == "__init__.py" else own.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolved against this module's package
                base = ".".join([PACKAGE, *package[: len(package) - node.level + 1], *([base] if base else [])])
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}".removeprefix(PACKAGE + ".") in modules else base
                       for a in node.names]
        else:
            continue
        for name in targets:
            if name == PACKAGE or name.startswith(PACKAGE + "."):
                found.add(name.removeprefix(PACKAGE).lstrip("."))
    return {t for t in found if t in modules and t != own}


def import_graph(root: Path = SRC) -> dict[str, set[str]]:
    files = {module_name(p, root): p for p in sorted(root.rglob("*.py"))}
    modules = set(files)
    return {m: imports_of(p, modules, root) for m, p in files.items()}


def top(module: str) -> str:
    return module.split(".")[0]


def violations(graph: dict[str, set[str]]) -> list[str]:
    """Every upward or sideways import between packages, as 'a (floor) -> b (floor)'."""
    bad = []
    for source, targets in sorted(graph.items()):
        for target in sorted(targets):
            if top(source) == top(target) and source:
                continue  # same package
            if floor_of(target) >= floor_of(source):
                bad.append(f"{source or PACKAGE} ({floor_of(source):g}) -> {target} ({floor_of(target):g})")
    return bad


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def floor_map(graph: dict[str, set[str]]) -> str:
    by_floor: dict[float, list[str]] = defaultdict(list)
    for module in graph:
        by_floor[floor_of(module)].append(module or PACKAGE)
    return "\n".join(f"{f:>4g}  {', '.join(sorted(ms))}" for f, ms in sorted(by_floor.items()))


def main() -> int:
    graph = import_graph()
    print(floor_map(graph))
    print(f"\n{len(graph)} modules, {sum(map(len, graph.values()))} imports between them")
    bad, loops = violations(graph), cycles(graph)
    for line in bad:
        print(f"upward import: {line}")
    for loop in loops:
        print(f"import cycle: {' <-> '.join(loop)}")
    return 1 if bad or loops else 0


if __name__ == "__main__":
    sys.exit(main())
