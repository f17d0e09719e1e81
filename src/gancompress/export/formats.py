"""Weight and model file formats: dense safetensors, compact sparse safetensors, ONNX.

The compact sparse form stores a tensor with many zeros as a bit mask (one bit per
entry, ``<key>::mask``, uint8) plus its nonzero values in order (``<key>::values``,
original dtype); other tensors are stored as they are. A 90%-sparse float32 tensor
takes 1/8 + 0.1 * 4 bytes per entry instead of 4 (13%). Loading gives the identical
tensors back.
"""
from __future__ import annotations

import copy
import io
import json
import warnings
from pathlib import Path
from typing import Mapping

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from gancompress.nets import Inputs
from gancompress.errors import CheckpointError
from gancompress.io import atomic_write

SPARSE_FORMAT = "gancompress-sparse-v1"
_BITS = torch.tensor([128, 64, 32, 16, 8, 4, 2, 1], dtype=torch.uint8)


def pack_bits(mask: torch.Tensor) -> torch.Tensor:
    """Boolean tensor -> uint8 bytes, 8 entries each, most significant bit first."""
    flat = mask.flatten().to(torch.uint8)
    flat = torch.cat([flat, flat.new_zeros((-flat.numel()) % 8)])
    return (flat.reshape(-1, 8) * _BITS).sum(1, dtype=torch.uint8)


def unpack_bits(packed: torch.Tensor, numel: int) -> torch.Tensor:
    return ((packed[:, None] & _BITS) != 0).flatten()[:numel]


def _worth_packing(t: torch.Tensor) -> bool:
    """Bit mask + nonzeros smaller than the dense tensor?"""
    if not t.is_floating_point() or t.numel() < 64:
        return False
    nonzero = int((t != 0).sum())
    return (t.numel() + 7) // 8 + nonzero * t.element_size() < t.numel() * t.element_size()


def save_sparse(state: Mapping[str, torch.Tensor], path: str | Path) -> Path:
    """Write `state` in the compact sparse form (see the module docstring), atomically."""
    tensors, shapes = {}, {}
    for key, t in state.items():
        t = t.detach().cpu().contiguous()
        if "::" in key:
            raise ValueError(f"tensor name {key!r} contains '::', reserved by the sparse format")
        if _worth_packing(t):
            shapes[key] = list(t.shape)
            tensors[f"{key}::mask"] = pack_bits(t != 0)
            tensors[f"{key}::values"] = t[t != 0].contiguous()
        else:
            tensors[key] = t
    metadata = {"format": SPARSE_FORMAT, "shapes": json.dumps(shapes)}
    return atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata=metadata))


def load_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """A state dict from a dense or compact-sparse safetensors file."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"weights file {str(path)!r} does not exist")
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
        raw = {k: f.get_tensor(k) for k in f.keys()}
    if meta.get("format") != SPARSE_FORMAT:
        return raw
    shapes = json.loads(meta["shapes"])
    state = {k: v for k, v in raw.items() if "::" not in k}
    for key, shape in shapes.items():
        values = raw[f"{key}::values"]
        numel = int(torch.Size(shape).numel())
        dense = values.new_zeros(numel)
        dense[unpack_bits(raw[f"{key}::mask"], numel)] = values
        state[key] = dense.reshape(shape)
    return state


# -- ONNX ---------------------------------------------------------------------------------
def flat_inputs(inputs: Inputs) -> tuple[torch.Tensor, ...]:
    args, kwargs = inputs
    if kwargs:
        raise ValueError(f"ONNX export takes positional tensor inputs; this generator got keywords {sorted(kwargs)}")
    return tuple(a.detach().cpu() for a in args)


class FirstOutput(nn.Module):
    """A generator whose output is one tensor (the first one, for nets returning several)."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, *args):
        out = self.net(*args)
        if isinstance(out, (tuple, list)):
            return out[0]
        return out


def _dynamic_axes(args: tuple[torch.Tensor, ...]) -> dict[str, dict[int, str]]:
    """A dynamic batch axis everywhere; dynamic height and width for image inputs (4-d, spatial > 1) and
    then for the output (fully convolutional nets: SR evaluates whole images of any size)."""
    images = any(a.dim() == 4 and a.shape[-1] > 1 and a.shape[-2] > 1 for a in args)
    axes = {f"in{i}": {0: "batch", **({2: "height", 3: "width"} if a.dim() == 4 and a.shape[-1] > 1 else {})}
            for i, a in enumerate(args)}
    axes["out"] = {0: "batch", **({2: "out_height", 3: "out_width"} if images else {})}
    return axes


