"""The CPU throughput numbers the READMEs quote are those of ``benchmarks/results/``."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
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
@pytest.mark.parametrize("which", ["cpu_sentence", "blocks_sentence", "gpu_sentence"])
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


def test_the_blocks_sentence_reads_the_table(tmp_path):
    (tmp_path / "rlvr_blocks_cpu.csv").write_text(
        "code,block,cpu_per_run_step\n"
        "old,1,0.30\nold,4,0.50\nold,8,0.60\n"
        "new,1,0.32\nnew,4,0.30\nnew,8,0.31\nnew,1,0.34\n"  # two rows of one: their mean
    )
    walls = "code,runs_per_process,wall_minutes\nz,1,24.0\n"
    (tmp_path / "rlvr_study_wall_cpu.csv").write_text(walls + "y,1,28.04\n")
    sentence = _summary().blocks_sentence(tmp_path)
    assert sentence == (
        "with the code of `new` blocks of 4 and 8 took 0.300 and 0.310 CPU s per run-step "
        "against 0.330 for one run at a time, where `old`'s blocks of 4 and 8 took 0.500 and "
        "0.600 CPU s per run-step against 0.300"
    )  # the last two studies both ran one run at a time: no end-to-end pair
    (tmp_path / "rlvr_study_wall_cpu.csv").write_text(walls + "y,1,28.04\nx,7,27.96\n")
    assert (
        _summary()
        .blocks_sentence(tmp_path)
        .endswith(
            "; end to end, one after the other, the tiered study took 28.0 minutes in blocks of "
            "7 runs (`x`) and 28.0 minutes one run at a time (`y`)"
        )
    )


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


def test_compare_studies_tells_identical_from_different(tmp_path):
    spec = importlib.util.spec_from_file_location(
        "compare_studies", ROOT / "benchmarks/compare_studies.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    steps = pd.DataFrame({"rule": ["a", "a"], "seed": [0, 0], "step": [0, 1],
                          "eval/pass1_exact": [0.1, 0.2], "step_seconds": [1.0, 2.0]})  # fmt: skip
    choices = pd.DataFrame({"rule": ["a"], "seed": [0], "step": [1], "rank": [0], "score": [0.5]})
    for name, shift, order in (("a", 0.0, [0, 1]), ("b", 0.0, [1, 0]), ("c", 1e-9, [0, 1])):
        folder = tmp_path / name
        folder.mkdir()
        changed = steps.assign(step_seconds=steps.step_seconds * 3)  # timings never compared
        changed.loc[1, "eval/pass1_exact"] += shift
        changed.iloc[order].to_parquet(folder / "steps.parquet")
        choices.to_parquet(folder / "choices.parquet")
    same = module.compare(tmp_path / "a", tmp_path / "b")  # row order does not matter
    assert same == [
        "steps: 2 rows, 4 columns compared: identical",
        "choices: 1 rows, 5 columns compared: identical",
    ]
    differ = module.compare(tmp_path / "a", tmp_path / "c")
    assert differ[0] == "steps: 2 rows, 4 columns compared: differ: eval/pass1_exact (up to 1e-09)"
    # a measurement's tables: the causal test's batches, NaN where no check ran in both
    batches = pd.DataFrame({"draw": [0, 1], "seed": [0, 0], "checkpoint": [25, 25],
                            "batch": [0, 0], "effect": [0.5, 0.25],
                            "actual": [np.nan, 0.2], "seconds": [1.0, 2.0]})  # fmt: skip
    for name, table in (("d", batches), ("e", batches.iloc[::-1].assign(seconds=9.0))):
        (tmp_path / name).mkdir()
        table.to_parquet(tmp_path / name / "batches.parquet")
    assert module.compare(tmp_path / "d", tmp_path / "e") == [
        "batches: 2 rows, 6 columns compared: identical"
    ]
    (tmp_path / "f").mkdir()
    batches.assign(actual=[0.1, 0.2]).to_parquet(tmp_path / "f" / "batches.parquet")
    assert module.compare(tmp_path / "d", tmp_path / "f") == [
        "batches: 2 rows, 6 columns compared: differ: actual (NaN in other rows)"
    ]
    assert module.compare(tmp_path / "d", tmp_path / "a") == [
        f"batches: missing in {tmp_path / 'a'}"
    ]
    with pytest.raises(ValueError, match="none of the tables"):
        module.compare(tmp_path, tmp_path / "a")
