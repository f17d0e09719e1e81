"""Element and filter pruning at 25/50/75/90% on the shipped DCGAN-digits teacher (benchmarks/sweep.py
with --recipe dcgan-digits).

    python benchmarks/sweep_dcgan.py --out runs/sweep-dcgan [--steps 600]
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sweep import main  # noqa: E402

if __name__ == "__main__":
    main(default_map={"recipe": "dcgan-digits", "out": "runs/sweep-dcgan"})
