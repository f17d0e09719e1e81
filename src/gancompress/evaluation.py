"""`gancompress evaluate`: a generator's metrics beside the task's non-learned baseline and real data
against itself, all scored the same way (same held-out data, same features, same protocol).

The result (also written as JSON) is
``{"recipe", "generator", "features", "protocol", "model": {...}, "baseline": {"name": ..., ...},
"real": {...}, "beats_baseline": {metric: bool}}``; the metric keys are those of ``metrics.json``.
"""
from __future__ import annotations

import torch
from torch import nn

from gancompress import api
from gancompress.config import RunConfig, from_mapping
from gancompress.metrics.result import Metrics, lower_is_better
from gancompress.recipes.base import Recipe
from gancompress.recipes.weights import load_student

OFFLINE_PROTOCOL = "offline features: float images in [-1, 1], no quantisation, no resize (not Inception-FID)"


def protocol_of(feature_net) -> str:
    """How images reach the feature network: clean-fid's for Inception, our own for the offline nets."""
    from gancompress.metrics.features import CLEAN_FID_PROTOCOL, InceptionFeatures

    return CLEAN_FID_PROTOCOL if isinstance(feature_net, InceptionFeatures) else OFFLINE_PROTOCOL


def generator_to_score(recipe: str | None, teacher: str | None, student: str | None,
                       recipe_options: dict | None = None, export: str | None = None,
                       fmt: str = "safetensors") -> tuple[Recipe, nn.ModuleDict, str]:
    """(recipe, generators, what they are) for a teacher folder, a compress run, an export folder (its
    `fmt` files: safetensors, onnx or onnx-int8) or the shipped teacher."""
    if sum(bool(x) for x in (teacher, student, export)) > 1:
        raise ValueError("give one of --teacher, --student and --export")
    if export:
        from gancompress.export.bundle import load_exported

        loaded, gens = load_exported(export, prefer=fmt)
        if recipe and recipe != _recipe_name(loaded):
            raise ValueError(f"--export {export!r} holds a {_recipe_name(loaded)!r} student, not --recipe {recipe!r}")
        return loaded, gens, f"exported student {export} ({fmt})"
    if student:
        loaded, gens = load_student(student)
        if recipe and recipe != _recipe_name(loaded):
            raise ValueError(f"--student {student!r} is a {_recipe_name(loaded)!r} run, not --recipe {recipe!r}")
        return loaded, gens, f"student {student}"
    if not recipe:
        raise ValueError("--recipe is needed with --teacher or for a shipped teacher (see `gancompress list`)")
    cfg = from_mapping(RunConfig, {"recipe": recipe, "teacher": teacher, "recipe_options": recipe_options or {}})
    loaded, gens = api.load_teacher(cfg)
    return loaded, gens, f"teacher {teacher or api.shipped_teacher(recipe)}"


def _recipe_name(recipe: Recipe) -> str:
    from gancompress.recipes import RECIPES

    return next((name for name in RECIPES.names() if RECIPES.get(name) is type(recipe)), type(recipe).__name__)


def beats_baseline(model: dict, baseline: dict) -> dict[str, bool]:
    """Per quality metric both hold: is the model at least as good as the baseline? (Ties happen only where
    a metric saturates, e.g. both cover all 10 digit classes.)"""
    out = {}
    for key, value in model.items():
        lower = lower_is_better(key)
        other = baseline.get(key)
        if lower is None or not isinstance(value, (int, float)) or not isinstance(other, (int, float)):
            continue
        out[key] = value <= other if lower else value >= other
    return out


@torch.no_grad()
def evaluate_generator(recipe: Recipe, gens: nn.ModuleDict, generator: str, n_samples: int = 1000,
                       inception: str | None = None, device: torch.device = torch.device("cpu")) -> dict:
    """The model's metrics, the baseline's and real data's, on the same held-out data and features."""
    from gancompress.recipes.base import EvalContext

    feats = api.feature_net_for(recipe, inception)
    model = api.evaluate(recipe, gens.to(device), feats, n_samples, device)
    result: dict = {"recipe": _recipe_name(recipe), "generator": generator, "features": feats.description,
                    "protocol": protocol_of(feats), "model": dict(model)}
    base = recipe.baseline()
    if base is not None:
        name, base_gens = base
        result["baseline"] = {"name": name, **api.evaluate(recipe, base_gens.to(device), feats, n_samples, device)}
    real = recipe.real_metrics(EvalContext(feats, n_samples, device))
    if real is not None:
        result["real"] = dict(Metrics(real))
    if "baseline" in result:
        result["beats_baseline"] = beats_baseline(model, result["baseline"])
    return result


def summary_table(result: dict) -> str:
    """The three rows side by side (markdown), quality metrics only."""
    rows = [("model", result["model"]), ("baseline", result.get("baseline")), ("real vs real", result.get("real"))]
    keys = [k for k, v in result["model"].items()
            if lower_is_better(k) is not None and isinstance(v, (int, float))]
    lines = ["| | " + " | ".join(keys) + " |", "|---|" + "---|" * len(keys)]
    for label, values in rows:
        if values is None:
            continue
        cells = [f"{values[k]:.4g}" if isinstance(values.get(k), (int, float)) else "-" for k in keys]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    notes = [f"features: {result['features']}", f"protocol: {result['protocol']}"]
    if "baseline" in result:
        notes.append(f"baseline: {result['baseline']['name']}")
        worse = [k for k, ok in result["beats_baseline"].items() if not ok]
        notes.append("the model beats the baseline on every metric" if not worse
                     else f"the model does NOT beat the baseline on: {', '.join(worse)}")
    return "\n".join(lines + [""] + notes)


