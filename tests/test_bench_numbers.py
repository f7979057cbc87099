"""The CPU throughput numbers the READMEs quote are those of ``benchmarks/results/``."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _summary():
    spec = importlib.util.spec_from_file_location("bench_summary", ROOT / "benchmarks/summary.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _flat(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("readme", ["README.md", "benchmarks/README.md"])
@pytest.mark.parametrize("which", ["cpu_sentence", "gpu_sentence"])
def test_readmes_quote_the_saved_benchmarks(readme, which):
    sentence = getattr(_summary(), which)()
    assert _flat(sentence) in _flat((ROOT / readme).read_text())


def test_the_sentence_reads_the_tables(tmp_path):
    bench = "code,block,cpu_per_run_step,step_eval_share\na,1,0.5,0.3\na,4,0.9,0.2\nb,1,0.25,0.4\n"
    (tmp_path / "rlvr_batched_cpu.csv").write_text(bench)
    (tmp_path / "rlvr_study_wall_cpu.csv").write_text(
        "code,kernels,workers,runs,warmup_cached,wall_minutes,goal_minutes\n"
        "b,AVX512,2,56,True,21.04,30\n"
    )
    sentence = _summary().cpu_sentence(tmp_path)
    assert "0.250 CPU s per run-step with the code of `b`, against 0.500 s with `a` (2.00x" in (
        sentence
    )
    assert "0.30 -> 0.40" in sentence
    assert "in 21.0 minutes with `b` (AVX512 kernels, warm-up read" in sentence


def test_the_gpu_sentence_reads_the_tables(tmp_path):
    results, attempts = tmp_path / "bench", tmp_path / "attempts"
    results.mkdir()
    attempts.mkdir()
    (results / "rlvr_batched_gpu.csv").write_text(
        "block,wall_per_run_step,study_runs,study_minutes,goal_minutes,matmul_precision\n"
        "1,0.4,168,100.0,8,high\n8,0.25,168,6.5,8,high\n4,0.3,168,70,8,high\n"
    )
    (attempts / "warmups.csv").write_text(
        "attempt,warmup_steps,tiers_ok,gate_ok\n1,100,False,True\n1,300,True,True\n"
        "2,200,True,False\n"
    )
    sentence = _summary().gpu_sentence(results, attempts)
    assert "in 2 device calls" in sentence and "(100, 200, 300 steps)" in sentence
    assert "tiers passed (200, 300) and those whose pool gate passed (100, 300)" in sentence
    # the largest block against one run at a time: 0.4 / 0.25
    assert "A block of 8 runs took 0.250 s per run-step against 0.400 s" in sentence
    assert "(1.60x, TF32 products)" in sentence
    assert "about 6 minutes, against the 8-minute goal" in sentence
    assert "does not fit" not in sentence
