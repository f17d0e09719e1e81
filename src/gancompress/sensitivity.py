"""`gancompress sensitivity`: per-layer filter sparsity allocated by sensitivity, for a MAC goal.

Uniform filter pruning thins every layer alike, although some layers hold much more of
the output than others. Here each prunable unit (a layer, or layers a residual add ties
together) of the teacher is pruned alone, one-shot, at every ratio of a grid, and the
change of the generator's outputs on training inputs is measured (mean |pruned - dense|
over mean |dense|: the unit's *distortion* at that ratio). The allocation gives every unit
the largest ratio whose distortion stays under one common threshold, and the threshold is
bisected until the materialised generators need `macs_reduction` times fewer MACs than the
teacher at the image size. The result is a config (``prune.layer_targets``) that
``compress`` trains with any technique; the distortions are a one-shot proxy, not the FID
after training, so the config is measured like any other.
"""
from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from tqdm.auto import tqdm

from gancompress.config import RunConfig, to_dict
from gancompress.pruning.granularity import GRANULARITIES

log = logging.getLogger("gancompress")


@dataclass(frozen=True)
class SensitivityOptions:
    macs_reduction: float  # goal: this many times fewer MACs than the teacher
    ratios: tuple[float, ...] = (0.25, 0.5, 0.75, 0.85, 0.9, 0.95)  # filter fractions tried per unit
    samples: int = 16  # training inputs the distortion is measured on
    image_size: int | None = None  # MACs counted at this side (None: the recipe's)
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.macs_reduction > 1.0:
            raise ValueError(f"macs_reduction={self.macs_reduction}: must be > 1 (times fewer MACs)")
        if not self.ratios or any(not 0.0 < r < 1.0 for r in self.ratios) or list(self.ratios) != sorted(
                set(self.ratios)):
            raise ValueError(f"ratios={list(self.ratios)}: need increasing fractions in (0, 1)")
        if self.samples < 1:
            raise ValueError(f"samples={self.samples}: must be >= 1")


def unit_name(unit: tuple[str, ...]) -> str:
    return "+".join(unit)


def distortion(dense: dict[str, torch.Tensor], pruned: dict[str, torch.Tensor]) -> float:
    """Mean over outputs of mean |pruned - dense| / mean |dense|."""
    parts = [float((pruned[k] - v).abs().mean() / v.abs().mean().clamp_min(1e-12)) for k, v in dense.items()]
    return sum(parts) / len(parts)


def allocation_at(curves: dict[str, dict[float, float]], threshold: float) -> dict[str, float]:
    """Each unit's largest ratio whose distortion, and every smaller ratio's, stays <= `threshold` (else 0)."""
    alloc = {}
    for unit, curve in curves.items():
        chosen = 0.0
        for ratio in sorted(curve):
            if curve[ratio] > threshold:
                break
            chosen = ratio
        alloc[unit] = chosen
    return alloc


class _Probe:
    """The teacher's generators under a pruner: outputs and materialised MACs for any per-unit masks."""

    def __init__(self, base: RunConfig, opts: SensitivityOptions):
        from gancompress.api import load_teacher
        from gancompress.bench import at_image_size, count_macs
        from gancompress.export.quantize import calibration_inputs
        from gancompress.nets import example_inputs
        from gancompress.techniques.base import generator_pruner

        self.recipe, self.teacher = load_teacher(base)
        self.nets = copy.deepcopy(self.teacher).eval()
        self.weights = copy.deepcopy(self.nets.state_dict())
        cfg = replace(base.prune, scope="layer", schedule="oneshot", layer_targets={})
        self.pruner = generator_pruner(self.recipe, self.nets, cfg, total_steps=1)
        self.units = self.pruner.units()
        batches = calibration_inputs(self.recipe, self.nets, n_batches=1, batch_size=opts.samples, seed=opts.seed)
        self.inputs = {key: batches[key][0] for key in self.nets}
        small = example_inputs(self.recipe, self.nets, n=1)
        self.mac_inputs = {key: at_image_size(self.teacher[key], small[key], opts.image_size, key)
                           if opts.image_size else small[key] for key in small}
        self.dense = self.outputs()
        self.teacher_macs = sum(count_macs(self.teacher[k], self.mac_inputs[k]) for k in self.nets)

    @torch.no_grad()
    def outputs(self) -> dict[str, torch.Tensor]:
        from gancompress.nets import run

        outs = {}
        for key, net in self.nets.items():
            out = run(net, self.inputs[key])
            outs[key] = out[0] if isinstance(out, (tuple, list)) else out
        return outs

    def masks_at(self, ratio: float) -> dict[str, torch.Tensor]:
        """Every unit's keep-masks at `ratio` (each unit ranked on its own, as the layer scope does)."""
        self.restore()
        self.pruner.reset_masks()
        self.pruner.prune_now(ratio)
        masks = {name: mask.clone() for name, mask in self.pruner.masks.items()}
        self.restore()
        return masks

    def restore(self) -> None:
        self.nets.load_state_dict(self.weights)

    def apply(self, masks: dict[str, torch.Tensor]) -> None:
        self.restore()
        self.pruner.set_masks(masks)

    def macs(self, masks: dict[str, torch.Tensor]) -> int:
        from gancompress.bench import count_macs
        from gancompress.export.materialize import materialize

        self.apply(masks)
        total = sum(count_macs(materialize(self.nets[k], self.mac_inputs[k]).net, self.mac_inputs[k])
                    for k in self.nets)
        self.restore()
        return total


