"""Ground-floor helpers for calling networks: one forward call's inputs, and how to replay it.

Nothing here knows a GAN family: `example_inputs` only asks a recipe-like object for its
evaluation batches and watches which inputs its `generate` hands each generator.
"""
from __future__ import annotations

from functools import partial
from typing import Any

import torch
from torch import nn

Inputs = tuple[tuple, dict]  # (args, kwargs) of one forward call


def run(net: nn.Module, inputs: Inputs) -> Any:
    """``net(*args, **kwargs)`` on copies of the inputs (an in-place first activation would change them)."""
    args, kwargs = inputs
    copy_ = lambda x: x.clone() if torch.is_tensor(x) else x  # noqa: E731
    return net(*map(copy_, args), **{k: copy_(v) for k, v in kwargs.items()})


def example_inputs(recipe, gens: nn.ModuleDict, n: int = 2, seed: int = 0) -> dict[str, Inputs]:
    """The first (args, kwargs) each generator receives in ``recipe.generate`` on evaluation inputs."""
    return generator_inputs(recipe, gens, next(iter(recipe.eval_batches(n, seed=seed, batch_size=n))))


def generator_inputs(recipe, gens: nn.ModuleDict, batch: dict) -> dict[str, Inputs]:
    """The first (args, kwargs) each generator receives in ``recipe.generate(gens, batch)``."""
    device = next(gens.parameters()).device
    batch = {k: v.to(device) for k, v in batch.items()}
    seen: dict[str, Inputs] = {}

    def grab(key, module, args, kwargs):
        seen.setdefault(key, (tuple(args), dict(kwargs)))

    hooks = [net.register_forward_pre_hook(partial(grab, key), with_kwargs=True) for key, net in gens.items()]
    was = gens.training
    try:
        gens.eval()
        with torch.no_grad():
            recipe.generate(gens, batch)
    finally:
        gens.train(was)
        for h in hooks:
            h.remove()
    missing = [k for k in gens if k not in seen]
    if missing:
        raise ValueError(f"recipe {type(recipe).__name__}.generate never called generator(s) {missing}")
    return seen
