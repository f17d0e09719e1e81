"""Wall time of one compression step vs one dense GAN training step, side by side.

Both techniques run on the same recipe, batch size and batches; their steps are
alternated so that machine noise hits both alike. Prints the median ratio.

    python benchmarks/step_cost.py [--config dcgan-digits] [--steps 600]

By default it times a whole compression run of the shipped config (the demo's
settings), so mask updates during the AGP ramp are counted at their real frequency.
"""
from __future__ import annotations

import statistics
from dataclasses import replace
import time

import click
import torch

from gancompress.api import _setup, recipe_for, shipped_teacher
from gancompress.config import load_config
from gancompress.techniques import get_technique
from gancompress.training.batches import StepBatcher


@click.command()
@click.option("--config", "config_name", default="dcgan-digits", show_default=True, help="Shipped config or YAML file.")
@click.option("--steps", default=None, type=int, help="Timed steps (default: the config's whole run).")
@click.option("--warmup", default=5, show_default=True)
@click.option("--every", default=None, type=int, help="Override prune.every (mask update period).")
def main(config_name, steps, warmup, every):
    torch.manual_seed(0)
    cfg = load_config(config_name, [f"prune.every={every}"] if every else [])
    steps = steps or cfg.train.steps - warmup
    cfg = replace(cfg, train=replace(cfg.train, steps=steps + warmup))
    recipe, every = cfg.recipe, cfg.prune.every
    teacher_dir = shipped_teacher(recipe)
    r = recipe_for(cfg, teacher_dir)
    device = torch.device("cpu")
    dense = get_technique("dense", _setup(cfg, r, device, None))
    method = get_technique("self-supervised", _setup(cfg, r, device, teacher_dir))
    batcher = StepBatcher(r.dataset("train"), cfg.train.batch_size, 0)
    times = {"dense": [], "self-supervised": []}
    for step in range(steps + warmup):
        batch = r.make_batch(batcher.items(step), torch.Generator().manual_seed(step))
        for name, tech in (("dense", dense), ("self-supervised", method)):
            start = time.perf_counter()
            tech.train_step(batch, step)
            if step >= warmup:
                times[name].append(time.perf_counter() - start)
    med = {k: statistics.median(v) * 1000 for k, v in times.items()}
    mean = {k: statistics.fmean(v) * 1000 for k, v in times.items()}
    print(f"recipe {recipe}, batch {cfg.train.batch_size}, {steps} timed steps, threads {torch.get_num_threads()}")
    print(f"dense GAN step:          {med['dense']:.1f} ms (median)")
    print(f"compression step:        {med['self-supervised']:.1f} ms (median; pruning masks every {every} step(s))")
    print(f"ratio compression/dense: {med['self-supervised'] / med['dense']:.2f}x (median), "
          f"{mean['self-supervised'] / mean['dense']:.2f}x (mean over the run)")


if __name__ == "__main__":
    main()
