"""2:4 semi-structured sparsity on CUDA (``torch.sparse.to_sparse_semi_structured``), where it applies.

It applies to Linear layers and to Conv2d layers (groups 1, zero padding) whose weights
keep 2 of every 4 along the reduction axis, which is what ``--granularity nm`` (n=2, m=4,
along input channels) produces: a Conv2d becomes unfold + sparse matmul with its weight
laid out (out, kH, kW, in). Everything else stays dense. CUDA only, float16; on a CPU
machine `bench_semi_structured` reports why it was skipped.
"""
from __future__ import annotations

import copy
import time

import torch
import torch.nn.functional as F
from torch import nn

from gancompress.nets import Inputs, run


def is_2to4(matrix: torch.Tensor) -> bool:
    """Every 4 consecutive entries of each row hold at most 2 nonzeros."""
    if matrix.shape[-1] % 4:
        return False
    return bool(((matrix != 0).reshape(matrix.shape[0], -1, 4).sum(-1) <= 2).all())


def _reduction_matrix(module: nn.Module) -> torch.Tensor | None:
    if isinstance(module, nn.Linear):
        return module.weight.detach()
    if type(module) is nn.Conv2d and module.groups == 1 and module.padding_mode == "zeros":
        return module.weight.detach().permute(0, 2, 3, 1).reshape(module.out_channels, -1)  # (out, kH*kW*in)
    return None


class SemiStructuredConv2d(nn.Module):
    """A Conv2d as unfold + (2:4 sparse weight) @ columns."""

    def __init__(self, conv: nn.Conv2d, sparse_weight: torch.Tensor):
        super().__init__()
        self.conv = conv  # keeps the hyper-parameters and the bias
        self.weight = sparse_weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = self.conv
        n, _, h, w = x.shape
        cols = F.unfold(x, c.kernel_size, c.dilation, c.padding, c.stride)  # (N, in*kH*kW, L)
        k = c.kernel_size[0] * c.kernel_size[1]
        cols = cols.view(n, c.in_channels, k, -1).transpose(1, 2).reshape(n, k * c.in_channels, -1)
        length = cols.shape[-1]
        out = torch.mm(self.weight, cols.permute(1, 0, 2).reshape(k * c.in_channels, n * length))  # (out, N*L)
        if c.bias is not None:
            out = out + c.bias[:, None]
        ho = (h + 2 * c.padding[0] - c.dilation[0] * (c.kernel_size[0] - 1) - 1) // c.stride[0] + 1
        return out.view(c.out_channels, n, ho, length // ho).transpose(0, 1)


def to_semi_structured(net: nn.Module) -> tuple[nn.Module, list[str]]:
    """A float16 CUDA copy of `net` with every 2:4-sparse layer on sparse kernels; and their names."""
    from torch.sparse import to_sparse_semi_structured

    net = copy.deepcopy(net).half().cuda().eval()
    converted = []
    for name, module in list(net.named_modules()):
        matrix = _reduction_matrix(module)
        if matrix is None or not is_2to4(matrix):
            continue
        try:
            sparse = to_sparse_semi_structured(matrix.contiguous())
        except (RuntimeError, ValueError):  # shapes the kernels do not support
            continue
        parent = net.get_submodule(name.rsplit(".", 1)[0]) if "." in name else net
        if isinstance(module, nn.Linear):
            module.weight = nn.Parameter(sparse, requires_grad=False)
        else:
            setattr(parent, name.rsplit(".", 1)[-1], SemiStructuredConv2d(module, sparse))
        converted.append(name)
    return net, converted


def _cuda_ms(fn, repeats: int = 50, warmup: int = 5) -> float:
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return float(torch.tensor(times).median()) * 1e3


@torch.inference_mode()
def bench_semi_structured(net: nn.Module, inputs: Inputs, repeats: int = 50) -> dict:
    """Median CUDA float16 latency of `net` dense vs with its 2:4 layers sparse, and their max difference."""
    if not torch.cuda.is_available():
        return {"skipped": "no CUDA device"}
    try:
        sparse, converted = to_semi_structured(net)
    except (ImportError, RuntimeError) as err:
        return {"skipped": f"{type(err).__name__}: {str(err).splitlines()[0][:200]}"}
    if not converted:
        return {"skipped": "no layer is 2:4 sparse along its reduction axis (use --granularity nm)"}
    dense = copy.deepcopy(net).half().cuda().eval()
    args, kwargs = inputs
    cuda = lambda x: x.half().cuda() if torch.is_tensor(x) and x.is_floating_point() else x  # noqa: E731
    gpu_inputs = (tuple(map(cuda, args)), {k: cuda(v) for k, v in kwargs.items()})
    d_ms = _cuda_ms(lambda: run(dense, gpu_inputs), repeats)
    s_ms = _cuda_ms(lambda: run(sparse, gpu_inputs), repeats)
    diff = float((run(dense, gpu_inputs).float() - run(sparse, gpu_inputs).float()).abs().max())
    return {"layers": converted, "dense_fp16_ms": round(d_ms, 4), "sparse_2to4_ms": round(s_ms, 4),
            "speedup": round(d_ms / s_ms, 3), "max_abs_diff": diff}
