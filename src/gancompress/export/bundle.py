"""Export a compress run's student: ``gancompress export RUN_DIR`` and its reverse, `load_exported`.

An export directory holds ``recipe.yaml`` (copied from the run), ``export.json`` (what
was written, sizes, checks) and per generator ``<key>``:
``student_<key>.safetensors`` (dense), ``student_<key>.sparse.safetensors`` (compact),
``student_<key>.onnx``, ``student_<key>.int8.onnx`` (int8, calibrated on the recipe's training
data), ``student_<key>.pt2`` (a ``torch.export`` program: runs with
``torch.export.load(path).module()``, no model code needed), and with ``materialize``
``student_<key>.channels.json`` (the smaller layer shapes; the weights files then hold the
smaller tensors).
"""
from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from torch import nn

from gancompress.errors import CheckpointError
from gancompress.export.formats import (OnnxGenerator, check_onnx, check_program, export_onnx, export_program,
                                        load_weights, save_sparse)
from gancompress.export.materialize import channel_config, materialize, resize_modules
from gancompress.export.quantize import calibration_inputs, check_int8, quantize_onnx
from gancompress.io import load_into, save_weights, write_json
from gancompress.nets import example_inputs
from gancompress.recipes.weights import load_student, recipe_of
from gancompress.rundir import RunDir

FORMATS = ("safetensors", "sparse", "onnx", "onnx-int8", "pt2")


def export_run(run_dir: str | Path, out: str | Path | None = None, formats: tuple[str, ...] = ("safetensors",),
               materialize_channels: bool = False, onnx_atol: float = 1e-4, force: bool = False) -> dict:
    """Export the student generator(s) of `run_dir` into `out` (default ``RUN_DIR/export``); an earlier export
    there is replaced only with `force`, and a folder holding a run never."""
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise ValueError(f"export format {bad or formats!r}: valid: {', '.join(FORMATS)}")
    run = RunDir(run_dir)
    target = RunDir(out) if out else run.export_dir()
    _check_target(target, force)
    recipe, gens = load_student(run.path)
    inputs = example_inputs(recipe, gens)
    target.path.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(run.recipe_file, target.recipe_file)
    summary: dict = {"run": str(run_dir), "materialized": materialize_channels, "networks": {}}
    calibration = calibration_inputs(recipe, gens) if "onnx-int8" in formats else {}
    for key, net in gens.items():
        info: dict = {}
        if materialize_channels:
            m = materialize(net, inputs[key], label=f"{key}.")
            net = m.net
            write_json(target.student_file(key, ".channels.json"), channel_config(net))
            info.update(removed_channels=m.removed, max_output_change=m.deviation,
                        params_before=m.params_before, params_after=m.params_after)
        files = {}
        if "safetensors" in formats:
            files["safetensors"] = save_weights(net, target.student_file(key))
        if "sparse" in formats:
            files["sparse"] = save_sparse(net.state_dict(), target.student_file(key, ".sparse.safetensors"))
        if "onnx" in formats:
            files["onnx"] = export_onnx(net, inputs[key], target.student_file(key, ".onnx"))
            info["onnx_max_abs_diff"] = check_onnx(files["onnx"], net, inputs[key], atol=onnx_atol)
        if "onnx-int8" in formats:
            files["onnx-int8"] = _int8(net, inputs[key], calibration[key], target.student_file(key, ".int8.onnx"),
                                       files.get("onnx"))
            info["int8_vs_float"] = check_int8(files["onnx-int8"], net, inputs[key])
        if "pt2" in formats:
            files["pt2"] = export_program(net, inputs[key], target.student_file(key, ".pt2"))
            info["pt2_max_abs_diff"] = check_program(files["pt2"], net, inputs[key], atol=onnx_atol)
        info["files"] = {fmt: {"path": p.name, "bytes": p.stat().st_size} for fmt, p in files.items()}
        summary["networks"][key] = info
    write_json(target / RunDir.EXPORT, summary)
    return summary


def _int8(net: nn.Module, inputs, calibration, path: Path, float_model: Path | None) -> Path:
    """The int8 model, quantised from the float ONNX file of this export (or a temporary one)."""
    if float_model is not None:
        return quantize_onnx(float_model, path, calibration)
    with tempfile.TemporaryDirectory() as tmp:
        return quantize_onnx(export_onnx(net, inputs, Path(tmp) / "float.onnx"), path, calibration)


def _check_target(target: RunDir, force: bool) -> None:
    if target.metrics_file.exists() or target.checkpoint.exists():
        raise FileExistsError(f"--out {str(target.path)!r} holds a train or compress run: its files would be "
                              "replaced; export into another folder")
    if (target / RunDir.EXPORT).exists() and not force:
        raise FileExistsError(f"--out {str(target.path)!r} holds an earlier export; pass --force to replace it, "
                              "or choose another --out")


ONNX_SUFFIXES = {"onnx": ".onnx", "onnx-int8": ".int8.onnx"}


def load_exported(directory: str | Path, prefer: str = "safetensors") -> tuple[object, nn.ModuleDict]:
    """The recipe and generators of an export directory (materialized or not; dense or sparse weights;
    with `prefer` "onnx" or "onnx-int8", its ONNX models run by onnxruntime)."""
    export = RunDir(directory)
    recipe = recipe_of(export, "an export")
    gens = recipe.build_generators()
    if prefer in ONNX_SUFFIXES:
        return recipe, _onnx_generators(export, gens, prefer)
    for key, net in gens.items():
        channels = export.student_file(key, ".channels.json")
        if channels.exists():
            resize_modules(net, json.loads(channels.read_text()))
        candidates = [export.student_file(key), export.student_file(key, ".sparse.safetensors")]
        if prefer == "sparse":
            candidates.reverse()
        path = next((p for p in candidates if p.exists()), None)
        if path is None:
            raise CheckpointError(f"no weights for {key!r} in {str(directory)!r} "
                                  f"(looked for {', '.join(p.name for p in candidates)})")
        load_into(net, load_weights(path), f"{path.name} ({key})")
    return recipe, gens.eval()


def _onnx_generators(export: RunDir, gens: nn.ModuleDict, fmt: str) -> nn.ModuleDict:
    paths = {key: export.student_file(key, ONNX_SUFFIXES[fmt]) for key in gens}
    missing = [p.name for p in paths.values() if not p.exists()]
    if missing:
        raise CheckpointError(f"{str(export.path)!r} has no {', '.join(missing)}: export it with --format {fmt}")
    return nn.ModuleDict({key: OnnxGenerator(path) for key, path in paths.items()})
