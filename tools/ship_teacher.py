"""Copy a finished `gancompress train` run into the package as a shipped teacher.

    python tools/ship_teacher.py runs/teacher-dcgan-mnist dcgan-mnist [--fp16]

Writes src/gancompress/assets/teachers/NAME/: every network's weights (as float16 with --fp16: half the
size; the teacher's README quotes the scores of the shipped files, measured after this), recipe.yaml,
the run's config.yaml as train_config.yaml (how it was trained: tests/test_protocol.py reads its steps;
for a run started with `train --init`, the starting run's config as init_config.yaml) and samples.png. The README is written by hand.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import click
from safetensors.torch import load_file, save_file

from gancompress.io import read_yaml

TEACHERS = Path(__file__).resolve().parent.parent / "src" / "gancompress" / "assets" / "teachers"


@click.command()
@click.argument("run", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("name")
@click.option("--fp16", is_flag=True, help="Store the weights as float16.")
def main(run: Path, name: str, fp16: bool) -> None:
    out = TEACHERS / name
    out.mkdir(parents=True, exist_ok=True)
    nets = sorted(p for p in run.glob("*.safetensors") if not p.name.startswith(("student_", "trained_")))
    if not nets or not (run / "recipe.yaml").exists():
        raise click.ClickException(f"{run} is not a finished train run (no weights or recipe.yaml)")
    for path in nets:
        state = load_file(str(path))
        if fp16:
            state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
        save_file(state, str(out / path.name), metadata={"source": str(run), "dtype": "float16" if fp16 else "as trained"})
    shutil.copy(run / "recipe.yaml", out / "recipe.yaml")
    _copy_config(run, out / "train_config.yaml", "The training config of this teacher (the run's config.yaml)")
    init = read_yaml((run / "config.yaml").read_text()).get("init")
    if init:  # a warm-started run: its starting point's training counts too (tests/test_protocol.py)
        _copy_config(Path(init), out / "init_config.yaml",
                     f"The training config of the run this teacher started from (train --init {init})")
    if (run / "samples.png").exists():
        shutil.copy(run / "samples.png", out / "samples.png")
    click.echo(f"{', '.join(p.name for p in nets)} -> {out}")


def _copy_config(run: Path, path: Path, title: str) -> None:
    config = (run / "config.yaml").read_text().split("\n", 1)[1]  # without the run-folder mark
    path.write_text(f"# {title}\n{config}")


if __name__ == "__main__":
    main()
