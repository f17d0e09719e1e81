"""Sparsity schedules: step -> target zero fraction (golden values in tests/test_pruning.py)."""
from __future__ import annotations

from typing import Callable

from gancompress.registry import Registry

# f(progress in [0, 1], initial, final, begin, end) -> sparsity
Schedule = Callable[[float, float, float, float, float], float]
SCHEDULES: Registry[Schedule] = Registry("schedule")


def _phase(progress: float, begin: float, end: float) -> float | None:
    """Position in [0, 1] within [begin, end]; None before it starts."""
    if progress < begin:
        return None
    if end <= begin or progress >= end:
        return 1.0
    return (progress - begin) / (end - begin)


@SCHEDULES.register("oneshot")
def oneshot(progress: float, initial: float, final: float, begin: float, end: float) -> float:
    """All at once at `begin`."""
    return 0.0 if progress < begin else final


@SCHEDULES.register("linear")
def linear(progress: float, initial: float, final: float, begin: float, end: float) -> float:
    """Straight line from `initial` at `begin` to `final` at `end`."""
    t = _phase(progress, begin, end)
    return 0.0 if t is None else initial + (final - initial) * t


@SCHEDULES.register("agp")
def agp(progress: float, initial: float, final: float, begin: float, end: float) -> float:
    """Automated gradual pruning (Zhu & Gupta 2017): s = s_f + (s_i - s_f)(1 - t)^3."""
    t = _phase(progress, begin, end)
    return 0.0 if t is None else final + (initial - final) * (1.0 - t) ** 3


def sparsity_at(name: str, step: int, total_steps: int, initial: float, final: float,
                begin: float, end: float) -> float:
    """The scheduled sparsity at `step` (0-based) of a `total_steps` run."""
    progress = step / max(total_steps, 1)
    return min(SCHEDULES.get(name)(progress, min(initial, final), final, begin, end), final)
