"""Self-supervised GAN compression (Yu & Pool), as stated in shared/METHOD.md.

The dense teacher G_O is frozen; the student G_C starts as its copy and is pruned on
the schedule while it trains. For the same batch, every generator term l_k and every
discriminator term m_j is computed for teacher and student outputs, and the student
minimises the normalised differences

    L_GC = sum_k w_k |l_k(G_O) - l_k(G_C)| / |l_k(G_O)|
    L_DC = sum_j v_j |m_j(G_O) - m_j(G_C)| / |m_j(G_O)|
    L    = L_GC + lambda * L_DC.

w_k and v_j are the recipe's original loss weights; the ``weights`` option overrides
some by logged name. A term whose teacher value is tiny (StarGAN's ``GC/cls``) turns
batch noise into a large normalised difference, which the abs form also follows when the
student is *better* than the teacher; ``form: one-sided`` penalises only the worse side.
``normalise: false`` (beyond the paper) drops the division: each term's difference stays in the
recipe's own loss scale, so a near-zero teacher term is not magnified thousands of times.

The pretrained discriminator keeps training with its original loss on real data vs
both the student's and the teacher's fakes (``freeze_d`` keeps it fixed instead).

Beyond the paper (Table 1's row (o)): ``distill`` > 0 adds that weight times an L1 (or
squared) distance between the student's and the teacher's outputs on the same inputs, the
term that made one-shot pruning + distillation beat the method on small teachers; the
critic and the loss terms still judge the student as above. ``distill_features`` > 0 adds that weight
times the distance of every pruned layer's output to the same layer's output in the teacher (each
divided by the teacher's variance there): a layer-by-layer target for the same-shaped sparse student.
Measured at 90% (benchmarks/README.md): it brings the inner layers closer to the teacher's but leaves
FID as it was on DCGAN-MNIST and StarGAN.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import torch

from gancompress.recipes.base import Batch, Terms, weighted_total
from gancompress.pruning.pruner import select_layers
from gancompress.techniques.base import (TECHNIQUES, Technique, distillation, feature_distance, finite,
                                         overridden_weights, recording, scalars, set_trainable)
from gancompress.techniques.memo import memoized


REDUCTIONS = ("sample", "batch", "pooled")
FORMS = ("abs", "squared", "one-sided")


@dataclass(frozen=True)
class SelfSupervisedOptions:
    lambda_dc: float = 0.5  # weight of L_DC
    # abs: |l_O - l_C| / |l_O|;  squared: (l_O - l_C)^2 / l_O^2;  one-sided: like abs, but only where the
    # student is worse than the teacher (its G terms higher, its D terms lower), not where it is better
    form: str = "abs"
    # sample: normalise per sample, then mean (as the StyleGAN2 code); batch: ratio of batch means;
    # pooled: per-sample differences over the teacher's mean magnitude (no near-zero per-sample divisors)
    reduction: str = "sample"
    normalise: bool = True  # divide by the teacher's magnitude (the paper); False: raw differences
    # per-term weights of L_GC / L_DC by logged name (e.g. {"GC/cls": 0.1}); others keep the recipe's
    weights: dict[str, float] = field(default_factory=dict)
    freeze_d: bool = False  # keep D_O fixed
    prune_d: bool = False  # prune D_O too, on the student's schedule (Table 1's technique (n))
    distill: float = 0.0  # weight of an output distance to the teacher (beyond the paper; row (o))
    distill_loss: str = "l1"  # l1 | mse
    distill_features: float = 0.0  # weight of the pruned layers' output distance to the teacher's (beyond the paper)
    eps: float = 1e-8

    def __post_init__(self) -> None:
        if self.lambda_dc < 0:
            raise ValueError(f"lambda_dc={self.lambda_dc}: must be >= 0")
        for name in ("distill", "distill_features"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}={getattr(self, name)}: must be >= 0")
        if self.distill_loss not in ("l1", "mse"):
            raise ValueError(f"distill_loss={self.distill_loss!r}: valid: l1, mse")
        if self.form not in FORMS:
            raise ValueError(f"form={self.form!r}: valid: {', '.join(FORMS)}")
        if self.reduction not in REDUCTIONS:
            raise ValueError(f"reduction={self.reduction!r}: valid: {', '.join(REDUCTIONS)}")
        for name, weight in self.weights.items():
            if not weight >= 0:
                raise ValueError(f"weights[{name!r}]={weight}: must be >= 0")


def consistency(teacher: Terms, student: Terms, weights: Mapping[str, float], form: str = "abs",
                reduction: str = "batch", eps: float = 1e-8, worse: float = 1.0,
                normalise: bool = True) -> tuple[torch.Tensor, Terms]:
    """Weighted sum of normalised teacher-student differences; also each term's value.

    Teacher values are treated as constants. ``worse`` is the sign of (student - teacher)
    when the student is worse: +1 for generator terms, -1 for the discriminator's (used by
    the one-sided form). ``normalise=False`` leaves the differences undivided.
    Returns (total, {term: (normalised) diff}).
    """
    parts: Terms = {}
    for name, s_val in student.items():
        t_val = teacher[name].detach()
        if reduction == "batch":
            t_val, s_val = t_val.mean(), s_val.mean()
        scale = t_val.abs().mean() if reduction == "pooled" else t_val.abs()
        gap = worse * (s_val - t_val)
        diff = gap.clamp(min=0) if form == "one-sided" else gap.abs()
        if normalise:
            diff = diff / (scale + eps)
        parts[name] = (diff**2 if form == "squared" else diff).mean()
    total = sum(weights.get(k, 1.0) * v for k, v in parts.items())
    return total, parts


@TECHNIQUES.register("self-supervised")
class SelfSupervisedCompression(Technique):
    """(b) in Table 1: pruned student supervised by the dense teacher and the trained D."""

    Options = SelfSupervisedOptions

    def __init__(self, setup, options=None):
        super().__init__(setup, options)
        if setup.teacher_discs is None:
            raise ValueError("self-supervised compression needs the teacher's discriminator(s)")
        self.teacher = setup.teacher_gens.eval().requires_grad_(False)
        self.gens = self.copy_of_teacher()
        self.discs = setup.teacher_discs.train()
        self.opt_g = self.adam(self.gens.parameters(), setup.lr_g)
        self.opt_d = self.adam(self.discs.parameters(), setup.lr_d)
        self.pruner = self.make_pruner(self.gens, self.opt_g)
        self.d_pruner = self.make_pruner(self.discs, self.opt_d, generators=False) if self.opt.prune_d else None
        weights = overridden_weights({"GC": self.recipe.g_weights, "DC": self.recipe.d_weights}, self.opt.weights)
        self.gc_weights, self.dc_weights = weights["GC"], weights["DC"]
        # the layers whose outputs distill_features compares (none: no hooks)
        tapped = self.opt.distill_features > 0
        self.t_taps = select_layers(self.teacher, setup.prune) if tapped else {}
        self.s_taps = select_layers(self.gens, setup.prune) if tapped else {}

    def train_step(self, batch: Batch, step: int) -> dict[str, torch.Tensor]:
        r, o = self.recipe, self.opt
        sparsity = self.pruner.step(step)
        if self.d_pruner is not None:
            self.d_pruner.step(step)
        with torch.no_grad(), recording(self.t_taps) as t_feats:
            t_out = r.generate(self.teacher, batch)
        with recording(self.s_taps) as s_feats:
            s_out = r.generate(self.gens, batch)

        # (1) student: match the teacher's generator and discriminator terms
        set_trainable(self.discs, False)
        with memoized(self.discs) as d:
            # t_out and the frozen D need no graph; gradient-penalty terms still need autograd
            g_t = {k: v.detach() for k, v in r.generator_terms(self.teacher, d, batch, t_out).items()}
            d_t = {k: v.detach() for k, v in r.discriminator_terms(d, batch, t_out).items()}
            g_s = finite("G", r.generator_terms(self.gens, d, batch, s_out))
            d_s = finite("DC", r.discriminator_terms(d, batch, s_out))
        l_gc, gc_parts = consistency(g_t, g_s, self.gc_weights, o.form, o.reduction, o.eps, normalise=o.normalise)
        l_dc, dc_parts = consistency(d_t, d_s, self.dc_weights, o.form, o.reduction, o.eps, worse=-1.0,
                                     normalise=o.normalise)
        loss = l_gc + o.lambda_dc * l_dc
        extra = {}
        if o.distill > 0:
            extra["loss/distill"] = distillation(t_out, s_out, o.distill_loss)
            loss = loss + o.distill * extra["loss/distill"]
        if o.distill_features > 0:
            extra["loss/features"] = feature_distance(t_feats, s_feats, o.eps)
            loss = loss + o.distill_features * extra["loss/features"]
        self.opt_g.zero_grad(set_to_none=True)
        self.backward(loss)
        self.optimizer_step(self.opt_g)

        logs = {**scalars("G", g_s), **scalars("GC", gc_parts), **scalars("DC", dc_parts),
                "loss/L_GC": l_gc.detach(), "loss/L_DC": l_dc.detach(), "loss/total": loss.detach(),
                **{k: v.detach() for k, v in extra.items()}, "prune/sparsity": torch.tensor(sparsity)}
        # (2) discriminator: its original loss on real vs student fakes and real vs teacher fakes
        if not o.freeze_d:
            set_trainable(self.discs, True)
            with memoized(self.discs) as d:
                d_on_s = finite("D", r.discriminator_terms(d, batch, r.fakes_for_d_update(s_out)))
                d_on_t = finite("D", r.discriminator_terms(d, batch, r.fakes_for_d_update(t_out)))
            d_loss = weighted_total(d_on_s, r.d_weights) + weighted_total(d_on_t, r.d_weights)
            self.opt_d.zero_grad(set_to_none=True)
            self.backward(d_loss)
            self.optimizer_step(self.opt_d)
            logs.update(scalars("D", d_on_s))
        return logs

    def stateful(self) -> dict[str, Any]:
        state = {"gens": self.gens, "discs": self.discs, "opt_g": self.opt_g,
                 "opt_d": self.opt_d, "pruner": self.pruner}
        return {**state, "d_pruner": self.d_pruner} if self.d_pruner is not None else state
