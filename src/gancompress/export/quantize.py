"""int8 ONNX models: onnxruntime's static quantisation, per channel, calibrated on training data.

Weights become int8 per output channel; activations uint8 per tensor, their ranges
calibrated (min/max) on generator inputs drawn from the recipe's training split; the
model keeps float inputs and outputs (QuantizeLinear / DequantizeLinear pairs around
each quantised operator, the QDQ form onnxruntime fuses into integer kernels).
"""
from __future__ import annotations

import contextlib
import copy
import logging
import tempfile
from pathlib import Path

import torch
from torch import nn

from gancompress.export.formats import FirstOutput, flat_inputs, onnx_session, run_onnx
from gancompress.io import atomic_write
from gancompress.nets import Inputs, generator_inputs
from gancompress.training.batches import StepBatcher


def calibration_inputs(recipe, gens: nn.ModuleDict, n_batches: int = 8, batch_size: int = 8,
                       seed: int = 0) -> dict[str, list[Inputs]]:
    """Per generator, the inputs ``recipe.generate`` gives it on `n_batches` training batches."""
    batcher = StepBatcher(recipe.dataset("train"), batch_size, seed)
    rng = torch.Generator().manual_seed(seed)
    out: dict[str, list[Inputs]] = {key: [] for key in gens}
    for step in range(n_batches):
        batch = recipe.make_batch(batcher.items(step), rng)
        for key, inputs in generator_inputs(recipe, gens, batch).items():
            out[key].append(inputs)
    return out


class _Reader:
    """onnxruntime's CalibrationDataReader protocol over a list of inputs."""

    def __init__(self, names: list[str], inputs: list[Inputs]):
        self.feeds = iter([{n: a.numpy() for n, a in zip(names, flat_inputs(x))} for x in inputs])

    def get_next(self):
        return next(self.feeds, None)


@contextlib.contextmanager
def _quiet_root_logger():
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def quantize_onnx(float_model: str | Path, path: str | Path, calibration: list[Inputs]) -> Path:
    """Write the int8 (QDQ, per-channel) version of the float ONNX model `float_model` to `path`."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if not calibration:
        raise ValueError("int8 quantisation needs calibration inputs")
    names = [i.name for i in onnx_session(float_model).get_inputs()]

    def write(tmp: str) -> None:
        with tempfile.TemporaryDirectory() as work:
            prepared = Path(work) / "prepared.onnx"
            quant_pre_process(str(float_model), str(prepared), skip_symbolic_shape=True)
            with _quiet_root_logger():  # the quantiser warns on the root logger about 1-d constants it skips
                quantize_static(str(prepared), tmp, _Reader(names, calibration), quant_format=QuantFormat.QDQ,
                                per_channel=True, weight_type=QuantType.QInt8, activation_type=QuantType.QUInt8,
                                calibrate_method=CalibrationMethod.MinMax)

    return atomic_write(path, write)


@torch.no_grad()
def check_int8(path: str | Path, net: nn.Module, inputs: Inputs, min_psnr: float = 20.0) -> dict:
    """How far the int8 model's output is from the float torch one: max / mean |diff| and PSNR (images in
    [-1, 1]); ValueError below `min_psnr` dB (a broken quantisation, not rounding)."""
    expected = FirstOutput(copy.deepcopy(net)).cpu().eval()(*flat_inputs(inputs))
    diff = run_onnx(onnx_session(path), inputs) - expected
    mse = float(diff.pow(2).mean())
    psnr = 10 * torch.log10(torch.tensor(4.0 / max(mse, 1e-12))).item()  # peak-to-peak 2
    if psnr < min_psnr:
        raise ValueError(f"int8 model {str(path)!r} is {psnr:.1f} dB from the float one (< {min_psnr} dB)")
    return {"max_abs_diff": float(diff.abs().max()), "mean_abs_diff": float(diff.abs().mean()),
            "psnr_vs_float": round(psnr, 2)}
