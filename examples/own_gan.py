"""Compress a GAN that is not in gancompress's zoo, straight from its modules.

    python examples/own_gan.py [--weights DIR] [--out runs/own-gan]

The networks below stand for yours: a Linear stem, GroupNorm, spectral norm in the critic,
hinge loss. DIR holds your trained G.pth and D.pth (state dicts); without it the example runs
on untrained networks, which shows the mechanics, not the quality.
"""
import argparse

import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.nn.utils import spectral_norm

from gancompress.api import compress_gan

# --- your GAN (as you trained it) -------------------------------------------------------------
G = nn.Sequential(nn.Linear(16, 32 * 4 * 4), nn.Unflatten(1, (32, 4, 4)), nn.GroupNorm(4, 32), nn.ReLU(),
                  nn.ConvTranspose2d(32, 16, 4, 2, 1), nn.GroupNorm(4, 16), nn.ReLU(),   # (N, 16, 8, 8)
                  nn.Conv2d(16, 1, 3, padding=1), nn.Tanh())                            # (N, 1, 8, 8)
D = nn.Sequential(spectral_norm(nn.Conv2d(1, 16, 3, 2, 1)), nn.LeakyReLU(0.2),           # (N, 16, 4, 4)
                  spectral_norm(nn.Conv2d(16, 32, 3, 2, 1)), nn.LeakyReLU(0.2),          # (N, 32, 2, 2)
                  nn.Flatten(), nn.Linear(32 * 2 * 2, 1))
digits = torch.tensor(load_digits().images, dtype=torch.float32)[:, None] / 8 - 1      # (1797, 1, 8, 8) in [-1, 1]

if __name__ == "__main__":
    args = argparse.ArgumentParser()
    args.add_argument("--weights")
    args.add_argument("--out", default="runs/own-gan")
    args.add_argument("--steps", type=int, default=200)
    a = args.parse_args()
    if a.weights:
        G.load_state_dict(torch.load(f"{a.weights}/G.pth"))
        D.load_state_dict(torch.load(f"{a.weights}/D.pth"))
    # --- compress it: 50% of the weights of every conv, deconv and linear layer, self-supervised -------
    result = compress_gan(G, D, digits, z_shape=16, loss="hinge", sparsity=0.5, steps=a.steps, out=a.out,
                          prune={"layers": ["conv", "deconv", "linear"]}, train={"batch_size": 32})
    print(result.metrics["student"], f"written to {result.out}")
    samples = result.generator(torch.randn(8, 16))  # the compressed generator, ready to use
