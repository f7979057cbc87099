"""The CPU throughput numbers the READMEs quote are those of ``benchmarks/results/``."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pandas as pd
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


def test_the_gpu_sentence_reads_the_study(tmp_path):
    study = tmp_path / "rlvr-gpu"
    (study / "draw-0").mkdir(parents=True)
    config = {"warmup": {"check_every": 10}, "loop": {"steps": 100, "eval_every": 50}}
    (study / "manifest.json").write_text(
        json.dumps({"config": config, "design": {"lr": 3e-5},
                    "runs": {"complete": 9, "expected": 60}})
    )  # fmt: skip
    budget = {"blocks": [4, 4, 1], "measured_seconds_per_run_step": [0.2, 0.3, 0.5]}
    (study / "draw-0" / "manifest.json").write_text(
        json.dumps({"warmup": {"steps_trained": 140}, "time_budget": [budget]})
    )
    runs = study / "draw-0" / "runs" / "key" / "a"
    runs.mkdir(parents=True)
    (runs / "seed-0000.done.json").write_text(
        json.dumps({"rule": "a", "seed": 0, "block": 1, "wall_seconds": 4.0})
    )
    pd.DataFrame(
        {
            "rule": "a",
            "seed": 0,
            "draw": 0,
            "step": [0, 1],
            "train/tokens_generated": [0.0, 10000.0],
        }
    ).to_parquet(study / "steps.parquet")
    sentence = " ".join(_summary().gpu_sentence(study).split())
    assert "its blocks generated 2,500 tokens per second," in sentence  # no GPU samples: no share
    assert "stopped at step 140" in sentence and "learning rate 3e-05" in sentence
    assert "9 of its 60 runs are done" in sentence
    # blocks of 4: mean 0.25 s per run-step; a run is 100 steps + 2.5 x 3 evaluations
    assert "blocks of 4 runs measured 0.250 s per run-step" in sentence
    assert "(one run alone: 0.500 s)" in sentence
    # 60 runs x 107.5 x 0.25 s = 1612.5 s = 27 minutes; 480 s // 26.875 s = 17 runs
    assert "about 27 minutes of device time" in sentence and "it does not fit" in sentence
    assert "8 minutes hold about 17 runs of 100 steps" in sentence
