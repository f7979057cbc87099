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
def test_readmes_quote_the_saved_cpu_benchmark(readme):
    sentence = _summary().cpu_sentence()
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
