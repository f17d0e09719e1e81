"""Run the gancompress CLI and SIGKILL it at one chosen point (``CRASH_AT=phase:step``); used by
tests/test_crash_table.py. Phases, at training step `step`:

- ``after-log``: its log line is written, its checkpoint is not;
- ``mid-log``: half of its log line is written;
- ``mid-checkpoint``: half of the checkpoint's temporary file is written;
- ``before-rename``: the temporary file is complete, not yet renamed onto checkpoint.pt;
- ``between-renames``: checkpoint.pt has become checkpoint.prev.pt, the new one is not in place;
- ``after-checkpoint``: the checkpoint is complete.
"""
import io
import json
import os
import signal
import sys

import torch

from gancompress.cli import main
from gancompress.rundir import RunDir
from gancompress.training import trainer

PHASE, STEP = os.environ["CRASH_AT"].split(":")
STEP = int(STEP)
saving = {"step": None}


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


original_log = trainer.Trainer._log


def _log(self, writer, step, logs):
    if PHASE == "mid-log" and step == STEP:
        line = json.dumps({"step": step, **logs}) + "\n"
        with open(RunDir(self.out).log_file, "a") as f:
            f.write(line[:len(line) // 2])
        die()
    original_log(self, writer, step, logs)
    if PHASE == "after-log" and step == STEP:
        die()


original_save_checkpoint = trainer.save_checkpoint


def save_checkpoint(technique, step, path, average=None):
    saving["step"] = step
    original_save_checkpoint(technique, step, path, average)
    saving["step"] = None
    if PHASE == "after-checkpoint" and step == STEP:
        die()


original_torch_save = torch.save


def torch_save(obj, f, *args, **kwargs):
    if PHASE == "mid-checkpoint" and saving["step"] == STEP:
        buffer = io.BytesIO()
        original_torch_save(obj, buffer, *args, **kwargs)
        with open(f, "wb") as out:
            out.write(buffer.getvalue()[:len(buffer.getvalue()) // 2])
        die()
    original_torch_save(obj, f, *args, **kwargs)


original_replace = os.replace


def replace(src, dst):
    moving_old_aside = str(dst).endswith(".prev.pt")
    if PHASE == "before-rename" and saving["step"] == STEP and not moving_old_aside:
        die()
    original_replace(src, dst)
    if PHASE == "between-renames" and saving["step"] == STEP and moving_old_aside:
        die()


trainer.Trainer._log = _log
trainer.save_checkpoint = save_checkpoint
torch.save = torch_save
os.replace = replace
sys.exit(main(sys.argv[1:], prog_name="gancompress"))
