"""Physically remove pruned channels: a smaller dense generator with the masked one's outputs.

The channel groups come from `gancompress.pruning.channel_graph` (the graph the filter
pruner uses too). A dead filter may still emit a constant (its bias, or a norm's shift
``beta``); such a constant cannot be moved into the next layer exactly (zero padding and
transposed convolutions make its effect position-dependent), so `silence_dead_channels`
sets it to zero first and `materialize` reports how much that changed the output.
Students pruned through a technique have nothing to silence: their pruner keeps these
constants at zero during training. Channels feeding a model output are never removed.
`materialize` checks the smaller net against the silenced one on the example inputs and
raises if they differ.

The result reloads without mask machinery from its weights plus ``channel_config``:
``resize_modules`` gives a freshly built generator the saved layer shapes.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from gancompress.nets import Inputs, run
from gancompress.pruning.channel_graph import NORMS, ChannelGraph


@dataclass
class Materialized:
    """A physically smaller generator and what it took to build it."""

    net: nn.Module
    removed: dict[str, int]  # layer name -> output channels removed
    deviation: float  # max |masked output - materialized output| on the example inputs
    params_before: int
    params_after: int


def silence_dead_channels(net: nn.Module, inputs: Inputs) -> nn.Module:
    """A copy of `net` whose dead channels emit exactly zero (bias and norm shift/scale zeroed)."""
    graph = ChannelGraph(net, inputs)
    small = graph.release()
    graph.silence(small)
    return small


def materialize(net: nn.Module, inputs: Inputs, atol: float = 1e-4, label: str = "") -> Materialized:
    """Remove the dead channels of `net` (not modified); see the module docstring.

    Raises RuntimeError when the smaller net's output differs from the silenced net's by more
    than `atol` (relative to the output scale): channel coupling the graph did not capture.
    """
    graph = ChannelGraph(net, inputs, label)
    small = graph.release()
    plans = graph.plans()
    graph.silence(small, plans)
    with torch.no_grad():
        reference = run(small, inputs)
    removed = {}
    for plan in plans:
        removed[graph.names[plan.root]] = len(plan.dead)
        graph.prune(plan)
    with torch.no_grad():
        result = run(small, inputs)
        error = _max_diff(reference, result)
        if error > atol * max(1.0, _max_abs(reference)):
            raise RuntimeError(f"materialize: removing channels changed the output by {error:.3g}; this network "
                               "couples channels in a way the dependency graph did not capture")
        was = net.training
        net.eval()
        try:
            deviation = _max_diff(run(net, inputs), result)
        finally:
            net.train(was)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    return Materialized(small, removed, deviation, count(net), count(small))


def _max_abs(x) -> float:
    if torch.is_tensor(x):
        return float(x.abs().max()) if x.numel() else 0.0
    values = x.values() if isinstance(x, dict) else x if isinstance(x, (tuple, list)) else ()
    return max((_max_abs(v) for v in values), default=0.0)


def _max_diff(a, b) -> float:
    if torch.is_tensor(a):
        return float((a.float() - b.float()).abs().max()) if a.numel() else 0.0
    if isinstance(a, dict):
        return max((_max_diff(a[k], b[k]) for k in a), default=0.0)
    if isinstance(a, (tuple, list)):
        return max((_max_diff(x, y) for x, y in zip(a, b)), default=0.0)
    return 0.0


# -- channel configuration: reload a materialized net without torch-pruning ------------------
def channel_config(net: nn.Module) -> dict[str, dict[str, int]]:
    """Per-layer channel counts of every conv, linear and norm layer."""
    config = {}
    for name, m in net.named_modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            config[name] = {"in": m.in_channels, "out": m.out_channels}
        elif isinstance(m, nn.Linear):
            config[name] = {"in": m.in_features, "out": m.out_features}
        elif isinstance(m, NORMS):
            config[name] = {"features": m.num_features}
    return config


def _resized(t: torch.Tensor | None, shape: tuple[int, ...]):
    if t is None:
        return None
    new = torch.zeros(shape, dtype=t.dtype, device=t.device)
    return nn.Parameter(new, requires_grad=t.requires_grad) if isinstance(t, nn.Parameter) else new


def resize_modules(net: nn.Module, config: dict[str, dict[str, int]]) -> nn.Module:
    """Give the layers of `net` (in place) the channel counts of `config`; weights become zeros to load into."""
    modules = dict(net.named_modules())
    unknown = sorted(set(config) - set(modules))
    if unknown:
        raise ValueError(f"channel config names layers this network lacks: {unknown[:3]}")
    for name, spec in config.items():
        m = modules[name]
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            cin, cout = spec["in"], spec["out"]
            shape = (cin, cout // m.groups) if m.transposed else (cout, cin // m.groups)
            m.in_channels, m.out_channels = cin, cout
            m.weight = _resized(m.weight, shape + tuple(m.kernel_size))
            m.bias = _resized(m.bias, (cout,))
        elif isinstance(m, nn.Linear):
            m.in_features, m.out_features = spec["in"], spec["out"]
            m.weight = _resized(m.weight, (spec["out"], spec["in"]))
            m.bias = _resized(m.bias, (spec["out"],))
        elif isinstance(m, NORMS):
            n = m.num_features = spec["features"]
            for key in ("weight", "bias", "running_mean", "running_var"):
                if getattr(m, key, None) is not None:
                    setattr(m, key, _resized(getattr(m, key), (n,)))
        else:
            raise ValueError(f"channel config entry {name!r} is a {type(m).__name__}, not a conv/linear/norm layer")
    return net
