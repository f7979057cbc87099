"""The GPU study script runs end to end on CPU with a shrunken config (as documented)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[1]


def test_gpu_study_script_runs_on_cpu_with_the_smoke_config(tmp_path):
    out = tmp_path / "gpu"
    env = {
        **os.environ,
        "CONFIG": "configs/rlvr/smoke.toml",
        "DEVICE": "cpu",
        "WORKERS": "1",
        "PYTHON": sys.executable,
    }
    done = subprocess.run(
        ["bash", "benchmarks/run_gpu_study.sh", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["gate"]["k"] == 4
    assert (out / "summary.csv").exists() and (out / "seconds.txt").exists()
    assert "seconds_per_step" in (out / "bench.txt").read_text()


def test_gpu_config_is_the_tiered_design():
    from insight_bayes.rlvr.config import load_config

    config = load_config(ROOT / "configs" / "rlvr" / "gpu.toml")
    assert config.task.make_task().frame == config.task.make_warmup_task().frame == 8
    assert config.task.make_warmup_task().max_digits == 5
    assert config.study.metric == "eval/pass1_exact" and config.gate.enforce
