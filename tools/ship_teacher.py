"""Copy a finished `gancompress train` run into the package as a shipped teacher.

    python tools/ship_teacher.py runs/teacher-dcgan-mnist dcgan-mnist [--fp16]

Writes src/gancompress/assets/teachers/NAME/: every network's weights (as float16 with --fp16: half the
size; the teacher's README quotes the scores of the shipped files, measured after this), recipe.yaml,
the run's config.yaml as train_config.yaml (how it was trained: tests/test_protocol.py reads its steps;
for a run started with `train --init`, the configs of the runs it started from as init_config_N.yaml) and
samples.png. The README is written by hand.
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
    nets = sorted(p for p in run.glob("*.safetensors") if not p.name.startswith(("student_", "trained_")))
    if not nets or not (run / "recipe.yaml").exists():
        raise click.ClickException(f"{run} is not a finished train run (no weights or recipe.yaml)")
    history = training_history(run)  # read first: the run may have started from the teacher it replaces
    out.mkdir(parents=True, exist_ok=True)
    for path in nets:
        state = load_file(str(path))
        if fp16:
            state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
        save_file(state, str(out / path.name), metadata={"source": str(run), "dtype": "float16" if fp16 else "as trained"})
    shutil.copy(run / "recipe.yaml", out / "recipe.yaml")
    for stale in out.glob("init_config_*.yaml"):
        stale.unlink()
    (out / "train_config.yaml").write_text(f"# The training config of this teacher (the run's config.yaml)\n{history[0]}")
    for n, text in enumerate(history[1:], 1):
        (out / f"init_config_{n}.yaml").write_text(
            f"# The training config of the run that {'this teacher' if n == 1 else f'init {n - 1}'} started from "
            f"(train --init)\n{text}")
    if (run / "samples.png").exists():
        shutil.copy(run / "samples.png", out / "samples.png")
    click.echo(f"{', '.join(p.name for p in nets)} -> {out}")


def _body(config: Path) -> str:
    return config.read_text().split("\n", 1)[1]  # without the first line (the run-folder mark or a title)


def training_history(run: Path) -> list[str]:
    """The config texts of `run` and of every run it started from (``train --init``), newest first."""
    texts, source, seen = [], run, set()
    while source is not None and source.resolve() not in seen:
        if not source.is_dir():
            raise click.ClickException(f"{run} started from {source} (train --init), which is not there: run this "
                                       "from the folder the training ran in")
        seen.add(source.resolve())
        if not (source / "config.yaml").exists():  # a shipped teacher trained further: its own history
            texts.append(_body(source / "train_config.yaml"))
            texts += [_body(p) for p in sorted(source.glob("init_config_*.yaml"))]
            break
        texts.append(_body(source / "config.yaml"))
        init = read_yaml(texts[-1]).get("init")
        source = Path(init) if init else None
    return texts


if __name__ == "__main__":
    main()
