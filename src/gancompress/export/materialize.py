"""Physically remove pruned channels: a smaller dense generator with the masked one's outputs.

A channel is *dead* when every filter producing it is all zero (filter pruning, or an
element-pruned filter that lost every weight). torch-pruning's dependency graph finds
the layers coupled to each channel (norms, residual adds, U-Net concatenations, the
next layers' inputs); dead channels are then removed from all of them at once.

A dead filter may still emit a constant (its bias, or a norm's shift ``beta``); such a
constant cannot be moved into the next layer exactly (zero padding and transposed
convolutions make its effect position-dependent), so ``silence_dead_channels`` sets it
to zero first and ``materialize`` reports how much that changed the output. Students pruned
through a technique have nothing to silence: their pruner keeps these constants at zero
during training (``dead_channel_emitters``).
Channels feeding a model output are never removed.

Around torch-pruning: in-place activations are switched off while tracing (they hide the
norm before them) and back on afterwards (pix2pix's U-Net relies on one modifying its
skip input); InstanceNorm running statistics are sliced too; concatenations with a raw
model input get their part sizes from the traced forward pass; groups through a
channel shuffle (SRGAN's PixelShuffle) are left alone. `materialize` checks the smaller
net against the silenced one on the example inputs and raises if they differ.

The result reloads without mask machinery from its weights plus ``channel_config``:
``resize_modules`` gives a freshly built generator the saved layer shapes.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from gancompress.pruning.granularity import layer_kind, to_canonical
from gancompress.recipes.base import Inputs, run

CONV = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)
NORMS = (nn.modules.batchnorm._BatchNorm, nn.modules.instancenorm._InstanceNorm)


# -- dead channels -------------------------------------------------------------------------
def dead_filters(module: nn.Module) -> torch.Tensor:
    """Boolean (out,): output channels whose weights are all exactly zero."""
    canon = to_canonical(module.weight.detach(), layer_kind(module))
    return (canon != 0).flatten(1).sum(1) == 0


def _prepared(net: nn.Module) -> tuple[nn.Module, list[nn.Module]]:
    """An eval-mode copy with in-place activations turned off (they hide norms from tracing).

    Returns the copy and the modules to switch back with `_restore`: a model may rely on
    an in-place side effect (pix2pix's U-Net concatenates an input its in-place LeakyReLU
    has already modified), and channel coupling is the same either way.
    """
    net = copy.deepcopy(net).eval().requires_grad_(True)
    switched = [m for m in net.modules() if getattr(m, "inplace", False) is True]
    for m in switched:
        m.inplace = False
    return net, switched


def _restore(net: nn.Module, switched: list[nn.Module]) -> nn.Module:
    for m in switched:
        m.inplace = True
    return net.requires_grad_(False)


def _instance_norm_pruner():
    """torch-pruning's InstanceNorm pruner, plus the running statistics it leaves out."""
    import torch_pruning as tp

    class InstanceNormPruner(tp.pruner.function.InstanceNormPruner):
        def prune_out_channels(self, layer, idxs):
            keep = sorted(set(range(layer.num_features)) - set(idxs))
            if layer.track_running_stats:
                layer.running_mean = layer.running_mean.data[keep]
                layer.running_var = layer.running_var.data[keep]
            return super().prune_out_channels(layer, idxs)

        prune_in_channels = prune_out_channels

    return InstanceNormPruner()


def _graph(net: nn.Module, inputs: Inputs):
    import torch_pruning as tp

    dg = tp.DependencyGraph()
    dg.REGISTERED_PRUNERS[tp.ops.OPTYPE.IN] = _instance_norm_pruner()  # also for InstanceNorm subclasses
    pruners = [p for p in dg.REGISTERED_PRUNERS.values() if p is not None]
    dg._in_channel_pruning_fn = {p.prune_in_channels for p in pruners}
    dg._out_channel_pruning_fn = {p.prune_out_channels for p in pruners}
    args, kwargs = inputs
    traced = (tuple(_grad_leaf(a) for a in args), {k: _grad_leaf(v) for k, v in kwargs.items()})
    cats = _CatSizes()
    trace = dg._trace

    def trace_with_cat_sizes(*a, **k):
        # torch-pruning infers a concatenation's part sizes from the layers producing them; a part
        # without one (a model input) breaks it. Give it the sizes the traced forward pass saw.
        with cats:
            module2node = trace(*a, **k)
        for node in module2node.values():
            sizes = cats.sizes_for(node.grad_fn) if node.type == tp.ops.OPTYPE.CONCAT else None
            if sizes is not None and len(sizes) == len(node.inputs):
                node.module.concat_sizes = sizes
        return module2node

    dg._trace = trace_with_cat_sizes
    return dg.build_dependency(net, example_inputs=traced, forward_fn=lambda m, x: run(m, x), verbose=False)


class _CatSizes(TorchFunctionMode):
    """Records the channel sizes of every torch.cat along dim 1, by the grad_fn of its result."""

    def __init__(self):
        super().__init__()
        self.seen: list[tuple[Any, list[int]]] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if func in (torch.cat, torch.concat, torch.concatenate) and torch.is_tensor(out) and out.grad_fn is not None:
            dim = kwargs.get("dim", args[1] if len(args) > 1 else 0)
            if dim % out.dim() == 1:
                self.seen.append((out.grad_fn, [int(t.shape[1]) for t in args[0]]))
        return out

    def sizes_for(self, grad_fn) -> list[int] | None:
        return next((sizes for g, sizes in self.seen if g is grad_fn), None)


