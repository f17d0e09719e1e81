"""Metrics of generated images: FID and KID (torchmetrics) plus mode-collapse numbers."""
from __future__ import annotations

import math
import warnings

import torch
from torch import nn
from torchmetrics.image.fid import FrechetInceptionDistance
from torchmetrics.image.kid import KernelInceptionDistance


def _batches(x: torch.Tensor, size: int = 250):
    return x.split(size)


@torch.no_grad()
def features_of(images: torch.Tensor, net: nn.Module) -> torch.Tensor:
    """`net`'s features of `images`, in batches."""
    return torch.cat([net(part) for part in _batches(images)])


class _Precomputed(nn.Identity):
    """Stands in for the feature network when features are already computed."""

    def __init__(self, num_features: int):
        super().__init__()
        self.num_features = num_features


@torch.no_grad()
def fid_kid(real: torch.Tensor, fake: torch.Tensor, feature_net: nn.Module) -> dict[str, float]:
    """FID and KID (mean, std) between two image sets in [-1, 1] on `feature_net`'s features."""
    return fid_kid_of_features(features_of(real, feature_net), features_of(fake, feature_net))


@torch.no_grad()
def fid_kid_of_features(real: torch.Tensor, fake: torch.Tensor) -> dict[str, float]:
    """FID and KID (mean, std) between two feature sets (N, D), through torchmetrics."""
    n = min(len(real), len(fake))
    if n < 2:
        from gancompress.data.images import DataError

        raise DataError(f"FID / KID need at least 2 real and 2 generated images; this evaluation has {len(real)} "
                        f"real and {len(fake)} generated (a dataset or train.eval_samples too small)")
    identity = _Precomputed(real.shape[1])
    local = {"sync_on_compute": False}  # under torchrun only rank 0 evaluates, on all the data
    fid = FrechetInceptionDistance(feature=identity, normalize=True, **local)
    with warnings.catch_warnings():  # "KID keeps all features in memory": a few thousand here
        warnings.simplefilter("ignore", UserWarning)
        kid = KernelInceptionDistance(feature=identity, normalize=True, subsets=50, subset_size=max(2, n // 2),
                                      **local)
    for metric in (fid, kid):
        for part in _batches(real):
            metric.update(part, real=True)
        for part in _batches(fake):
            metric.update(part, real=False)
    with torch.random.fork_rng():  # KID draws random subsets: make them repeatable
        torch.manual_seed(0)
        kid_mean, kid_std = kid.compute()
    return {"fid": float(fid.compute()), "kid": float(kid_mean), "kid_std": float(kid_std)}


@torch.no_grad()
def class_statistics(logits: torch.Tensor, min_share: float = 0.1) -> dict[str, float]:
    """How generated samples spread over the classifier's classes.

    coverage: fraction of classes holding at least `min_share` of a uniform share;
    class_entropy: entropy of the predicted-class histogram / log(classes) (1 = uniform);
    confidence: mean top softmax probability (sharp, recognisable samples score high).
    """
    k = logits.shape[1]
    probs = logits.softmax(1)
    hist = torch.bincount(probs.argmax(1), minlength=k).double() / len(logits)
    nz = hist[hist > 0]
    return {
        "coverage": float((hist >= min_share / k).double().mean()),
        "class_entropy": float(-(nz * nz.log()).sum() / math.log(k)),
        "confidence": float(probs.max(1).values.mean()),
    }


@torch.no_grad()
def mean_pairwise_distance(features: torch.Tensor, max_n: int = 1000) -> float:
    f = features[:max_n].double()
    d = torch.cdist(f, f)
    n = len(f)
    return float(d.sum() / (n * (n - 1))) if n > 1 else 0.0


@torch.no_grad()
def evaluate_generated(real: torch.Tensor, fake: torch.Tensor, feature_net: nn.Module,
                       classifier: nn.Module | None = None) -> dict:
    """FID/KID on `feature_net`; coverage, class entropy, confidence and diversity on `classifier`.

    diversity = mean pairwise feature distance of fakes / that of real images
    (about 1 when varied as the data, near 0 under mode collapse).
    """
    f_real, f_fake = features_of(real, feature_net), features_of(fake, feature_net)
    metrics: dict = {**fid_kid_of_features(f_real, f_fake), "features": feature_net.description,
                     "n_real": len(real), "n_fake": len(fake)}
    if classifier is not None:
        logits = torch.cat([classifier.forward_logits(p) for p in _batches(fake)])
        metrics.update(class_statistics(logits))
        if classifier is not feature_net:
            f_real, f_fake = features_of(real, classifier), features_of(fake, classifier)
        metrics["diversity"] = mean_pairwise_distance(f_fake) / max(mean_pairwise_distance(f_real), 1e-12)
    return metrics
