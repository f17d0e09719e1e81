"""The channel-dependency graph of a network, traced once by torch-pruning.

A channel is *dead* when every filter producing it is all zero (filter pruning, or an
element-pruned filter that lost every weight). The graph knows the layers coupled to
each channel (norms, residual adds, U-Net concatenations, the next layers' inputs), so:

- the filter pruner ranks residual-coupled layers together (`coupled_layers`) and keeps
  at zero what a dead channel still emits (`emitters`: biases, a norm's scale, shift and
  mean), so the masked net computes what the materialised one will;
- ``export --materialize`` removes dead channels from every coupled layer at once (`prune`).

The graph is built on an eval-mode copy of the network with in-place activations off
(they hide the norm before them from tracing); `release` hands that copy back with
them on again (pix2pix's U-Net relies on one modifying its skip input). Dead channels
are read from whichever network with the same layer names is asked about, so a pruner
builds the graph once and reuses it at every mask update. Groups feeding a model output
and groups through a channel shuffle (SRGAN's PixelShuffle) are left alone; a layer keeps
at least one channel.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Mapping

import torch
from torch import nn

from gancompress.nets import Inputs, run
from gancompress.pruning.granularity import layer_kind, to_canonical
from gancompress.pruning.tp_adapter import dependency_graph

CONV = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)
NORMS = (nn.modules.batchnorm._BatchNorm, nn.modules.instancenorm._InstanceNorm)


def dead_filters(module: nn.Module) -> torch.Tensor:
    """Boolean (out,): output channels whose weights are all exactly zero."""
    canon = to_canonical(module.weight.detach(), layer_kind(module))
    return (canon != 0).flatten(1).sum(1) == 0


@dataclass
class Plan:
    """The dead channels of one channel group, and every layer they pass through."""

    root: nn.Module
    handler: Any
    dead: list[int]  # in the root layer's output channels
    members: list = field(default_factory=list)  # (module, its own indices of the dead channels, produces them?)


def _grad_leaf(x):
    """An input with a grad_fn of its own, so torch-pruning sees where it enters a concatenation."""
    if torch.is_tensor(x) and x.is_floating_point():
        return x.detach().clone().requires_grad_(True) * 1.0
    return x


def _mixes_channels(module) -> bool:
    """An op torch-pruning would wrongly map channel to channel (PixelShuffle folds 4 channels into 1)."""
    return "Shuffle" in str(getattr(module, "_grad_fn", ""))


MIXING_NORMS = (nn.GroupNorm, nn.LayerNorm, nn.LocalResponseNorm)


def _refuse_channel_mixing_norms(net: nn.Module, label: str = "") -> None:
    """Removing a channel a GroupNorm / LayerNorm normalises together with others changes the others'
    outputs, so no channel can be removed exactly: refuse up front, naming the layer."""
    for name, m in net.named_modules():
        if isinstance(m, MIXING_NORMS):
            raise ValueError(f"layer {label + name!r} is a {type(m).__name__}: it normalises channels together, so "
                             "removing channels (filter pruning, export --materialize) would change what the "
                             "others compute; prune with element or nm granularity instead")


class ChannelGraph:
    """The channel groups of `net` (not modified) on `inputs`, (args, kwargs) of one forward call;
    `label` prefixes layer names in errors (e.g. ``"G."``)."""

    def __init__(self, net: nn.Module, inputs: Inputs, label: str = ""):
        _refuse_channel_mixing_norms(net, label)
        self.net = copy.deepcopy(net).eval().requires_grad_(True)
        self._switched = [m for m in self.net.modules() if getattr(m, "inplace", False) is True]
        for m in self._switched:
            m.inplace = False
        args, kwargs = inputs
        traced = (tuple(_grad_leaf(a) for a in args), {k: _grad_leaf(v) for k, v in kwargs.items()})
        with torch.enable_grad():  # tracing follows autograd
            self.dg = dependency_graph(self.net, traced, forward_fn=lambda m, x: run(m, x))
        self.names = {m: n for n, m in self.net.named_modules()}
        self.groups = list(self.dg.get_all_groups(root_module_types=CONV))

    def release(self) -> nn.Module:
        """The traced copy, with its in-place activations back on (to silence or prune for real)."""
        for m in self._switched:
            m.inplace = True
        self._switched = []
        return self.net.requires_grad_(False)

    # -- structure --------------------------------------------------------------------------
    def _producers(self, group) -> list:
        return [i for i in group.items
                if isinstance(i.dep.target.module, CONV) and self.dg.is_out_channel_pruning_fn(i.dep.handler)]

    def coupled_layers(self) -> list[list[str]]:
        """Names of layers whose output channels are tied (summed by residual adds): each list can only
        lose a channel in all of its layers at once, so a filter pruner ranks and masks them together."""
        tied = []
        for group in self.groups:
            producers = [self.names[i.dep.target.module] for i in self._producers(group)]
            if len(producers) > 1:
                tied.append(sorted(set(producers)))
        return tied

    # -- dead channels ----------------------------------------------------------------------
    def plans(self, weights: nn.Module | None = None) -> list[Plan]:
        """One plan per channel group with dead channels, read from `weights` (a network with the same
        layer names; the traced copy by default)."""
        from torch_pruning import ops

        source = weights if weights is not None else self.net
        plans = []
        for group in self.groups:
            if any(item.dep.target.type == ops.OPTYPE.OUTPUT or _mixes_channels(item.dep.target.module)
                   for item in group.items):
                continue
            n = self.dg.get_out_channels(group[0].dep.target.module)
            alive = torch.zeros(n, dtype=torch.bool)
            for item in self._producers(group):
                dead = dead_filters(source.get_submodule(self.names[item.dep.target.module]))
                for idx, root in zip(item.idxs, item.root_idxs):
                    alive[root] |= ~dead[idx]
            dead = [int(i) for i in torch.nonzero(~alive).flatten()][: n - 1]  # a layer keeps one channel
            if not dead:
                continue
            plan = Plan(group[0].dep.target.module, group[0].dep.handler, dead)
            wanted = set(dead)
            for item in group.items:
                idxs = [i for i, r in zip(item.idxs, item.root_idxs) if r in wanted]
                plan.members.append((item.dep.target.module, idxs, self.dg.is_out_channel_pruning_fn(item.dep.handler)))
            plans.append(plan)
        return plans

    def emitters(self, weights: nn.Module | None = None, plans: list[Plan] | None = None
                 ) -> list[tuple[str, str, list[int]]]:
        """(module name, parameter or buffer name, channel indices) through which dead channels (of
        `plans`, else of `weights`) still emit a constant: their producers' bias, their norms' scale,
        shift and mean."""
        found = []
        for plan in plans if plans is not None else self.plans(weights):
            for module, idxs, produces in plan.members:
                if not idxs:
                    continue
                if isinstance(module, CONV) and produces and module.bias is not None:
                    found.append((self.names[module], "bias", idxs))
                elif isinstance(module, NORMS):
                    found += [(self.names[module], key, idxs) for key in ("weight", "bias", "running_mean")
                              if getattr(module, key, None) is not None]
        return found

    @torch.no_grad()
    def silence(self, net: nn.Module, plans: list[Plan] | None = None) -> None:
        """Zero, in `net` (the released copy or a network with the same names), what its dead channels
        (those of `plans`, else read from `net`) emit."""
        for name, key, idxs in self.emitters(net, plans):
            getattr(net.get_submodule(name), key)[idxs] = 0

    # -- removal ----------------------------------------------------------------------------
    def prune(self, plan: Plan) -> None:
        """Remove `plan`'s dead channels from the traced copy (InstanceNorm running statistics too)."""
        group = self.dg.get_pruning_group(plan.root, plan.handler, plan.dead)
        sliced = set()
        for item in group.items:
            norm = item.dep.target.module
            if isinstance(norm, nn.modules.instancenorm._InstanceNorm) and norm.track_running_stats \
                    and norm not in sliced:
                sliced.add(norm)
                keep = sorted(set(range(norm.num_features)) - set(item.idxs))
                norm.running_mean = norm.running_mean.data[keep]
                norm.running_var = norm.running_var.data[keep]
        group.prune()


def silenced_tensors(nets: Mapping[str, nn.Module], graphs: Mapping[str, ChannelGraph]
                     ) -> list[tuple[torch.Tensor, list[int]]]:
    """(tensor, channel indices) through which the dead channels of each of `nets` still emit a constant."""
    return [(getattr(nets[key].get_submodule(name), attr), idxs) for key, graph in graphs.items()
            for name, attr, idxs in graph.emitters(nets[key])]


def coupled_layers(net: nn.Module, inputs: Inputs) -> list[list[str]]:
    """`ChannelGraph.coupled_layers` of `net` on `inputs`, for a one-off question."""
    return ChannelGraph(net, inputs).coupled_layers()
