#!/usr/bin/env bash
# The GPU study as one prepared script (configs/rlvr/gpu.toml: 7 rules x 8 seeds x 3 task
# draws x 150 steps of a 25M-parameter model, every draw's runs in one batched block).
# The study's [design] checks run first (warm-up ladder, pool gate, Random-only lr pilot);
# when one fails the study does not run, the script exits 3 and OUT/design.json says why.
#   bash benchmarks/run_gpu_study.sh [OUT]                 # default OUT results/rlvr-gpu
# Writes under OUT: the study's tables, manifest and design.json, the log (appended by a
# resumed call), nvidia-smi before and GPU utilisation during the study (gpu_util.csv),
# throughput.txt (benchmarks/gpu_throughput.py: tokens/s and GPU utilisation), bench.txt
# (bench_rlvr_batched.py: seconds per run-step, the shares of generation, update and
# evaluation), profile_block<N>.txt (torch.profiler's operators for each block size) and
# the total seconds.
# A second call with the same OUT resumes: finished runs are kept, the design record is
# read back, and the warm-up is re-trained (or found in CACHE) and must have the same
# sha256 as the first call's (the study refuses to mix runs of two warm-ups): a draw whose
# warm-up comes out otherwise is left as it is and the next draws train (exit status 5,
# rlvr-study --skip-mismatched-draws), so such a call is not lost.
# With PACK=<folder> (on the device machine: PACK=$OUT) the study folder is also packed
# into PACK as study.tgz.part-* (15 MiB pieces) beside the log, design.json and seconds:
# at most 8 files, what the device tool brings back (benchmarks/README.md); it is packed
# before the benchmark too, so a call cut short in the benchmark still brings the study.
# CONFIG, DEVICE, WORKERS, RUNS_PER_PROCESS, CACHE, PYTHON, STUDY_TIMEOUT, EXTRA_ARGS,
# BENCH_ARGS and CUDA_GRAPHS override the defaults (configs/rlvr/gpu.toml, cuda, 1, 64,
# OUT/.cache, python, none, none, "--blocks 1,8 --runs 8 --steps 5", auto: the study's
# blocks generate with CUDA graphs when benchmarks/graphs_check.py, run first and kept in
# OUT/graphs_check.txt, says so); BENCH=0 skips the benchmark
# (the study's own throughput.txt and gpu_util.csv are still written). STUDY_TIMEOUT (seconds) stops the
# study but not the script: finished runs are kept (a re-run resumes them), and the study
# starts only the blocks it expects to finish 15 s before it (rlvr-study --time-budget, at
# the speed the design's pilot measured; exit status 4 when runs are left). On CPU with a
# shrunken config (tests/test_gpu_script.py):
#   CONFIG=configs/rlvr/smoke.toml DEVICE=cpu RUNS_PER_PROCESS=3 PYTHON=python3 \
#       bash benchmarks/run_gpu_study.sh /tmp/x
set -euo pipefail
cd "$(dirname "$0")/.."
STUDY="${1:-results/rlvr-gpu}"
CONFIG="${CONFIG:-configs/rlvr/gpu.toml}"
DEVICE="${DEVICE:-cuda}"
WORKERS="${WORKERS:-1}"                    # one process: its blocks fill the GPU
RUNS_PER_PROCESS="${RUNS_PER_PROCESS:-64}" # a draw's 56 runs in one block
PY="${PYTHON:-python}"
export INSIGHT_BAYES_CACHE="${CACHE:-$STUDY/.cache}"   # the warm-up checkpoints
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export CUBLAS_WORKSPACE_CONFIG="${CUBLAS_WORKSPACE_CONFIG:-:4096:8}"
export PYTHONUNBUFFERED=1
# The side files wait in a staging folder until the study has written its manifest: the
# study refuses a folder that is not empty and holds no manifest (another configuration).
STAGE="$(mktemp -d)"
SAMPLER=""
cleanup() { [ -n "$SAMPLER" ] && kill "$SAMPLER" 2>/dev/null; rm -rf "$STAGE"; }
trap cleanup EXIT
nvidia-smi > "$STAGE/nvidia-smi.txt" 2>&1 || true
"$PY" -c "import sys, torch; print(sys.version.split()[0], 'torch', torch.__version__, \
'cuda' if torch.cuda.is_available() else 'no cuda')" > "$STAGE/python.txt" 2>&1 || true
# CUDA graphs for the blocks' generation and evaluation: CUDA_GRAPHS=auto (default)
# decides by benchmarks/graphs_check.py (identical tokens, log-probabilities within 1e-3
# and at most 0.9 of the eager time, on fresh weights; no rule is looked at), on or off
# forces it
GRAPH_ARGS=""
case "${CUDA_GRAPHS:-auto}" in
    on) GRAPH_ARGS="--cuda-graphs" ;;
    off) ;;
    auto)
        timeout 240 "$PY" benchmarks/graphs_check.py --config "$CONFIG" --device "$DEVICE" \
            > "$STAGE/graphs_check.txt" 2>&1 || echo "graphs check failed" >> "$STAGE/graphs_check.txt"
        grep -q "^cuda_graphs: on" "$STAGE/graphs_check.txt" && GRAPH_ARGS="--cuda-graphs"
        tail -n 1 "$STAGE/graphs_check.txt" ;;
    *) echo "CUDA_GRAPHS must be auto, on or off; got '${CUDA_GRAPHS:-}'" >&2; exit 2 ;;
