"""The pruner: masks over selected layers, updated on a schedule, kept through optimizer steps."""
from __future__ import annotations

from fnmatch import fnmatch
from typing import Callable, Iterable, Mapping

import torch
from torch import nn

from gancompress.pruning.config import PruneConfig
from gancompress.pruning.criteria import CRITERIA, score
from gancompress.pruning.granularity import GRANULARITIES, from_canonical, layer_kind, to_canonical
from gancompress.pruning.schedules import sparsity_at
from gancompress.nets import Inputs, run


def select_layers(model: nn.Module, cfg: PruneConfig) -> dict[str, nn.Module]:
    """Named layers the config prunes (kind in ``cfg.layers``, include/exclude patterns)."""
    chosen = {}
    for name, module in model.named_modules():
        kind = layer_kind(module)
        if kind not in cfg.layers:
            continue
        if cfg.include and not any(fnmatch(name, p) for p in cfg.include):
            continue
        if any(fnmatch(name, p) for p in cfg.exclude):
            continue
        chosen[name] = module
    if cfg.skip_first_last and len(chosen) > 2:
        names = list(chosen)
        chosen = {n: chosen[n] for n in names[1:-1]}
    if not chosen:
        raise ValueError(f"prune: no layer of kinds {list(cfg.layers)} matches include={list(cfg.include)} "
                         f"exclude={list(cfg.exclude)}; layer names look like {_example_names(model)}")
    return chosen


def _example_names(model: nn.Module) -> list[str]:
    return [n for n, m in model.named_modules() if layer_kind(m)][:4]


def _refuse_computed_weights(layers: Mapping[str, nn.Module]) -> None:
    """A layer whose weight is computed from another tensor (spectral norm, any parametrization) would
    overwrite its mask at the next forward pass: refuse it by name, before any training."""
    from torch.nn.utils import parametrize

    for name, m in layers.items():
        if hasattr(m, "weight_orig") or parametrize.is_parametrized(m, "weight"):
            raise ValueError(f"prune: layer {name!r} computes its weight (spectral norm or another "
                             "parametrization), so a mask on it would not hold; remove that first "
                             "(torch.nn.utils.remove_spectral_norm, or parametrize.remove_parametrizations) "
                             f"or leave the layer out (--set 'prune.exclude=[{name}]')")


def count_sparsity(tensors: Iterable[torch.Tensor]) -> float:
    """Fraction of exactly-zero entries over all `tensors`."""
    total = zeros = 0
    for t in tensors:
        total += t.numel()
        zeros += int((t == 0).sum())
    return zeros / total if total else 0.0


@torch.no_grad()
def output_layers(nets: nn.ModuleDict, inputs: Mapping[str, Inputs]) -> set[str]:
    """Names (as in ``nets.named_modules()``) of the last prunable layer each net runs on its
    `inputs` ((args, kwargs) per key): its output channels are the net's outputs (an image's
    colour channels), so filter pruning must not remove any of them."""
    names = {m: n for n, m in nets.named_modules() if layer_kind(m)}
    ran: list[str] = []
    hooks = [m.register_forward_hook(lambda mod, args, out: ran.append(names[mod])) for m in names]
    was = nets.training
    last = set()
    try:
        nets.eval()  # no running-stat updates
        for key, net_inputs in inputs.items():
            ran.clear()
            run(nets[key], net_inputs)
            last.update(ran[-1:])
    finally:
        nets.train(was)
        for h in hooks:
            h.remove()
    return last


def layer_targets(layers: Mapping[str, nn.Module], cfg: PruneConfig,
                  couple: Iterable[Iterable[str]] = ()) -> dict[str, float]:
    """Each selected layer's final sparsity: the first pattern of ``cfg.layer_targets`` its name matches,
    else ``cfg.target``. A pattern that matches no selected layer, or layers pruned together (`couple`)
    given different targets, is an error naming them."""
    targets = {}
    for name in layers:
        matched = next((p for p in cfg.layer_targets if fnmatch(name, p)), None)
        targets[name] = float(cfg.layer_targets[matched]) if matched is not None else cfg.target
    unused = [p for p in cfg.layer_targets if not any(fnmatch(n, p) for n in layers)]
    if unused:
        raise ValueError(f"prune.layer_targets: pattern {unused[0]!r} matches no pruned layer; "
                         f"layer names look like {list(layers)[:4]}")
    for group in couple:
        if len({targets[n] for n in group}) > 1:
            raise ValueError(f"prune.layer_targets: layers {list(group)} are pruned together (a residual add "
                             f"sums them) and need one target, got {[targets[n] for n in group]}")
    return targets


