"""The generic loop: batches, seeding, logging, checkpoints, evaluation, resume.

It knows nothing of any GAN family or technique: it calls ``technique.train_step``
and saves whatever ``technique.stateful()`` names.
"""
from __future__ import annotations

import contextlib
import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn
from tqdm.auto import tqdm

from gancompress.config import AMP_DTYPES, TrainConfig
from gancompress.recipes.base import Recipe
from gancompress.rundir import RunDir
from gancompress.errors import CheckpointError, NonFiniteLossError
from gancompress.techniques.base import Technique
from gancompress.training.averaging import WeightAverage
from gancompress.training.batches import StepBatcher, step_seed
from gancompress.training.distributed import (DistEnv, average_buffers, average_gradients_before_steps,
                                              average_scalars, barrier)
from gancompress.training.checkpoint import load_training_state, save_training_state

log = logging.getLogger("gancompress")


@dataclass
class LoopResult:
    steps_done: int
    last_logs: dict[str, float]
    history: list[dict[str, float]]


def _rng_state() -> dict[str, Any]:
    # Batches and noise are re-seeded every step (step_seed), so the global torch
    # generator is the only RNG state a run carries between steps.
    return {"torch": torch.get_rng_state()}


def _stateful(technique: Technique, average: WeightAverage | None) -> dict[str, Any]:
    objects = dict(technique.stateful())
    if technique.recipe.state_dict():  # recipe state, e.g. CycleGAN's image pools
        objects["recipe"] = technique.recipe
    if technique.scaler is not None:  # fp16 loss scale
        objects["grad_scaler"] = technique.scaler
    return {**objects, "weight_average": average} if average is not None else objects


def save_checkpoint(technique: Technique, step: int, path: Path, average: WeightAverage | None = None) -> None:
    """Everything needed to continue after `step` steps, written atomically."""
    state = {name: obj.state_dict() for name, obj in _stateful(technique, average).items()}
    save_training_state({"step": step, "state": state, "rng": _rng_state()}, path)


def load_checkpoint(technique: Technique, path: Path, average: WeightAverage | None = None) -> int:
    """Restore a technique from `path`; returns the number of steps already done."""
    ckpt = load_training_state(path)
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("state"), dict) or "step" not in ckpt:
        raise CheckpointError(f"checkpoint {str(path)!r} is not a gancompress training checkpoint "
                              f"(it holds a {type(ckpt).__name__})")
    objects = _stateful(technique, average)
    missing = sorted(set(objects) - set(ckpt.get("state", {})))
    if missing:
        raise CheckpointError(f"checkpoint {str(path)!r} has no state for {missing[0]!r}")
    for name, obj in objects.items():
        obj.load_state_dict(ckpt["state"][name])
    torch.set_rng_state(ckpt["rng"]["torch"])
    return int(ckpt["step"])


def lr_factor(step: int, steps: int, decay_start: float) -> float:
    """1 until ``decay_start * steps``, then linearly down to 1/n at the last of the n remaining steps."""
    start = math.floor(decay_start * steps)
    return 1.0 if step < start else (steps - step) / (steps - start)


def progress_terms(logs: dict[str, float], n: int = 3) -> dict[str, str]:
    """The first `n` logged terms that are not exactly zero, for the progress bar (a term that is zero by
    construction, such as DC/real when the critic scores the same real images for both, says nothing)."""
    return {k: f"{v:.3g}" for k, v in list((k, v) for k, v in logs.items() if v != 0)[:n]}


