#!/usr/bin/env bash
# The GPU check of the performance issue, in one go (about 6-7 minutes on one H200):
#   1. the test suite's CUDA-marked tests (tests/test_cuda.py);
#   2. Full-Glow paper-256 (256x256, 4 x 16): training at batch 1, 8, 32 (plain; 32 also
#      memory-saving), sampling at batch 1 and 16, TF32 allowed (log-dets are float32);
#   3. Full-Glow 512x1024, 4 x 8, memory-saving, under a 12 GiB cap: the largest batch that fits;
#   4. the targets table (paper's training budget in hours, sampling speed-up, 512x1024 batch).
# Run from the repository root:  bash benchmarks/gpu_check.sh   (everything goes to stdout;
# copy the tables into benchmarks/RESULTS.md). Needs torch with CUDA, pytest, numpy, pillow,
# safetensors and tqdm; the package is taken from src/ (no install needed).
set -u
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
PY="${PYTHON:-python3}"
start=$SECONDS

echo "## GPU check ($(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'))"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
"$PY" -c "import torch; print('torch', torch.__version__, 'CUDA', torch.version.cuda, 'available:', torch.cuda.is_available())"

echo
echo "### CUDA tests"
timeout 170 "$PY" -m pytest -m cuda -q -p no:cacheprovider -o addopts="" --durations=5 tests
echo "(tests exit status $?, $((SECONDS - start)) s so far)"

echo
echo "### Benchmark"
timeout $((460 - (SECONDS - start))) "$PY" benchmarks/bench.py --suite gpu --device cuda --tf32 \
    --threads 8 --warmup 2 --steps 5 --row-timeout 120
echo "(benchmark exit status $?, $((SECONDS - start)) s in all)"