def _combined(units: list[tuple[str, ...]], alloc: dict[str, float],
              masks: dict[float, dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    return {layer: masks[alloc[unit_name(u)]][layer] for u in units for layer in u if alloc[unit_name(u)] > 0}


def sensitivity(base: RunConfig, out: str | Path, opts: SensitivityOptions) -> dict:
    """Measure every unit's distortion curve, allocate for the MAC goal, write the results to `out`."""
    from gancompress.io import write_json, write_yaml
    from gancompress.report.plots import sensitivity_png

    if not GRANULARITIES.get(base.prune.granularity).whole_channels:
        raise ValueError(f"prune.granularity={base.prune.granularity!r}: sensitivity allocates channel sparsity "
                         "for a MAC goal, so it needs a granularity that removes whole channels (filter)")
    out = Path(out)
    probe = _Probe(base, opts)
    masks = {r: probe.masks_at(r) for r in opts.ratios}
    curves: dict[str, dict[float, float]] = {unit_name(u): {} for u in probe.units}
    for unit in tqdm(probe.units, desc="layer sensitivity", unit="layer"):
        for ratio in opts.ratios:
            probe.apply({layer: masks[ratio][layer] for layer in unit})
            curves[unit_name(unit)][ratio] = distortion(probe.dense, probe.outputs())
    probe.restore()

    # the smallest common threshold whose allocation reaches the MAC goal (reduction grows with it)
    thresholds = sorted({d for curve in curves.values() for d in curve.values()})
    reduction = {}

    def reduction_at(i: int) -> float:
        if i not in reduction:
            reduction[i] = probe.teacher_macs / probe.macs(_combined(probe.units, allocation_at(curves, thresholds[i]),
                                                                     masks))
        return reduction[i]

    lo, hi = 0, len(thresholds) - 1
    if reduction_at(hi) < opts.macs_reduction:
        lo = hi  # unreachable on this grid: the most pruned allocation, said so below
    while lo < hi:
        mid = (lo + hi) // 2
        if reduction_at(mid) >= opts.macs_reduction:
            hi = mid
        else:
            lo = mid + 1
    threshold = thresholds[lo]
    alloc = allocation_at(curves, threshold)
    reached = reduction_at(lo) >= opts.macs_reduction
    if not reached:
        log.warning("sensitivity: %.1fx fewer MACs is beyond the ratios tried (every unit at its largest: %.1fx)",
                    opts.macs_reduction, reduction_at(lo))

    layer_targets = {layer: alloc[unit_name(u)] for u in probe.units for layer in u}
    prune = replace(base.prune, scope="layer", target=max(max(layer_targets.values()), opts.ratios[0]),
                    layer_targets=layer_targets)
    config = replace(base, prune=prune, out=str(out / "student"))
    result = {"recipe": base.recipe, "granularity": base.prune.granularity, "macs_goal": opts.macs_reduction,
              "reached": reached, "macs_reduction": reduction_at(lo), "teacher_macs": probe.teacher_macs,
              "threshold": threshold, "image_size": opts.image_size, "samples": opts.samples,
              "allocation": alloc, "distortion": {u: {str(r): d for r, d in c.items()} for u, c in curves.items()},
              "probes": {f"{thresholds[i]:.4g}": reduction[i] for i in sorted(reduction)}}
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "sensitivity.json", result)
    write_yaml(out / "config.yaml", to_dict(config),
               header=f"# per-layer filter sparsity from `gancompress sensitivity` (distortion threshold "
                      f"{threshold:.4g}): {reduction_at(lo):.1f}x fewer MACs than the teacher\n")
    (out / "sensitivity.png").write_bytes(sensitivity_png(curves, alloc))
    return result


def allocation_table(result: dict) -> str:
    """Markdown: per unit, its distortion at every ratio and the ratio allocated."""
    ratios = list(next(iter(result["distortion"].values())))
    head = ["layer", *[f"{float(r):.0%}" for r in ratios], "allocated"]
    lines = [f"Recipe `{result['recipe']}`, {result['granularity']} pruning: {result['macs_reduction']:.1f}x fewer "
             f"MACs (goal {result['macs_goal']:g}x{'' if result['reached'] else ', not reached'}), distortion "
             f"threshold {result['threshold']:.3g}.", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for unit, curve in result["distortion"].items():
        shown = unit.split("+")[0] + (f" (+{unit.count('+')} tied)" if "+" in unit else "")
        lines.append("| " + " | ".join([f"`{shown}`", *[f"{curve[r]:.3g}" for r in ratios],
                                        f"{result['allocation'][unit]:.0%}"]) + " |")
    return "\n".join(lines)

