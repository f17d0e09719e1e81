"""The torch-pruning adapter: the one place we extend its private tracing step must keep working."""
import pytest
import torch
from torch import nn

from gancompress.export.materialize import materialize
from gancompress.pruning import tp_adapter
from gancompress.pruning.channel_graph import ChannelGraph


class _InputConcat(nn.Module):
    """conv(x) concatenated after a raw model input (StarGAN's label maps, a U-Net's outer skip)."""

    def __init__(self):
        super().__init__()
        self.first = nn.Conv2d(3, 4, 3, padding=1)
        self.second = nn.Conv2d(2 + 4, 3, 3, padding=1)

    def forward(self, x, labels):
        return self.second(torch.cat([labels, self.first(x)], dim=1))


def test_installed_torch_pruning_is_supported():
    tp_adapter.check_supported()


def test_channels_map_across_a_concatenation_with_a_model_input():
    net = _InputConcat().eval()
    with torch.no_grad():
        net.first.weight[1] = 0
        net.first.bias[1] = 0
    inputs = ((torch.randn(2, 3, 8, 8), torch.randn(2, 2, 8, 8)), {})
    plans = ChannelGraph(net, inputs).plans()
    members = {type(m).__name__ + str(getattr(m, "in_channels", "")): idxs for p in plans for m, idxs, _ in p.members
               if isinstance(m, nn.Conv2d)}
    assert members == {"Conv2d3": [1], "Conv2d6": [2 + 1]}  # the labels' 2 channels come first
    small = materialize(net, inputs)
    assert small.net.second.in_channels == 5 and small.deviation < 1e-5


def test_a_torch_pruning_without_the_traced_step_fails_loudly(monkeypatch):
    import torch_pruning as tp

    monkeypatch.setattr(tp.DependencyGraph, "_trace", lambda self, model: None)
    with pytest.raises(ImportError, match="torch-pruning"):
        tp_adapter.check_supported()