class Trainer:
    """Runs `technique` for ``cfg.steps`` steps on `recipe`'s training data."""

    def __init__(self, recipe: Recipe, technique: Technique, cfg: TrainConfig, out_dir: Path,
                 device: torch.device, env: DistEnv = DistEnv(),
                 on_eval: Callable[[int], dict[str, float]] | None = None):
        self.recipe, self.technique, self.cfg = recipe, technique, cfg
        self.out, self.device, self.env = Path(out_dir), device, env
        self.is_main = env.is_main
        self.on_eval = on_eval
        self.batcher = StepBatcher(recipe.dataset("train"), cfg.batch_size, cfg.seed, env.rank, env.world)
        objects = list(technique.stateful().values())
        self._modules = [o for o in objects if isinstance(o, nn.Module)]
        self._optimizers = [o for o in objects if isinstance(o, torch.optim.Optimizer)]
        if cfg.channels_last:  # in place: the optimisers keep their parameters
            for net in [*self._modules, technique.setup.teacher_gens, technique.setup.teacher_discs]:
                if net is not None:
                    net.to(memory_format=torch.channels_last)
        average_gradients_before_steps(self._optimizers, env)
        self.average = WeightAverage(technique.student, cfg.ema) if cfg.ema > 0 else None
        if cfg.amp == "fp16":  # float16 gradients underflow without loss scaling
            technique.scaler = torch.amp.GradScaler(device.type)

    @property
    def checkpoint_path(self) -> Path:
        return RunDir(self.out).checkpoint

    def batch(self, step: int) -> dict[str, torch.Tensor]:
        """This rank's share of global batch `step` (noise drawn for the global batch, then sharded)."""
        rng = torch.Generator().manual_seed(step_seed(self.cfg.seed, step, 2))
        batch = self.batcher.shard(self.recipe.make_batch(self.batcher.items(step), rng))
        if self.cfg.channels_last:
            return {k: v.to(self.device, memory_format=torch.channels_last) if v.dim() == 4 else v.to(self.device)
                    for k, v in batch.items()}
        return {k: v.to(self.device) for k, v in batch.items()}

    def run(self, resume: bool = False) -> LoopResult:
        cfg = self.cfg
        start = load_checkpoint(self.technique, self.checkpoint_path, self.average) if resume else 0
        if self.is_main:
            self._truncate_log(start)
        writer = self._writer()
        history: list[dict[str, float]] = []
        logs: dict[str, float] = {}
        quiet = {} if self.is_main else {"disable": True}  # leave TQDM_DISABLE=1 in charge on rank 0
        bar = tqdm(range(start, cfg.steps), initial=start, total=cfg.steps, **quiet,
                   desc=type(self.technique).__name__, dynamic_ncols=True, mininterval=1.0)
        for step in bar:
            torch.manual_seed(step_seed(cfg.seed, step, 100 + self.env.rank))
            self._set_learning_rates(step)
            try:
                with self._autocast():
                    raw = self.technique.train_step(self.batch(step), step)
                if self.technique.scaler is not None:
                    self.technique.scaler.update()
            except NonFiniteLossError as err:  # caught before the optimiser step: weights are intact
                raise NonFiniteLossError(err.term, err.value, step, self._kept_note()) from None
            average_buffers(self._modules, self.env)
            if self.average is not None:
                self.average.update()
            logs = {k: float(v) for k, v in average_scalars(raw, self.env).items()}
            self._check_finite(logs, step)
            done = step + 1
            if cfg.log_every and (done % cfg.log_every == 0 or done == cfg.steps):
                history.append({"step": done, **logs})
                self._log(writer, done, logs)
                bar.set_postfix(progress_terms(logs))
            if self.on_eval and self.is_main and cfg.eval_every and done % cfg.eval_every == 0 and done < cfg.steps:
                bar.set_description_str(f"{type(self.technique).__name__} (evaluating at step {done})")
                metrics = self.on_eval(done)
                bar.set_description_str(type(self.technique).__name__)
                history.append({"step": done, **{f"eval/{k}": v for k, v in metrics.items()}})
                self._log(writer, done, {f"eval/{k}": v for k, v in metrics.items()})
            if cfg.ckpt_every and done % cfg.ckpt_every == 0 and self.is_main:
                save_checkpoint(self.technique, done, self.checkpoint_path, self.average)
        saved_last = cfg.ckpt_every and cfg.steps % cfg.ckpt_every == 0 and start < cfg.steps
        if self.is_main and not saved_last:  # the raw weights, so a longer run can continue the same trajectory
            save_checkpoint(self.technique, cfg.steps, self.checkpoint_path, self.average)
        barrier(self.env)
        if self.average is not None:
            self.average.copy_into()
        if writer is not None:
            writer.close()
        return LoopResult(cfg.steps - start, logs, history)

    def _autocast(self):
        """Mixed precision for one training step, as ``train.amp`` asks (a no-op context when off)."""
        dtype = AMP_DTYPES[self.cfg.amp]
        return torch.autocast(self.device.type, dtype=getattr(torch, dtype), enabled=dtype is not None) \
            if dtype is not None else contextlib.nullcontext()

    def _set_learning_rates(self, step: int) -> None:
        """Every optimiser's rate times ``lr_factor`` (a function of the step alone, so resume-safe)."""
        factor = lr_factor(step, self.cfg.steps, self.cfg.lr_decay_start)
        for opt in self._optimizers:
            for group in opt.param_groups:
                group["lr"] = group.setdefault("initial_lr", group["lr"]) * factor

    def _check_finite(self, logs: dict[str, float], step: int) -> None:
        for name, value in logs.items():
            if not math.isfinite(value):
                raise NonFiniteLossError(name, value, step, self._kept_note())

    def _kept_note(self) -> str:
        return f"; the last good checkpoint is {self.checkpoint_path}" if self.checkpoint_path.exists() else ""

    def _truncate_log(self, start: int) -> None:
        """Forget log lines past the checkpoint we resume from (they will be redone)."""
        path = RunDir(self.out).log_file
        if not path.exists():
            return
        lines = [line for line in path.read_text().splitlines() if line.strip()]
        rows = []
        for n, line in enumerate(lines, start=1):
            try:
                rows.append((json.loads(line)["step"], line))
            except (ValueError, KeyError, TypeError):
                if n < len(lines):
                    raise CheckpointError(f"{str(path)!r} line {n} is not a log record; the log is damaged") from None
                log.warning(f"{path}: dropped a half-written last line (the run was killed while writing it)")
        kept = [line for step, line in rows if step <= start]
        path.write_text("".join(line + "\n" for line in kept))

    def _writer(self):
        if not self.is_main:
            return None
        from torch.utils.tensorboard import SummaryWriter

        return SummaryWriter(str(self.out / "tb"))

    def _log(self, writer, step: int, logs: dict[str, float]) -> None:
        if not self.is_main:
            return
        for name, value in logs.items():
            writer.add_scalar(name, value, step)
        with open(RunDir(self.out).log_file, "a") as f:
            f.write(json.dumps({"step": step, **logs}) + "\n")
