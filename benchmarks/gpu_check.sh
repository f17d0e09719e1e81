#!/usr/bin/env bash
# One short GPU session (under 8 minutes on an H100/H200-class GPU): the CUDA-marked tests, dense vs
# compression step time at full size (pix2pix unet_256, 256 px, batch 1; float32 and bf16), and the
# 2:4 semi-structured kernels of an N:M student. Record the printed figures in benchmarks/README.md.
#   bash benchmarks/gpu_check.sh [OUT]        (OUT: where figures go; default gpu-check/)
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:-gpu-check}
mkdir -p "$out"
export TQDM_DISABLE=1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$out/gpu.txt"
python -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)" | tee -a "$out/gpu.txt"
timeout 150 python -m pytest -q -m cuda tests/test_gpu.py 2>&1 | tail -5 | tee "$out/cuda_tests.txt"
for amp in off bf16 fp16; do
  timeout 60 python benchmarks/step_cost.py --full-size pix2pix --device cuda --amp "$amp" --steps 20 --warmup 3 \
    2>&1 | tail -7 | tee "$out/step_cost_pix2pix_$amp.txt"
done
timeout 60 python - <<'PY' 2>&1 | tee "$out/semi_structured.txt"
# 2:4 kernels on the full-size pix2pix generator, its weights 2:4-pruned (convs: unfold + sparse matmul)
import torch
from gancompress.export.semi import bench_semi_structured
from gancompress.pruning import PruneConfig, Pruner
from gancompress.recipes.translation_nets import build_generator
net = torch.nn.ModuleDict({"G": build_generator("unet_256", 3, 3, 64, "batch", False, 256)}).cuda().eval()
Pruner(net, PruneConfig(granularity="nm", n=2, m=4), 1).prune_now(0.5)
print(bench_semi_structured(net["G"], ((torch.randn(1, 3, 256, 256, device="cuda"),), {})))
PY
echo "figures in $out/"
