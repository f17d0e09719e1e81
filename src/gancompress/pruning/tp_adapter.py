"""The one place gancompress reaches past torch-pruning's public API (tested: 1.6.x; pinned < 1.7).

torch-pruning infers the channel sizes of a concatenation's parts from the layers that
produce them. A part no layer produces (a raw model input, as in StarGAN's image +
label maps, or pix2pix's U-Net skip of its input) leaves it unable to map channels
across the concatenation. `dependency_graph` records the part sizes of every channel
concatenation while the graph is traced and gives them to the concat nodes before the
index mapping is built; that needs the graph's tracing step (``DependencyGraph._trace``).
`check_supported` fails loudly on a torch-pruning without it, and
``tests/test_tp_adapter.py`` checks the mapping across such a concatenation.
"""
from __future__ import annotations

import inspect
from typing import Any, Callable

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

TESTED = "1.6"  # the minor version this adapter was written and tested against


def check_supported() -> None:
    """Raise ImportError naming the problem when torch-pruning lacks what the adapter extends."""
    import torch_pruning as tp

    trace = getattr(tp.DependencyGraph, "_trace", None)
    params = list(inspect.signature(trace).parameters) if callable(trace) else []
    if params[:5] != ["self", "model", "example_inputs", "forward_fn", "output_transform"]:
        raise ImportError(f"torch-pruning {getattr(tp, '__version__', '?')} has no DependencyGraph._trace"
                          f"(model, example_inputs, forward_fn, output_transform); gancompress is tested with "
                          f"torch-pruning {TESTED}.x: pip install 'torch-pruning>={TESTED},<1.7'")


class _CatSizes(TorchFunctionMode):
    """Records the channel sizes of every torch.cat along dim 1, by the grad_fn of its result."""

    def __init__(self):
        super().__init__()
        self.seen: list[tuple[Any, list[int]]] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if func in (torch.cat, torch.concat, torch.concatenate) and torch.is_tensor(out) and out.grad_fn is not None:
            dim = kwargs.get("dim", args[1] if len(args) > 1 else 0)
            if dim % out.dim() == 1:
                self.seen.append((out.grad_fn, [int(t.shape[1]) for t in args[0]]))
        return out

    def sizes_for(self, grad_fn) -> list[int] | None:
        return next((sizes for g, sizes in self.seen if g is grad_fn), None)


def dependency_graph(net: nn.Module, example_inputs: Any, forward_fn: Callable[[nn.Module, Any], Any]):
    """torch-pruning's DependencyGraph of `net`, with concatenation part sizes taken from the traced pass."""
    import torch_pruning as tp

    check_supported()

    class DependencyGraph(tp.DependencyGraph):
        def _trace(self, model, example_inputs, forward_fn, output_transform):
            with _CatSizes() as cats:
                module2node = super()._trace(model, example_inputs, forward_fn, output_transform)
            for node in module2node.values():
                sizes = cats.sizes_for(node.grad_fn) if node.type == tp.ops.OPTYPE.CONCAT else None
                if sizes is not None and len(sizes) == len(node.inputs):
                    node.module.concat_sizes = sizes
            return module2node

    return DependencyGraph().build_dependency(net, example_inputs=example_inputs, forward_fn=forward_fn,
                                              verbose=False)
