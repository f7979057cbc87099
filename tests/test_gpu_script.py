"""The GPU study script runs end to end on CPU with a shrunken config (as documented): its
design checks, batched runs, resume across calls, and the packed folder a device call
brings back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import tomllib
from pathlib import Path

import pytest

pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[1]


def _script(out: Path, config: str, pack: Path | None = None, **env) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "CONFIG": config,
        "DEVICE": "cpu",
        "RUNS_PER_PROCESS": "3",
        "PYTHON": sys.executable,
        "BENCH_ARGS": "--blocks 1,2 --runs 2 --steps 1",
        **({"PACK": str(pack)} if pack else {}),
        **env,
    }
    return subprocess.run(
        ["bash", "benchmarks/run_gpu_study.sh", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip


def test_gpu_study_script_runs_on_cpu_with_the_smoke_config(tmp_path):
    out = tmp_path / "gpu"
    done = _script(out, "configs/rlvr/smoke.toml", pack=tmp_path / "back")
    assert done.returncode == 0, done.stdout + done.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["gate"]["k"] == 4
    assert manifest["runs_per_process"] == 3
    assert (out / "summary.csv").exists() and (out / "seconds.txt").exists()
    assert "cpu_per_run_step" in (out / "bench.txt").read_text()
    assert "self_cpu_time_total" in (out / "profile_block1.txt").read_text()
    assert "tokens/s" in (out / "throughput.txt").read_text()
    # CUDA graphs were checked first (on a CPU: off, with the measurements)
    check = (out / "graphs_check.txt").read_text()
    assert "rows with the same tokens 100.00%" in check
    assert check.strip().endswith("cuda_graphs: off (no CUDA device: the steps ran without graphs)")
    # what a device call brings back: at most 8 files, the study folder packed in pieces
    back = sorted(p.name for p in (tmp_path / "back").iterdir())
    assert len(back) <= 8 and "study.log" in back and "study.tgz.part-aa" in back
    joined = tmp_path / "study.tgz"
    joined.write_bytes(
        b"".join(p.read_bytes() for p in sorted((tmp_path / "back").glob("*.part-*")))
    )
    with tarfile.open(joined) as tar:
        names = tar.getnames()
    assert "gpu/manifest.json" in names and any(n.startswith("gpu/runs/") for n in names)
    assert not any("/.cache" in n for n in names)  # the warm-up stays behind
    # a second call resumes the same study (finished runs kept)
    again = _script(out, "configs/rlvr/smoke.toml")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "0 runs trained, 3 resumed" in again.stdout


def test_gpu_script_checks_the_design_first_and_stops_with_the_reason(tmp_path):
    with (ROOT / "configs" / "rlvr" / "smoke.toml").open("rb") as f:
        raw = tomllib.load(f)
    text = (ROOT / "configs" / "rlvr" / "smoke.toml").read_text()
    # a shrunken GPU design: a warm-up ladder whose easiest tier cannot reach success 1
    config = tmp_path / "design.toml"
    config.write_text(
        text.replace("steps = 40", "steps = 5")
        + "\n[design]\ntiers = [1]\nmin_tier_success = 1.0\ntier_samples = 4\n"
        "warmup_steps = [5, 10]\n"
    )
    assert raw["warmup"]["steps"] == 40
    out = tmp_path / "gpu"
    done = _script(out, str(config))
    assert done.returncode == 3, done.stdout + done.stderr
    assert "study not run" in done.stdout and "easiest tiers below 1" in done.stdout
    record = json.loads((out / "design.json").read_text())
    assert not record["passed"] and [w["steps"] for w in record["warmups"]] == [5, 10]
    assert not (out / "manifest.json").exists() and (out / "seconds.txt").exists()


def test_gpu_script_refuses_an_unknown_cuda_graphs_setting(tmp_path):
    done = _script(tmp_path / "gpu", "configs/rlvr/smoke.toml", CUDA_GRAPHS="yes")
    assert done.returncode == 2 and "CUDA_GRAPHS must be auto, on or off" in done.stderr
    assert not (tmp_path / "gpu").exists()  # nothing started


def test_gpu_config_is_the_checked_batched_design():
    import torch

    from insight_bayes.rlvr.config import load_config
    from insight_bayes.rlvr.model import ModelConfig, TinyLM

    config = load_config(ROOT / "configs" / "rlvr" / "gpu.toml")
    task = config.task.make_task()
    assert task.frame == config.task.make_warmup_task().frame == 8
    assert config.study.metric == "eval/pass1_exact" and config.gate.enforce
    # 7 rules x 8 seeds x 3 draws x 150 steps of a model of at least 25M parameters
    assert (len(config.study.rules), len(config.study.seeds)) == (7, 8)
    assert config.study.draws == (0, 1, 2) and config.loop.steps == 150
    with torch.device("meta"):
        model = TinyLM(
            ModelConfig(
                vocab_size=len(task.alphabet) + 3,
                block_size=task.max_prompt_chars + 1 + config.grpo.max_new_tokens + 1,
                n_layer=config.model.n_layer,
                n_head=config.model.n_head,
                d_model=config.model.d_model,
            )
        )
    assert model.num_parameters() >= 25_000_000
    # the design checks: tiers 1-3 at >= 0.4, a warm-up trained until they pass (checked
    # often enough to stop inside a 100-step jump), a Random-only lr ladder
    design = config.design
    assert design.tiers == (1, 2, 3) and design.min_tier_success == 0.4
    assert 0 < config.warmup.check_every <= 25 and design.warmup_steps == (config.warmup.steps,)
    assert len(design.pilot_lrs) > 1
    assert not set(design.pilot_seeds) & set(config.study.seeds)


def test_gpu_script_trains_each_draw_s_warmup_until_the_check_passes(tmp_path):
    text = (ROOT / "configs" / "rlvr" / "smoke.toml").read_text()
    # the GPU design's shape, shrunken: a warm-up trained until the check passes (here the
    # first check, every 10 steps: no tier floor and a gate that does not stop), two draws
    config = tmp_path / "until.toml"
    config.write_text(
        text.replace("steps = 40", "steps = 40\ncheck_every = 10")
        .replace('rules = ["random", "insight", "dynamic-sampling"]', 'rules = ["random"]')
        .replace("seeds = [0]", "seeds = [0]\ndraws = [0, 1]")
        .replace(
            "enforce = false", "min_uninformative = 0.0\nmax_uninformative = 1.0\nmin_mid_range = 0"
        )
        + "\n[design]\ntiers = [1]\nmin_tier_success = 0.0\ntier_samples = 2\n"
        "warmup_steps = [40]\n"
    )
    out = tmp_path / "gpu"
    done = _script(out, str(config), CUDA_GRAPHS="on")  # forced: no check, the flag passed
    assert done.returncode == 0, done.stdout + done.stderr
    assert not (out / "graphs_check.txt").exists()
    markers = sorted(out.glob("draw-*/runs/**/*.done.json"))
    assert len(markers) == 2 and all(json.loads(m.read_text())["cuda_graphs"] for m in markers)
    record = json.loads((out / "design.json").read_text())
    assert record["passed"] and record["warmup_steps"] == 40
    assert record["warmups"][0]["warmup"]["steps_trained"] == 10
    for draw in (0, 1):  # each draw's own warm-up, stopped at its own (first) check
        manifest = json.loads((out / f"draw-{draw}" / "manifest.json").read_text())
        assert manifest["warmup"]["steps_trained"] == 10 and manifest["warmup"]["reached"]


def test_gpu_script_starts_only_the_blocks_that_finish_before_its_timeout(tmp_path):
    # STUDY_TIMEOUT=600 gives the study a budget of 585 s; at the stated speed a smoke run
    # is planned at 690 s (1.2 x 50 s x (4 steps + 2.5 x 3 evaluations)), so no block
    # starts: the study says so (exit status 4) and the script still packs what it has.
    # Which runs a budget starts is tested in tests/test_rlvr_time_budget.py.
    out = tmp_path / "gpu"
    done = _script(
        out, "configs/rlvr/smoke.toml", pack=tmp_path / "back", STUDY_TIMEOUT="600",
        EXTRA_ARGS="--run-step-seconds 50", BENCH="0",
    )  # fmt: skip
    assert done.returncode == 4, done.stdout + done.stderr
    assert "stopped by the time budget" in done.stdout and "4: runs left" in done.stdout
    assert "0 runs trained" in done.stdout
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["runs"] == {"complete": 0, "expected": 3}
    (call,) = manifest["time_budget"]
    assert call["seconds"] == 585 and call["blocks"] == [] and call["cuda_graphs"] is False
    assert not (out / "bench.txt").exists()  # BENCH=0
    assert "study.log" in {p.name for p in (tmp_path / "back").iterdir()}
