"""Table 1 of the paper as data: each row (a)-(n) is a technique plus options; (o) and (q) go beyond
it and (p) is a control (the teacher trained the same budget, nothing pruned).

The columns say what the row claims: whether the dense teacher G_O is used while
compressing, how the student starts, how it is pruned, which discriminator it meets
(and whether that D keeps training), and which parts make up the student's loss (the
names it logs as ``loss/<part>``). `tests/test_table1.py` checks every claim against
the instantiated technique, so the table cannot drift from the code.

Student losses: ``L_GC`` / ``L_DC`` are the method's normalised teacher-student
differences of the generator / discriminator terms (undivided in row (q)); ``gan`` is the student's own
weighted GAN loss; ``distill`` an L1 (or squared) distance to the teacher's outputs;
``adv_kd`` the GAN loss against a new D that tells teacher from student outputs;
``features`` LIT's per-section distances.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping


@dataclass(frozen=True)
class Row:
    id: str
    name: str  # the paper's wording
    technique: str | None  # registered technique; None: the dense teacher itself, not trained
    options: Mapping[str, Any] = field(default_factory=dict)
    teacher: bool = False  # G_O used during compression
    student: str = "dense"  # how it starts: dense (teacher copy) | random | narrow (small dense net) | -
    pruning: str = "gradual"  # gradual (the run's schedule) | one-shot | during training | none
    disc: str = "pretrained"  # pretrained | random | pretrained, pruned | none
    disc_trained: bool = True
    losses: tuple[str, ...] = ("gan",)


_FT = "gan-finetune"
# Weight of the output distance where it sits beside another loss (rows h, i, o): 100, pix2pix's weight for
# its L1 term beside the GAN loss. At weight 1 it is ~10% of the method's loss and changes nothing measurable
# (dcgan-digits, benchmarks/README.md); alone (rows g, k) its weight does not matter under Adam.
DISTILL_BESIDE = 100.0
ROWS: dict[str, Row] = {r.id: r for r in (
    Row("a", "no compression (dense)", None, teacher=True, student="-", pruning="none", disc="none",
        disc_trained=False, losses=()),
    # distill 0: the paper's method even where the base config adds the output distance (row o)
    Row("b", "self-supervised (the method)", "self-supervised", {"distill": 0.0}, teacher=True,
        losses=("L_GC", "L_DC")),
    Row("c", "small dense network from scratch", _FT, {"init": "narrow", "prune": "none", "disc": "random"},
        student="narrow", pruning="none", disc="random"),
    Row("d", "one-shot pruning + fine-tuning", _FT, {"prune": "oneshot"}, pruning="one-shot"),
    Row("e", "gradual pruning + fine-tuning", _FT, {}),
    Row("f", "gradual pruning during training", _FT, {"init": "random", "disc": "random"},
        student="random", pruning="during training", disc="random"),
    Row("g", "one-shot pruning + distillation", _FT, {"prune": "oneshot", "disc": "none", "gan": 0.0, "distill": 1.0},
        teacher=True, pruning="one-shot", disc="none", disc_trained=False, losses=("distill",)),
    Row("h", "(d) + distillation", _FT, {"prune": "oneshot", "distill": DISTILL_BESIDE},
        teacher=True, pruning="one-shot", losses=("gan", "distill")),
    Row("i", "(g) + fixed discriminator", _FT, {"prune": "oneshot", "train_d": False, "distill": DISTILL_BESIDE},
        teacher=True, pruning="one-shot", disc_trained=False, losses=("gan", "distill")),
    Row("j", "adversarial learning (new D; Wang et al. 2018)", "adversarial-kd", {},
        teacher=True, student="random", pruning="during training", disc="random", losses=("adv_kd", "distill")),
    Row("k", "knowledge distillation (Aguinaldo et al. 2019)", _FT,
        {"init": "random", "disc": "none", "gan": 0.0, "distill": 1.0, "distill_loss": "mse"},
        teacher=True, student="random", pruning="during training", disc="none", disc_trained=False,
        losses=("distill",)),
    Row("l", "distill intermediate layers (LIT; Koratana et al. 2019)", "lit", {},
        teacher=True, student="random", pruning="during training", disc="none", disc_trained=False,
        losses=("features", "distill")),
    Row("m", "E-M pruning (QGAN-style; Wang et al. 2019)", "em-pruning", {}),
    Row("n", "prune both G and D", "self-supervised", {"prune_d": True, "distill": 0.0},
        teacher=True, disc="pretrained, pruned", losses=("L_GC", "L_DC")),
    # beyond the paper: the method plus output distillation (issue 20's diagnosis of rows (b) vs (g))
    Row("o", "self-supervised + output distillation (ours)", "self-supervised", {"distill": DISTILL_BESIDE},
        teacher=True, losses=("L_GC", "L_DC", "distill")),
    # the control: what the same budget of training does without compression. A student better than the
    # teacher but no better than this measures further training, not compression (issue 19)
    Row("p", "dense fine-tuning, same budget (control)", _FT, {"prune": "none"}, pruning="none"),
    # beyond the paper: (b) without the division by the teacher's values, which at 90% magnifies
    # near-zero terms (StarGAN's G/cls, SRGAN's content loss) into the failure of (b)
    Row("q", "self-supervised, unnormalised differences (ours)", "self-supervised",
        {"distill": 0.0, "normalise": False}, teacher=True, losses=("L_GC", "L_DC")),
)}


def rows_for(ids: str | None) -> list[Row]:
    """Rows named by a comma list like "a,b,e" (all of them for None); unknown ids raise ValueError."""
    if not ids:
        return list(ROWS.values())
    wanted = [i.strip().lower() for i in ids.split(",") if i.strip()]
    unknown = [i for i in wanted if i not in ROWS]
    if unknown:
        raise ValueError(f"unknown technique id {unknown[0]!r}; valid: {', '.join(ROWS)}")
    return [ROWS[i] for i in dict.fromkeys(wanted)]
