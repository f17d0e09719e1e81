"""What an evaluation returns: named numbers and labels, and which way each number is better.

A recipe's ``evaluate`` returns a plain mapping such as ``{"fid": 61.2, "kid": 0.01,
"features": "digit classifier (not Inception)", "n_real": 1000}``; variants carry a
suffix (``fid_A2B`` per CycleGAN direction, ``psnr_set5`` per SR evaluation set).
`Metrics` is that mapping (a dict, so JSON as it is) plus the knowledge every consumer
(API, compare, report, bench, sweep) used to re-derive on its own: numbers vs labels,
the metric a key is a variant of, which way is better, and student/teacher ratios.
"""
from __future__ import annotations

from typing import Any, Mapping

# metric -> True when lower is better, False when higher is better, None: neither (counts, spreads)
DIRECTION: dict[str, bool | None] = {
    "fid": True, "kid": True, "kid_std": None,
    "psnr": False, "ssim": False,
    "coverage": False, "class_entropy": False, "confidence": False, "domain_acc": False,
    "diversity": None,  # about 1 is right: the data's own spread
    "n_real": None, "n_fake": None, "n_images": None, "n_patches": None,
    "sparsity": None,
}
RATIO_METRICS = ("fid", "psnr")  # reported as student / teacher ratios (``fid_ratio``, ``psnr_set5_ratio``)


def base_metric(key: str) -> str | None:
    """The metric `key` is, or is a suffixed variant of (``fid_A2B`` -> ``fid``); None when unknown."""
    names = [name for name in DIRECTION if key == name or key.startswith(name + "_")]
    return max(names, key=len) if names else None


def lower_is_better(key: str) -> bool | None:
    """True / False for a quality metric (or a variant of one), None for counts and unknown keys."""
    name = base_metric(key)
    return DIRECTION[name] if name is not None else None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class Metrics(dict):
    """A recipe's evaluation result; see the module docstring."""

    def numbers(self) -> dict[str, float]:
        """The numeric entries (metrics and counts), in order."""
        return {k: v for k, v in self.items() if _is_number(v)}

    def labels(self) -> dict[str, str]:
        """The text entries, e.g. which feature network FID used."""
        return {k: v for k, v in self.items() if isinstance(v, str)}

    def ratios_to(self, teacher: Mapping[str, Any]) -> dict[str, float]:
        """``{"fid_ratio": self/teacher, "fid_A2B_ratio": ...}`` for every FID- and PSNR-like metric both hold."""
        return {f"{key}_ratio": self[key] / max(value, 1e-12) for key, value in teacher.items()
                if base_metric(key) in RATIO_METRICS and _is_number(value) and _is_number(self.get(key))}
