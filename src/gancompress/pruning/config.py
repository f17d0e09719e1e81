"""What to prune, how much, and when: one frozen, validated dataclass."""
from __future__ import annotations

from dataclasses import dataclass, field

LAYER_KINDS = ("conv", "deconv", "linear")
# `criterion: auto` = the criterion measured best for each granularity (others: magnitude).
# Filter pruning of pix2pix-edges at 50%, FID ratio over seeds 0 and 1 (benchmarks/README.md):
# magnitude 2.77 / 2.60, taylor 2.64 / 3.12, norm-scale 2.88 / 2.99 (l2 2.79, seed 0 only),
# so magnitude everywhere for now.
AUTO_CRITERION: dict[str, str] = {}


def criterion_choices() -> list[str]:
    """Every valid ``prune.criterion``: the registered criteria, then ``auto``."""
    from gancompress.pruning.criteria import CRITERIA

    return CRITERIA.names() + ["auto"]


@dataclass(frozen=True)
class PruneConfig:
    """Pruning = granularity x criterion x schedule x scope.

    ``target`` is the final zero fraction of the selected weights (for ``nm`` it is
    fixed at 1 - n/m and ``target`` is ignored). ``initial``, ``begin`` and ``end``
    shape the schedule: sparsity goes from ``initial`` at ``begin`` (fraction of the
    run) to ``target`` at ``end``; masks are recomputed every ``every`` steps (None: every 2%
    of the run, `update_period`).
    """

    target: float = 0.5
    granularity: str = "element"  # element | vector | kernel | filter | nm
    n: int = 2  # N:M: keep n of every m weights along input channels
    m: int = 4
    criterion: str = "auto"  # auto: the best measured for the granularity (AUTO_CRITERION; else magnitude)
    scope: str = "layer"  # layer: each layer reaches the target; global: one ranking for all (each layer keeps >= 1 group)
    schedule: str = "agp"  # oneshot | linear | agp
    initial: float = 0.05
    begin: float = 0.0
    end: float = 0.5
    every: int | None = None  # None: auto, max(1, steps // 50) (about 25 mask updates during the ramp)
    layers: tuple = ("conv", "deconv")  # kinds of layer pruned: conv, deconv, linear
    include: tuple = ()  # fnmatch patterns on module names (e.g. "G.main.*"); empty: all
    exclude: tuple = ()
    skip_first_last: bool = False
    # per-layer final sparsity by fnmatch pattern on layer names (first matching pattern wins; others
    # keep `target`), e.g. from `gancompress sensitivity`; each layer ramps on the schedule to its own
    layer_targets: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from gancompress.pruning.granularity import GRANULARITIES
        from gancompress.pruning.schedules import SCHEDULES

        def check(ok: bool, key: str, why: str) -> None:
            if not ok:
                raise ValueError(f"prune.{key}={getattr(self, key)!r}: {why}")

        check(0.0 <= self.target < 1.0, "target", "sparsity must be in [0, 1)")
        check(0.0 <= self.initial < 1.0, "initial", "sparsity must be in [0, 1)")
        check(0.0 <= self.begin <= self.end <= 1.0, "begin", f"need 0 <= begin <= end={self.end} <= 1")
        check(self.end <= 1.0, "end", "must be <= 1")
        check(self.every is None or self.every >= 1, "every", "must be >= 1 (or null: auto)")
        check(self.m >= 1 and 0 < self.n <= self.m, "n", f"need 0 < n <= m (m={self.m})")
        check(self.scope in ("layer", "global"), "scope", "valid: layer, global")
        for key, valid in (("granularity", GRANULARITIES.names()), ("criterion", criterion_choices()),
                           ("schedule", SCHEDULES.names())):
            check(getattr(self, key) in valid, key, f"valid: {', '.join(valid)}")
        check(not self.layer_targets or (self.scope == "layer" and self.target > 0), "layer_targets",
              "per-layer targets need scope: layer and target > 0 (the schedule ramps each layer to its own)")
        for pattern, value in self.layer_targets.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
                raise ValueError(f"prune.layer_targets[{pattern!r}]={value!r}: sparsity must be in [0, 1)")
        bad = [k for k in self.layers if k not in LAYER_KINDS]
        check(not bad and len(self.layers) > 0, "layers", f"valid kinds: {', '.join(LAYER_KINDS)}")

    def update_period(self, total_steps: int) -> int:
        """Steps between mask updates: ``every``, or about 2% of a `total_steps` run."""
        return self.every if self.every is not None else max(1, total_steps // 50)

    @property
    def criterion_name(self) -> str:
        """The criterion in use: ``auto`` resolves by granularity."""
        if self.criterion != "auto":
            return self.criterion
        return AUTO_CRITERION.get(self.granularity, "magnitude")

    @property
    def final_sparsity(self) -> float:
        """The zero fraction the run ends at (``target``, or what the granularity's pattern fixes)."""
        from gancompress.pruning.granularity import GRANULARITIES

        return GRANULARITIES.get(self.granularity).sparsity(self)
