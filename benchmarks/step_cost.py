"""Wall time of one compression step vs one dense GAN training step, side by side.

Both techniques run on the same recipe, batch size and batches; their steps are
alternated so that machine noise hits both alike. Prints the median ratio.

    python benchmarks/step_cost.py [--config dcgan-digits] [--steps 600]
    python benchmarks/step_cost.py --full-size pix2pix [--steps 6]     # unet_256, 256 px, batch 1
    python benchmarks/step_cost.py --full-size cyclegan [--steps 4]    # resnet_9blocks, 256 px

By default it times a whole compression run of the shipped config (the demo's
settings), so mask updates during the AGP ramp are counted at their real frequency.
``--full-size`` builds the reference's default networks, saves them as the reference's
script would (``latest_net_G.pth`` ...) with a few random images in its folder layout,
and compresses that teacher as a user would (50% element sparsity, the default pruning
settings for a run of ``--run-steps`` steps); a short window of steps is timed, and the
mask update is timed on its own and spread over its period ("amortised").
"""
from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import click
import numpy as np
import torch

from gancompress.api import _setup, recipe_for, shipped_teacher
from gancompress.config import load_config
from gancompress.techniques import get_technique
from gancompress.training.batches import StepBatcher

FULL_SIZE = {  # recipe -> (folder layout: paired A|B images or trainA/trainB, image size)
    "pix2pix": (True, 256),
    "cyclegan": (False, 256),
}


def _reference_teacher(recipe_name: str, root: Path) -> list[str]:
    """Random images in the reference's data layout and its default networks saved as its script does."""
    paired, size = FULL_SIZE[recipe_name]
    rng = np.random.default_rng(0)
    from PIL import Image

    for folder in (("train", "val", "test") if paired else ("trainA", "trainB", "testA", "testB")):
        (root / "data" / folder).mkdir(parents=True, exist_ok=True)
        for i in range(4):
            shape = (size, 2 * size if paired else size, 3)
            Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(root / "data" / folder / f"{i}.png")
    overrides = [f"recipe={recipe_name}", f"recipe_options.data_root={root / 'data'}"]
    recipe = recipe_for(load_config(None, overrides), None)
    (root / "teacher").mkdir()
    for key, net in {**recipe.build_generators(), **recipe.build_discriminators()}.items():
        torch.save(net.state_dict(), root / "teacher" / f"latest_net_{key}.pth")
    return overrides + [f"teacher={root / 'teacher'}"]


def time_steps(cfg, teacher_dir, steps: int, warmup: int) -> tuple[dict, object]:
    """Per-step seconds of dense training and of self-supervised compression, alternated (on
    ``train.device``, under ``train.amp``)."""
    r = recipe_for(cfg, teacher_dir)
    device = torch.device("cpu" if cfg.train.device == "auto" else cfg.train.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    dtype = {"off": None, "bf16": torch.bfloat16, "fp16": torch.float16}[cfg.train.amp]
    dense = get_technique("dense", _setup(cfg, r, device, None))
    method = get_technique("self-supervised", _setup(cfg, r, device, teacher_dir), cfg.technique_options)
    batcher = StepBatcher(r.dataset("train"), cfg.train.batch_size, 0)
    times = {"dense": [], "self-supervised": []}
    for step in range(steps + warmup):
        batch = {k: v.to(device) for k, v in r.make_batch(batcher.items(step), torch.Generator().manual_seed(step)).items()}
        for name, tech in (("dense", dense), ("self-supervised", method)):
            sync()
            start = time.perf_counter()
            with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                tech.train_step(batch, step)
            sync()
            if step >= warmup:
                times[name].append(time.perf_counter() - start)
    return times, method


@click.command()
@click.option("--config", "config_name", default="dcgan-digits", show_default=True, help="Shipped config or YAML file.")
@click.option("--steps", default=None, type=int, help="Timed steps (default: the config's whole run; full size: 6).")
@click.option("--warmup", default=None, type=int, help="Untimed first steps (default 5; full size: 1).")
@click.option("--every", default=None, type=int, help="Override prune.every (mask update period).")
@click.option("--full-size", type=click.Choice(sorted(FULL_SIZE)), help="The reference's default networks at 256 px.")
@click.option("--run-steps", default=2000, show_default=True, help="Full size: the compression run the pruning "
              "schedule is set for (its mask period is run-steps // 50 unless --every says otherwise).")
@click.option("--device", default="cpu", show_default=True, help="cpu | cuda")
@click.option("--amp", default="off", show_default=True, help="Mixed precision of the steps: off | bf16 | fp16.")
def main(config_name, steps, warmup, every, full_size, run_steps, device, amp):
    torch.manual_seed(0)
    extra = ([f"prune.every={every}"] if every else []) + [f"train.device={device}", f"train.amp={amp}"]
    with tempfile.TemporaryDirectory() as tmp:
        if full_size:
            overrides = _reference_teacher(full_size, Path(tmp)) + ["train.batch_size=1", f"train.steps={run_steps}"]
            cfg = load_config(None, overrides + extra)
            teacher_dir, steps, warmup = Path(cfg.teacher), steps or 6, 1 if warmup is None else warmup
        else:
            warmup = 5 if warmup is None else warmup
            cfg = load_config(config_name, extra)
            steps = steps or cfg.train.steps - warmup
            cfg = replace(cfg, train=replace(cfg.train, steps=steps + warmup))
            teacher_dir = shipped_teacher(cfg.recipe)
        times, method = time_steps(cfg, teacher_dir, steps, warmup)
        period = cfg.prune.update_period(cfg.train.steps)
        med = {k: statistics.median(v) * 1000 for k, v in times.items()}
        mean = {k: statistics.fmean(v) * 1000 for k, v in times.items()}
        params = sum(p.numel() for p in method.student.parameters())
        print(f"recipe {cfg.recipe}, {params / 1e6:.1f} M generator parameters, batch {cfg.train.batch_size}, "
              f"{steps} timed steps, {cfg.train.device}, amp {cfg.train.amp}, threads {torch.get_num_threads()}")
        print(f"dense GAN step:          {med['dense']:.1f} ms (median)")
        print(f"compression step:        {med['self-supervised']:.1f} ms (median; pruning masks every {period} step(s))")
        print(f"ratio compression/dense: {med['self-supervised'] / med['dense']:.2f}x (median), "
              f"{mean['self-supervised'] / mean['dense']:.2f}x (mean over the timed steps)")
        if full_size:
            start = time.perf_counter()
            method.pruner.prune_now(min(0.5, method.pruner.level + 0.01))
            mask_ms = (time.perf_counter() - start) * 1000
            amortised = med["self-supervised"] + mask_ms / period
            print(f"one mask update:         {mask_ms:.1f} ms, amortised over {period} steps: {mask_ms / period:.1f} ms")
            print(f"ratio with the masks:    {amortised / med['dense']:.2f}x (median step + amortised mask update)")


if __name__ == "__main__":
    main()
