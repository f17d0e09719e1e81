"""Metric plumbing: golden values where they exist, orderings where they do not."""
import math

import pytest
import torch

from gancompress.metrics import class_statistics, evaluate_generated, fid_kid, load_feature_net, psnr_ssim, rgb_to_y


@pytest.fixture(scope="module")
def digits():
    from gancompress.data.digits import digits_split

    return torch.stack([x for x, _ in digits_split("train", 32)])[:400]


def test_shipped_digit_classifier_is_accurate_and_says_it_is_not_inception():
    from gancompress.data.digits import digits_split
    from gancompress.metrics.digits_classifier import accuracy

    net = load_feature_net("digits-classifier")
    assert accuracy(net, digits_split("test", 32)) > 0.95
    assert "not Inception" in net.description


def test_fid_is_near_zero_for_identical_sets_and_grows_with_damage(digits):
    net = load_feature_net("digits-classifier")
    same = fid_kid(digits, digits, net)["fid"]
    noisy = fid_kid(digits, (digits + 0.5 * torch.randn_like(digits)).clamp(-1, 1), net)["fid"]
    blank = fid_kid(digits, -torch.ones_like(digits) + 0.01 * torch.rand_like(digits), net)["fid"]
    assert abs(same) < 1e-2 and same < noisy < blank


def test_class_statistics_golden():
    logits = torch.full((4, 10), -10.0)
    logits[[0, 1], 0] = 10.0
    logits[[2, 3], 1] = 10.0
    stats = class_statistics(logits)
    assert stats["coverage"] == pytest.approx(0.2)
    assert stats["class_entropy"] == pytest.approx(math.log(2) / math.log(10))
    assert stats["confidence"] == pytest.approx(1.0, abs=1e-6)


def test_mode_collapse_shows_in_coverage_and_diversity(digits):
    net = load_feature_net("digits-classifier")
    healthy = evaluate_generated(digits, digits.flip(0), net, classifier=net)
    collapsed = evaluate_generated(digits, digits[:1].expand(len(digits), -1, -1, -1), net, classifier=net)
    assert healthy["coverage"] == 1.0 and healthy["diversity"] == pytest.approx(1.0, abs=0.01)
    assert collapsed["coverage"] == pytest.approx(0.1) and collapsed["diversity"] == pytest.approx(0.0, abs=1e-6)


def test_psnr_ssim_golden():
    target = torch.zeros(2, 3, 16, 16)
    pred = target + 0.2  # +0.1 in [0, 1] units -> MSE 0.01 -> 20 dB
    scores = psnr_ssim(pred, target)
    assert scores["psnr"] == pytest.approx(20.0, abs=1e-4)
    assert psnr_ssim(target, target)["ssim"] == pytest.approx(1.0)


def test_y_channel_and_border_crop():
    white = torch.ones(1, 3, 4, 4)
    assert rgb_to_y(white).flatten()[0].item() == pytest.approx(235 / 255)
    a, b = torch.zeros(1, 3, 24, 24), torch.zeros(1, 3, 24, 24)
    b[..., :4, :] = 1.0  # differences only inside a 4-pixel border
    assert psnr_ssim(a, b, y_channel=True, crop=4)["psnr"] > 60