def export_onnx(net: nn.Module, inputs: Inputs, path: str | Path, opset: int = 17) -> Path:
    """Export `net` (eval mode, CPU) to ONNX with a dynamic batch axis (and image size, where the inputs
    are images); inputs are named in0, in1, ..."""
    args = flat_inputs(inputs)
    model = FirstOutput(copy.deepcopy(net)).cpu().eval()
    names = [f"in{i}" for i in range(len(args))]
    axes = _dynamic_axes(args)

    def write(tmp: str) -> None:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            try:  # the TorchScript exporter: fast, and fine for these convolutional nets
                torch.onnx.export(model, args, tmp, input_names=names, output_names=["out"], dynamic_axes=axes,
                                  opset_version=opset, dynamo=False)
            except (TypeError, RuntimeError, AttributeError):  # where it is gone: the torch.export one
                dims = tuple({0: torch.export.Dim("batch")} for _ in args)
                torch.onnx.export(model, args, tmp, input_names=names, output_names=["out"], dynamic_shapes=dims,
                                  dynamo=True, external_data=False)

    return atomic_write(path, write)


def onnx_session(path: str | Path, threads: int = 1):
    """An onnxruntime CPU session with `threads` intra-op threads."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


def onnx_feed(session, inputs: Inputs) -> dict:
    """`inputs` as the session's input feed (numpy arrays by input name)."""
    return {i.name: a.numpy() for i, a in zip(session.get_inputs(), flat_inputs(inputs))}


def run_onnx(session, inputs: Inputs) -> torch.Tensor:
    return torch.from_numpy(session.run(None, onnx_feed(session, inputs))[0])


class OnnxGenerator(nn.Module):
    """An ONNX model file run by onnxruntime (CPU), called like the generator it was exported from:
    tensors in, a tensor out. Lets the recipes' own evaluation score an exported (or int8) model."""

    def __init__(self, path: str | Path, threads: int = 1):
        super().__init__()
        self.path = Path(path)
        self.session = onnx_session(self.path, threads)

    def forward(self, *args: torch.Tensor) -> torch.Tensor:
        device = args[0].device
        return run_onnx(self.session, (tuple(a.cpu() for a in args), {})).to(device)


@torch.no_grad()
def check_onnx(path: str | Path, net: nn.Module, inputs: Inputs, atol: float = 1e-4) -> float:
    """Max |onnxruntime - torch| on `inputs`; raises ValueError above `atol`."""
    expected = FirstOutput(copy.deepcopy(net)).cpu().eval()(*flat_inputs(inputs))
    diff = float((run_onnx(onnx_session(path), inputs) - expected).abs().max())
    if not diff <= atol:
        raise ValueError(f"ONNX model {str(path)!r} differs from torch by {diff:.3g} (> atol {atol})")
    return diff


def export_program(net: nn.Module, inputs: Inputs, path: str | Path) -> Path:
    """`net` (eval mode, CPU) as a self-contained ``torch.export`` program (``.pt2``, dynamic batch):
    ``torch.export.load(path).module()(*inputs)`` runs it without gancompress or the model's code."""
    args = flat_inputs(inputs)
    model = FirstOutput(copy.deepcopy(net)).cpu().eval()
    dims = tuple({0: torch.export.Dim("batch")} for _ in args)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        program = torch.export.export(model, args, dynamic_shapes=(dims,))
    buffer = io.BytesIO()  # torch.export.save wants a .pt2 name or a buffer, and atomic_write's is neither
    torch.export.save(program, buffer)
    return atomic_write(path, lambda tmp: Path(tmp).write_bytes(buffer.getvalue()))


@torch.no_grad()
def check_program(path: str | Path, net: nn.Module, inputs: Inputs, atol: float = 1e-4) -> float:
    """Max |exported program - torch| on `inputs` (and on a batch of another size); ValueError above `atol`."""
    loaded = torch.export.load(str(path)).module()
    model = FirstOutput(copy.deepcopy(net)).cpu().eval()
    args = flat_inputs(inputs)
    diff = 0.0
    for batch in (args, tuple(torch.cat([a, a[:1]]) for a in args)):  # the batch axis is dynamic
        diff = max(diff, float((loaded(*batch) - model(*batch)).abs().max()))
    if not diff <= atol:
        raise ValueError(f"exported program {str(path)!r} differs from torch by {diff:.3g} (> atol {atol})")
    return diff
