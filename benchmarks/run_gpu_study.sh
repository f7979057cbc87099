#!/usr/bin/env bash
# The GPU study as one prepared script: sized for under 8 minutes on one H100.
# Writes everything under OUT (default results/rlvr-gpu-study): the study's tables and
# manifest, the benchmark table, nvidia-smi output and the log.
#   bash benchmarks/run_gpu_study.sh [OUT]
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-results/rlvr-gpu-study}"
PY="${PYTHON:-python}"
mkdir -p "$OUT"
export INSIGHT_BAYES_CACHE="$OUT/.cache"   # warm-up checkpoint stays inside OUT
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1 || true
start=$(date +%s)
"$PY" -m insight_bayes.cli rlvr-study configs/rlvr/gpu.toml --out "$OUT" --device cuda \
    2> >(tee "$OUT/study.log" >&2)
"$PY" benchmarks/bench_rlvr.py --config configs/rlvr/gpu.toml --device cuda --steps 5 \
    > "$OUT/bench.txt" 2>&1 || echo "benchmark failed (see $OUT/bench.txt)"
echo "total seconds: $(( $(date +%s) - start ))" | tee "$OUT/seconds.txt"
