"""Every command in README.md's bash blocks runs, in the order shown, as written, in a fresh folder.

The blocks run as one bash script (heredocs, `&&` and line continuations as a user's shell reads them)
with three stand-ins on PATH: `gancompress` runs this checkout's CLI and appends tiny settings to the
commands that take `--set` (a handful of steps and samples) and fewer rows, probes, repeats and samples
to compare, search, bench, evaluate and sensitivity (the commands and their order are what is tested, not the
quality); `pip` does nothing (this environment is installed already); `torchrun` says
that it needs CUDA GPUs and does nothing. The README's own test command is left out (it is this run).
"""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TEST_COMMAND = "python -m pytest"
TINY = ["train.steps=3", "train.batch_size=4", "train.eval_samples=16", "train.eval_every=0",
        "train.ckpt_every=0", "prune.every=1"]
TAKES_SET = ("train", "compress", "compare", "demo", "search")
SHORTER = {  # options appended (the last one given wins) to keep the long commands short
    "compare": ["--techniques", "a,b,g"],  # three of the seventeen rows
    "search": ["--rounds", "2"],
    "bench": ["--repeats", "3"],
    "evaluate": ["--samples", "64"],
    "sensitivity": ["--samples", "4"],
}

SHIM = f"""#!{sys.executable}
import sys
from gancompress.cli import main
args = sys.argv[1:]
command = next((a for a in args if not a.startswith("-") and a in {TAKES_SET + tuple(SHORTER)!r}), None)
if command in {TAKES_SET!r}:
    args += [x for s in {TINY!r} for x in ("--set", s)]
args += {SHORTER!r}.get(command, [])
sys.exit(main(args, prog_name="gancompress"))
"""


def readme_script() -> str:
    """The README's bash blocks in order, without the test command."""
    blocks = re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    lines = [line for block in blocks for line in block.splitlines() if TEST_COMMAND not in line]
    return "\n".join(lines) + "\n"


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_every_readme_command_runs_in_order(tmp_path):
    bin_dir, work = tmp_path / "bin", tmp_path / "work"
    bin_dir.mkdir()
    work.mkdir()
    (work / "examples").symlink_to(ROOT / "examples")
    for name, text in {"gancompress": SHIM,
                       "pip": "#!/bin/sh\necho 'pip: skipped (installed already)'\n",
                       "torchrun": "#!/bin/sh\necho 'torchrun: skipped (the command needs CUDA GPUs)'\n"}.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    script = "set -euo pipefail\nset -x\n" + readme_script()
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "TQDM_DISABLE": "1"}
    done = subprocess.run(["bash", "-c", script], cwd=work, env=env, capture_output=True, text=True, timeout=1500)
    assert done.returncode == 0, (done.stdout[-3000:], done.stderr[-6000:])
    assert (work / "runs" / "demo" / "metrics.json").exists()


def test_the_readme_opens_with_the_two_setup_commands():
    first = re.search(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), re.S).group(1)
    commands = [line for line in first.splitlines() if line.strip() and not line.startswith("#")]
    assert len(commands) == 2 and "gancompress demo" in commands[0] and commands[1].endswith(TEST_COMMAND)