def _closest_count(n: int, size: int, goal: float) -> int:
    """How many of `n` groups of `size` weights come closest to `goal` weights (fewer on a tie)."""
    j0 = int(goal // size)
    candidates = range(max(0, j0 - 1), min(n, j0 + 1) + 1)
    return min(candidates, key=lambda j: (abs(float(j * size) - goal), j))


def _lowest_k(scores: torch.Tensor, k: int) -> torch.Tensor:
    """Boolean 'prune': the `k` lowest scores, ties broken by position (a stable sort's first k), by
    selecting the k-th value instead of sorting everything (54 M weights: seconds instead of half a minute)."""
    if k == 0:
        return torch.zeros_like(scores, dtype=torch.bool)
    threshold = scores.kthvalue(k).values
    prune = scores < threshold
    ties = torch.nonzero(scores == threshold).flatten()[: k - int(prune.sum())]
    prune[ties] = True
    return prune


def _lowest_groups(scores: torch.Tensor, size: int | torch.Tensor, goal: float) -> torch.Tensor:
    """Boolean 'prune' over groups: the lowest-scoring groups whose summed size is closest to `goal`.

    `size` is every group's size, or a tensor of per-group sizes (a global ranking of layers whose
    groups differ in size: filters, kernels)."""
    if isinstance(size, int):
        return _lowest_k(scores, _closest_count(scores.numel(), size, goal))
    sizes = size
    order = torch.argsort(scores, stable=True)
    cum = torch.cat([sizes.new_zeros(1), sizes[order].cumsum(0)])
    k = int(torch.argmin((cum.double() - goal).abs()))  # first minimum: fewer groups on ties
    prune = torch.zeros_like(scores, dtype=torch.bool)
    prune[order[:k]] = True
    return prune


class Pruner:
    """Masks the weights of the selected layers of `model`.

    ``step(i)`` moves the masks along the schedule; ``attach(opt)`` keeps pruned weights at
    exactly zero after every optimizer step and clears their optimizer state (Adam moments),
    so nothing revives them. For filter granularity:

    - `keep_filters` (layer names, e.g. from `output_layers`) keep all their filters: they
      produce the generator's output channels;
    - each group of `couple` (layers whose outputs residual adds sum) is ranked as one layer
      on its mean filter scores, so the same channels go from all of it and can be removed;
    - `silence` (called after each mask update) returns the (tensor, channel indices) through
      which dead channels still emit a constant (biases, norm shifts); they are kept at zero
      too, so the masked net computes what the materialised one will.
    """

    def __init__(self, model: nn.Module, cfg: PruneConfig, total_steps: int, keep_filters: Iterable[str] = (),
                 couple: Iterable[Iterable[str]] = (),
                 silence: Callable[[], list[tuple[torch.Tensor, list[int]]]] | None = None):
        self.cfg = cfg
        self.granularity = GRANULARITIES.get(cfg.granularity)
        self.total_steps = total_steps
        self.model = model  # context-aware criteria (norm-scale) look at neighbouring layers
        self.layers = select_layers(model, cfg)
        _refuse_computed_weights(self.layers)
        self.kinds = {name: layer_kind(m) for name, m in self.layers.items()}
        self.masks = {name: torch.ones_like(m.weight, dtype=torch.bool) for name, m in self.layers.items()}
        filters = self.granularity.whole_channels
        self.keep_filters = set(keep_filters) & set(self.layers) if filters else set()
        free = set(self.layers) - self.keep_filters
        self.couple = [tuple(g) for g in couple if len(set(g)) > 1 and set(g) <= free] if filters else []
        self.targets = layer_targets(self.layers, cfg, self.couple)
        self.level = 0.0
        self._hooks: list = []
        self._optimizers: list[torch.optim.Optimizer] = []
        self._keep: dict[str, torch.Tensor] = {}  # masks in the weights' dtype: a multiply per step, no cast
        self._silence, self.silenced = silence, []

    # -- schedule ---------------------------------------------------------------
    def scheduled(self, step: int) -> float:
        c = self.cfg
        if self.granularity.pattern:  # a fixed pattern, applied at `begin`
            return c.final_sparsity if step >= c.begin * self.total_steps else 0.0
        return sparsity_at(c.schedule, step, self.total_steps, c.initial, c.target, c.begin, c.end)

    def step(self, step: int) -> float:
        """Update masks if the schedule says so; returns the current sparsity level."""
        goal = self.scheduled(step)
        due = step % self.cfg.update_period(self.total_steps) == 0 or goal >= self.cfg.final_sparsity
        if due and goal > self.level:
            self.prune_now(goal)
        return self.level

    # -- masks ------------------------------------------------------------------
    @torch.no_grad()
    def prune_now(self, level: float) -> None:
        """Recompute masks at sparsity `level` (already-pruned weights stay pruned) and apply them."""
        c = self.cfg
        score_fn = CRITERIA.get(c.criterion_name)
        canon = {}
        for name, module in self.layers.items():
            s = score(score_fn, name, module, self.model).float().masked_fill(~self.masks[name], float("-inf"))
            canon[name] = to_canonical(s, self.kinds[name])
        if self.granularity.pattern:
            keep = {name: self.granularity.keep(s, c) & to_canonical(self.masks[name], self.kinds[name])
                    for name, s in canon.items()}
        else:
            keep = self._ranked_keep(canon, level)
        for name, k in keep.items():
            self.masks[name] = from_canonical(k, self.kinds[name]).contiguous()
        self.level = level
        self.apply_masks()
        self._find_silenced()

    def _find_silenced(self) -> None:
        with torch.enable_grad():  # tracing the dependency graph needs autograd
            self.silenced = self._silence() if self._silence is not None else []
        self._zero_silenced()

    def units(self) -> list[tuple[str, ...]]:
        """What is ranked as one layer: each coupled group, then every other layer (not `keep_filters`)."""
        tied = {n for g in self.couple for n in g}
        return self.couple + [(n,) for n in self.layers if n not in self.keep_filters and n not in tied]

    def _ranked_keep(self, canon: dict[str, torch.Tensor], level: float) -> dict[str, torch.Tensor]:
        gran = self.granularity
        units = self.units()
        # a unit (one layer, or a coupled group) is ranked as one layer: mean group scores, summed sizes
        groups = {u: torch.stack([gran.group_scores(canon[n]).flatten() for n in u]).mean(0) for u in units}
        sizes = {u: sum(gran.group_size(canon[n].shape) for n in u) for u in units}
        if self.cfg.scope == "global":
            scores = torch.cat([groups[u] for u in units])
            total = sum(sizes[u] * groups[u].numel() for u in units)
            size = sizes[units[0]] if len(set(sizes.values())) == 1 else torch.cat(
                [torch.full_like(groups[u], sizes[u], dtype=torch.long) for u in units])
            prune_all = _lowest_groups(scores, size, level * float(total)).split([groups[u].numel() for u in units])
            prune = dict(zip(units, prune_all))
            for u in units:  # every layer keeps its best group: a layer without filters would cut the net
                prune[u][groups[u].argmax()] = False
        else:  # each unit ramps to its own target (the config's, unless `layer_targets` names it)
            pace = level / self.cfg.target if self.cfg.target > 0 else 0.0
            prune = {u: _lowest_groups(g, sizes[u], pace * self.targets[u[0]] * float(sizes[u] * g.numel()))
                     for u, g in groups.items()}
        return {n: gran.expand(~prune[u], canon[n].shape) for u in units for n in u}

    @torch.no_grad()
    def set_masks(self, masks: Mapping[str, torch.Tensor]) -> None:
        """Use `masks` (layer name -> boolean keep mask; layers not named keep every weight) and apply them."""
        unknown = sorted(set(masks) - set(self.masks))
        if unknown:
            raise ValueError(f"no pruned layer {unknown[0]!r}")
        for name, mask in self.masks.items():
            self.masks[name] = masks[name].to(mask.device, torch.bool) if name in masks else torch.ones_like(mask)
        self.silenced = []  # the channels dead under the old masks need not be dead now
        self.apply_masks()
        self._find_silenced()

    def reset_masks(self) -> None:
        """Keep every weight again (the next `prune_now` ranks all of them, not only the survivors)."""
        for mask in self.masks.values():
            mask.fill_(True)
        self.silenced = []  # nothing is dead until the next `prune_now` finds it
        self._keep = {name: torch.ones_like(m.weight) for name, m in self.layers.items()}

    @torch.no_grad()
    def apply_masks(self) -> None:
        """Zero the pruned weights, and their optimizer state (Adam moments), after the masks changed."""
        self._keep = {name: self.masks[name].to(m.weight.dtype) for name, m in self.layers.items()}
        for name, module in self.layers.items():
            module.weight.mul_(self._keep[name])
            for opt in self._optimizers:
                for value in opt.state.get(module.weight, {}).values():
                    if torch.is_tensor(value) and value.shape == module.weight.shape:
                        value.mul_(self._keep[name].to(value.dtype))
        self._zero_silenced()

    @torch.no_grad()
    def _zero_silenced(self) -> None:
        for tensor, idxs in self.silenced:
            tensor[idxs] = 0

    # -- optimizer integration -------------------------------------------------
    def attach(self, optimizer: torch.optim.Optimizer) -> None:
        """Keep pruned weights at exactly zero through `optimizer`'s steps: their gradients are zeroed before
        each step (so their optimizer state, cleared whenever the masks change, stays clear and nothing
        revives them) and the weights are re-zeroed after it (for optimizers that move a weight without a
        gradient, e.g. weight decay)."""
        own = {id(p) for group in optimizer.param_groups for p in group["params"]}
        names = [name for name, m in self.layers.items() if id(m.weight) in own]
        self._optimizers.append(optimizer)
        self.apply_masks()

        @torch.no_grad()
        def before_step(opt, args, kwargs):
            for name in names:
                grad = self.layers[name].weight.grad
                if grad is not None:
                    grad.mul_(self._keep[name])

        @torch.no_grad()
        def after_step(opt, args, kwargs):
            for name in names:
                self.layers[name].weight.mul_(self._keep[name])
            self._zero_silenced()

        self._hooks += [optimizer.register_step_pre_hook(before_step), optimizer.register_step_post_hook(after_step)]

    def remove(self) -> None:
        for h in self._hooks:
            h.remove()
        self._hooks.clear()
        self._optimizers.clear()

    # -- state and reports --------------------------------------------------------
    def state_dict(self) -> dict:
        return {"level": torch.tensor(self.level, dtype=torch.float64),
                "masks": {n: m.clone() for n, m in self.masks.items()}}

    def load_state_dict(self, state: dict) -> None:
        missing = set(self.masks) - set(state["masks"])
        if missing:
            raise ValueError(f"pruner state lacks masks for {sorted(missing)}")
        for name, mask in state["masks"].items():
            if name not in self.masks:
                raise ValueError(f"pruner state has a mask for unknown layer {name!r}")
            self.masks[name] = mask.to(device=self.masks[name].device, dtype=torch.bool)
        self.level = float(state["level"])
        self.apply_masks()
        self._find_silenced()

    def sparsity(self) -> float:
        return count_sparsity(m.weight for m in self.layers.values())

    def report(self) -> list[dict]:
        """Per-layer rows: name, kind, shape, params, nonzero, sparsity."""
        rows = []
        for name, module in self.layers.items():
            w = module.weight
            nonzero = int((w != 0).sum())
            rows.append({"layer": name, "kind": self.kinds[name], "shape": list(w.shape), "params": w.numel(),
                         "nonzero": nonzero, "sparsity": round(1 - nonzero / w.numel(), 6)})
        return rows