def _grad_leaf(x):
    """An input with a grad_fn of its own, so torch-pruning sees where it enters a concatenation."""
    if torch.is_tensor(x) and x.is_floating_point():
        return x.detach().clone().requires_grad_(True) * 1.0
    return x


@dataclass
class _Plan:
    root: nn.Module
    handler: Any
    dead: list[int]  # in the root layer's output channels
    members: list = field(default_factory=list)  # (module, its own indices of the dead channels, produces them?)


def _plans(dg) -> list[_Plan]:
    """One plan per channel group with dead channels.

    Skipped: groups feeding a model output, and groups through a channel shuffle.
    """
    from torch_pruning import ops

    plans = []
    for group in dg.get_all_groups(root_module_types=CONV):
        if any(item.dep.target.type == ops.OPTYPE.OUTPUT or _mixes_channels(item.dep.target.module)
               for item in group.items):
            continue
        n = dg.get_out_channels(group[0].dep.target.module)
        alive = torch.zeros(n, dtype=torch.bool)
        for item in group.items:
            module = item.dep.target.module
            if isinstance(module, CONV) and dg.is_out_channel_pruning_fn(item.dep.handler):
                dead = dead_filters(module)
                for idx, root in zip(item.idxs, item.root_idxs):
                    alive[root] |= ~dead[idx]
        dead = [int(i) for i in torch.nonzero(~alive).flatten()][: n - 1]  # a layer keeps at least one channel
        if not dead:
            continue
        plan = _Plan(group[0].dep.target.module, group[0].dep.handler, dead)
        wanted = set(dead)
        for item in group.items:
            idxs = [i for i, r in zip(item.idxs, item.root_idxs) if r in wanted]
            plan.members.append((item.dep.target.module, idxs, dg.is_out_channel_pruning_fn(item.dep.handler)))
        plans.append(plan)
    return plans


def _mixes_channels(module) -> bool:
    """An op torch-pruning would wrongly map channel to channel (PixelShuffle folds 4 channels into 1)."""
    return "Shuffle" in str(getattr(module, "_grad_fn", ""))


def coupled_layers(net: nn.Module, inputs: Inputs) -> list[list[str]]:
    """Names of layers whose output channels are tied (summed by residual adds): each list can only
    lose a channel in all of its layers at once, so a filter pruner should rank and mask them together."""
    net, switched = _prepared(net)
    dg = _graph(net, inputs)
    names = {m: n for n, m in net.named_modules()}
    tied = []
    for group in dg.get_all_groups(root_module_types=CONV):
        producers = [names[i.dep.target.module] for i in group.items
                     if isinstance(i.dep.target.module, CONV) and dg.is_out_channel_pruning_fn(i.dep.handler)]
        if len(producers) > 1:
            tied.append(sorted(set(producers)))
    return tied


def _emitters(plan: _Plan) -> list[tuple[nn.Module, str, list[int]]]:
    """What a dead channel still emits through: its producers' bias, its norms' scale, shift and mean."""
    found = []
    for module, idxs, produces in plan.members:
        if not idxs:
            continue
        if isinstance(module, CONV) and produces and module.bias is not None:
            found.append((module, "bias", idxs))
        elif isinstance(module, NORMS):
            found += [(module, key, idxs) for key in ("weight", "bias", "running_mean")
                      if getattr(module, key, None) is not None]
    return found


@torch.no_grad()
def _silence(plan: _Plan) -> None:
    for module, key, idxs in _emitters(plan):
        getattr(module, key)[idxs] = 0


def dead_channel_emitters(net: nn.Module, inputs: Inputs) -> list[tuple[str, str, list[int]]]:
    """(module name, parameter or buffer name, channel indices) through which `net`'s dead channels
    still emit a constant; a pruner keeps them at zero so the masked net equals the materialised one."""
    traced, _ = _prepared(net)
    names = {m: n for n, m in traced.named_modules()}
    return [(names[module], key, idxs) for plan in _plans(_graph(traced, inputs))
            for module, key, idxs in _emitters(plan)]


def silence_dead_channels(net: nn.Module, inputs: Inputs) -> nn.Module:
    """A copy of `net` whose dead channels emit exactly zero (bias and norm shift/scale zeroed)."""
    net, switched = _prepared(net)
    for plan in _plans(_graph(net, inputs)):
        _silence(plan)
    return _restore(net, switched)


@dataclass
class Materialized:
    """A physically smaller generator and what it took to build it."""

    net: nn.Module
    removed: dict[str, int]  # layer name -> output channels removed
    deviation: float  # max |masked output - materialized output| on the example inputs
    params_before: int
    params_after: int


def materialize(net: nn.Module, inputs: Inputs, atol: float = 1e-4) -> Materialized:
    """Remove the dead channels of `net` (not modified); see the module docstring.

    Raises RuntimeError when the smaller net's output differs from the silenced net's by more
    than `atol` (relative to the output scale): channel coupling the graph did not capture.
    """
    small, switched = _prepared(net)
    dg = _graph(small, inputs)
    _restore(small, switched)
    names = {m: n for n, m in small.named_modules()}
    plans = _plans(dg)
    for plan in plans:
        _silence(plan)
    with torch.no_grad():
        reference = run(small, inputs)
    removed = {}
    for plan in plans:
        removed[names[plan.root]] = len(plan.dead)
        dg.get_pruning_group(plan.root, plan.handler, plan.dead).prune()
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
