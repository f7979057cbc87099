"""benchmarks/gpu_throughput.py counts a batched block's time once and reads the GPU samples."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent


def _module():
    spec = importlib.util.spec_from_file_location(
        "gpu_throughput", ROOT / "benchmarks/gpu_throughput.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _folder(tmp_path: Path) -> Path:
    # a block of 2 runs (10 s, each run's record holds the block's wall) and one run alone (4 s)
    runs = tmp_path / "draw-0" / "runs" / "key"
    for rule, seed, block, wall in (("a", 0, 2, 10.0), ("b", 0, 2, 10.0), ("a", 1, 1, 4.0)):
        (runs / rule).mkdir(parents=True, exist_ok=True)
        record = {"rule": rule, "seed": seed, "block": block, "wall_seconds": wall}
        (runs / rule / f"seed-{seed:04d}.done.json").write_text(json.dumps(record))
    rows = [
        {
            "rule": r,
            "seed": s,
            "draw": 0,
            "step": step,
            "train/tokens_generated": 0.0 if step == 0 else 100.0,
        }
        for r, s in (("a", 0), ("b", 0), ("a", 1), ("c", 5))  # c: not finished, left out
        for step in range(3)
    ]
    pd.DataFrame(rows).to_parquet(tmp_path / "steps.parquet")
    return tmp_path


def test_a_block_is_timed_once_and_unfinished_runs_are_left_out(tmp_path):
    out = _module().throughput(_folder(tmp_path))
    assert out["runs"] == 3 and out["blocks"] == {1: 1, 2: 2}
    assert out["block_wall_seconds"] == pytest.approx(14.0)  # 10 / 2 + 10 / 2 + 4
    assert out["tokens_generated"] == 600.0  # 3 finished runs x 2 trained steps x 100
    assert out["tokens_per_wall_second"] == pytest.approx(600.0 / 14.0)
    assert out["gpu_util_mean"] is None


def test_gpu_utilisation_counts_the_samples_while_memory_is_held(tmp_path):
    folder = _folder(tmp_path)
    (folder / "gpu_util.csv").write_text(
        "timestamp, utilization.gpu [%], memory.used [MiB]\n"
        "2026/12/04 15:37:11.147, 0 %, 0 MiB\n"
        "2026/12/04 15:37:16.151, 50 %, 1200 MiB\n"
        "2026/12/04 15:37:21.151, 70 %, 1300 MiB\n"
    )
    assert _module().throughput(folder)["gpu_util_mean"] == pytest.approx(60.0)


def test_a_folder_without_finished_runs_is_refused(tmp_path):
    with pytest.raises(ValueError, match="no finished run"):
        _module().throughput(tmp_path)


def test_rounds_fit_recovers_the_seconds_each_round_adds(tmp_path):
    # one block of Random and Dynamic Sampling per seed; the block's step takes
    # 0.5 s + 0.1 s per round of Dynamic Sampling, which Random's run records
    runs = tmp_path / "runs" / "key"
    rows = []
    for seed in range(2):
        for rule in ("random", "dynamic-sampling"):
            (runs / rule).mkdir(parents=True, exist_ok=True)
            record = {"rule": rule, "seed": seed, "block": 2, "wall_seconds": 5.0}
            (runs / rule / f"seed-{seed:04d}.done.json").write_text(json.dumps(record))
        for step in range(1, 6):
            rounds = 1 + (step + seed) % 3
            for rule in ("random", "dynamic-sampling"):
                rows.append({"rule": rule, "seed": seed, "step": step,
                             "rounds": rounds if rule != "random" else 1,
                             "step_seconds": 0.5 + 0.1 * rounds,
                             "train/tokens_generated": 10.0})  # fmt: skip
    pd.DataFrame(rows).to_parquet(tmp_path / "steps.parquet")
    fit = _module().rounds_fit(tmp_path)
    assert fit["n"] == 10
    assert fit["intercept"] == pytest.approx(0.5) and fit["per_round"] == pytest.approx(0.1)
    # runs trained one at a time wait for no one: nothing to fit
    for path in runs.rglob("*.done.json"):
        record = json.loads(path.read_text())
        path.write_text(json.dumps(record | {"block": 1}))
    assert _module().rounds_fit(tmp_path) is None
