"""The floors of ARCHITECTURE.md hold: every import goes down, and no import cycle exists."""
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("check_layers", ROOT / "tools" / "check_layers.py")
check_layers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check_layers)


def test_every_import_goes_down_and_nothing_cycles():
    graph = check_layers.import_graph()
    assert check_layers.violations(graph) == []
    assert check_layers.cycles(graph) == []


def test_every_module_has_a_floor_and_the_architecture_page_names_them():
    graph = check_layers.import_graph()
    page = (ROOT / "ARCHITECTURE.md").read_text()
    for module in graph:
        check_layers.floor_of(module)  # KeyError for a module on no floor
    for package in {m.split(".")[0] for m in graph if m and m != "__main__"}:
        assert f"`{package}`" in page, f"ARCHITECTURE.md does not place {package}"


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / "gancompress" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "gancompress"


def test_an_upward_import_and_a_cycle_are_caught(tmp_path):
    src = _tree(tmp_path, {
        "__init__.py": "", "pruning/__init__.py": "", "recipes/__init__.py": "",
        "pruning/pruner.py": "def f():\n    from gancompress.recipes.base import run\n",  # lazy, still counted
        "recipes/base.py": "from gancompress.pruning import pruner\n",
    })
    graph = check_layers.import_graph(src)
    assert check_layers.violations(graph) == ["pruning.pruner (1.1) -> recipes.base (2)"]
    assert check_layers.cycles(graph) == [["pruning.pruner", "recipes.base"]]