esac
if command -v nvidia-smi > /dev/null && nvidia-smi > /dev/null 2>&1; then
    nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used --format=csv -l 5 \
        > "$STAGE/gpu_util.csv" 2>&1 &
    SAMPLER=$!
fi
start=$(date +%s)
status=0
BUDGET_ARGS=""
if [ -n "${STUDY_TIMEOUT:-}" ] && [ "${STUDY_TIMEOUT}" -gt 30 ]; then
    # start only the blocks expected to finish before the timeout, sized to fit at the
    # speed the design's Random pilot measured (a block killed half-way is lost)
    BUDGET_ARGS="--time-budget $(( STUDY_TIMEOUT - 15 ))"
fi
timeout "${STUDY_TIMEOUT:-0}" "$PY" -m insight_bayes_cli rlvr-study "$CONFIG" --out "$STUDY" \
    --device "$DEVICE" --workers "$WORKERS" --runs-per-process "$RUNS_PER_PROCESS" \
    --no-progress --skip-mismatched-draws $BUDGET_ARGS $GRAPH_ARGS ${EXTRA_ARGS:-} 2>&1 \
    | tee "$STAGE/study.log" || status=$?
[ -n "$SAMPLER" ] && kill "$SAMPLER" 2>/dev/null || true
SAMPLER=""
echo "study exit status: $status (3: a design check failed, see design.json; 4: runs left" \
    "that would not finish within STUDY_TIMEOUT; 5: a draw left because this machine" \
    "re-trained its warm-up to other weights, the next draws trained; 124: stopped by" \
    "STUDY_TIMEOUT; finished runs are kept)" | tee -a "$STAGE/study.log"
mkdir -p "$STUDY"
cat "$STAGE/study.log" >> "$STUDY/study.log"   # a resumed study appends to the earlier log
mv -f "$STAGE/nvidia-smi.txt" "$STAGE/python.txt" "$STUDY/"
[ -f "$STAGE/graphs_check.txt" ] && cat "$STAGE/graphs_check.txt" >> "$STUDY/graphs_check.txt"
[ -f "$STAGE/gpu_util.csv" ] && cat "$STAGE/gpu_util.csv" >> "$STUDY/gpu_util.csv"
if [ "$status" -ne 0 ] && [ "$status" -ne 3 ] && [ -f "$STUDY/manifest.json" ]; then
    "$PY" -m insight_bayes_cli rlvr-study "$CONFIG" --out "$STUDY" --gather-only --no-plots \
        2>&1 | tee -a "$STUDY/study.log" || true   # tables from the finished runs
fi
if [ -f "$STUDY/steps.parquet" ]; then   # tokens/s and GPU utilisation, from the study
    "$PY" benchmarks/gpu_throughput.py "$STUDY" > "$STUDY/throughput.txt" 2>&1 || true
fi
pack() {   # what a device call brings back (at most 8 files), when PACK is set
    [ -n "${PACK:-}" ] || return 0
    mkdir -p "$PACK"
    rm -f "$PACK"/study.tgz.part-*
    tar czf - --exclude=.cache -C "$(dirname "$STUDY")" "$(basename "$STUDY")" \
        | split -b 15m - "$PACK/study.tgz.part-"
    cp "$STUDY/study.log" "$PACK/" 2>/dev/null || true
    [ -f "$STUDY/seconds.txt" ] && cp "$STUDY/seconds.txt" "$PACK/"
    [ -f "$STUDY/design.json" ] && cp "$STUDY/design.json" "$PACK/"
    return 0
}
pack   # the study comes back even if the benchmark below is cut short by the call's limit
if [ "$status" -ne 3 ] && [ "${BENCH:-1}" != 0 ]; then   # BENCH=0: the study only
    BENCH_CONFIG="$CONFIG"
    "$PY" benchmarks/bench_rlvr_batched.py --config "$BENCH_CONFIG" --device "$DEVICE" \
        --design "$STUDY/design.json" --profile "$STUDY" \
        ${BENCH_ARGS:---blocks 1,8 --runs 8 --steps 5} \
        > "$STUDY/bench.txt" 2>&1 || echo "benchmark failed (see $STUDY/bench.txt)"
fi
echo "total seconds: $(( $(date +%s) - start ))" | tee "$STUDY/seconds.txt"
pack
[ -n "${PACK:-}" ] && ls -la "$PACK"
exit "$status"
