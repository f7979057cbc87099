#!/usr/bin/env bash
# The GPU study as one prepared script, sized from a measured run for about 7 minutes on one
# H200 (configs/rlvr/gpu.toml says what was measured).
# Writes everything under OUT (default results/rlvr-gpu-tiered): the study's tables and
# manifest, the benchmark table, nvidia-smi output, the log and the total seconds.
#   bash benchmarks/run_gpu_study.sh [OUT]
# CONFIG, DEVICE, WORKERS, PYTHON, STUDY_TIMEOUT and EXTRA_ARGS override the defaults
# (configs/rlvr/gpu.toml, cuda, 8, python, none, none). STUDY_TIMEOUT (seconds) stops the
# study but not the script: finished runs are kept (a re-run resumes them) and the benchmark
# still runs. To try the script on CPU with a shrunken config:
#   CONFIG=configs/rlvr/smoke.toml DEVICE=cpu WORKERS=1 PYTHON=python3 \
#       bash benchmarks/run_gpu_study.sh /tmp/x
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-results/rlvr-gpu-tiered}"
CONFIG="${CONFIG:-configs/rlvr/gpu.toml}"
DEVICE="${DEVICE:-cuda}"
WORKERS="${WORKERS:-8}"     # processes sharing the one GPU (each run is small)
PY="${PYTHON:-python}"
export INSIGHT_BAYES_CACHE="$OUT/.cache"   # the warm-up checkpoint stays inside OUT
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
# The side files wait in a staging folder until the study has written its manifest: the
# study refuses a folder that is not empty and holds no manifest (another configuration).
STAGE="$(mktemp -d)"
trap 'rm -rf "$STAGE"' EXIT
nvidia-smi > "$STAGE/nvidia-smi.txt" 2>&1 || true
"$PY" -c "import sys, torch; print(sys.version.split()[0], 'torch', torch.__version__, \
'cuda' if torch.cuda.is_available() else 'no cuda')" > "$STAGE/python.txt" 2>&1 || true
start=$(date +%s)
status=0
timeout "${STUDY_TIMEOUT:-0}" "$PY" -m insight_bayes_cli rlvr-study "$CONFIG" --out "$OUT" \
    --device "$DEVICE" --workers "$WORKERS" --no-progress ${EXTRA_ARGS:-} 2>&1 \
    | tee "$STAGE/study.log" || status=$?
echo "study exit status: $status (124: stopped by STUDY_TIMEOUT; finished runs are kept)" \
    | tee -a "$STAGE/study.log"
mkdir -p "$OUT"
cat "$STAGE/study.log" >> "$OUT/study.log"   # a resumed study appends to the earlier log
mv -f "$STAGE/nvidia-smi.txt" "$STAGE/python.txt" "$OUT/"
if [ "$status" -ne 0 ] && [ -f "$OUT/manifest.json" ]; then   # tables from the finished runs
    "$PY" -m insight_bayes_cli rlvr-study "$CONFIG" --out "$OUT" --gather-only 2>&1 \
        | tee -a "$OUT/study.log" || true
fi
"$PY" benchmarks/bench_rlvr.py --config "$CONFIG" --device "$DEVICE" --steps 5 \
    > "$OUT/bench.txt" 2>&1 || echo "benchmark failed (see $OUT/bench.txt)"
echo "total seconds: $(( $(date +%s) - start ))" | tee "$OUT/seconds.txt"
exit "$status"
