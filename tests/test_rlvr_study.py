"""The study runner: smoke config end to end, resume after a crash, config validation."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("torch")

from insight_bayes.cli import main  # noqa: E402
from insight_bayes.rlvr import study  # noqa: E402
from insight_bayes.rlvr.study import load_config, run_study  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "configs" / "rlvr" / "smoke.toml"


def _raw() -> dict:
    with SMOKE.open("rb") as f:
        return tomllib.load(f)


def test_smoke_config_end_to_end(tmp_path, capsys):
    out = tmp_path / "out"
    code = main(
        [
            "rlvr-study",
            str(SMOKE),
            "--out",
            str(out),
            "--device",
            "cpu",
            "--cache-dir",
            str(tmp_path / "cache"),
            "--no-progress",
        ]
    )
    assert code == 0
    raw = _raw()
    steps = pd.read_parquet(out / "steps.parquet")
    rules, seeds = raw["study"]["rules"], raw["study"]["seeds"]
    assert set(steps["rule"]) == set(rules)
    assert len(steps) == len(rules) * len(seeds) * (raw["loop"]["steps"] + 1)
    assert steps["eval/pass1"].notna().sum() == len(rules) * len(seeds) * 3  # steps 0, 2, 4
    ds = steps[(steps.rule == "dynamic-sampling") & (steps.step > 0)]
    assert (ds["rollouts"] >= raw["loop"]["m"] * raw["loop"]["k"]).all()
    prompts = pd.read_parquet(out / "prompts.parquet")
    assert {
        "wmi",
        "mutual_information",
        "variance_reduction",
        "next_success_rate",
        "step_logprob_gain",
        "warmup_rate",
        "feature_carries",
    } <= set(prompts.columns)
    pool = pd.read_parquet(out / "pool.parquet")
    assert len(pool) == raw["task"]["pool_size"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["device"] == "cpu"
    assert manifest["package_version"] and manifest["git_revision"]
    assert manifest["config"] == raw
    assert (out / "speedups.parquet").exists() and (out / "steps_to_target.parquet").exists()
    assert "results in" in capsys.readouterr().out
    # one warm-up, shared: a single cached checkpoint
    assert len(list((tmp_path / "cache" / "warmup").iterdir())) == 1


def test_resume_after_a_crash(tmp_path, monkeypatch):
    raw = _raw()
    raw["study"]["rules"] = ["random", "insight"]
    raw["loop"]["steps"] = 2
    config = load_config(raw)
    out, cache = tmp_path / "out", tmp_path / "cache"
    real = study._run_one
    calls = []

    def crash_on_second(harness, rule, seed, bar):
        calls.append(rule)
        if len(calls) == 2:
            raise KeyboardInterrupt("killed")
        return real(harness, rule, seed, bar)

    monkeypatch.setattr(study, "_run_one", crash_on_second)
    with pytest.raises(KeyboardInterrupt):
        run_study(config, out, device="cpu", cache_dir=cache, progress=False)
    assert study.is_complete(out, "random", 0) and not study.is_complete(out, "insight", 0)
    first = pd.read_parquet(out / "runs" / "random__seed0" / "steps.parquet")

    calls.clear()
    monkeypatch.setattr(study, "_run_one", lambda *a: calls.append(a[1]) or real(*a))
    tables = run_study(config, out, device="cpu", cache_dir=cache, progress=False)
    assert calls == ["insight"]  # the finished run was skipped
    pd.testing.assert_frame_equal(
        pd.read_parquet(out / "runs" / "random__seed0" / "steps.parquet"), first
    )
    assert set(tables["steps"]["rule"]) == {"random", "insight"}
    # extending the study with a rule reuses the finished runs
    calls.clear()
    raw["study"]["rules"] = ["random", "insight", "mopps"]
    tables = run_study(load_config(raw), out, device="cpu", cache_dir=cache, progress=False)
    assert calls == ["mopps"]
    assert set(tables["steps"]["rule"]) == {"random", "insight", "mopps"}
    # a different config in the same folder is refused
    raw["loop"]["steps"] = 3
    with pytest.raises(ValueError, match="different config"):
        run_study(load_config(raw), out, device="cpu", cache_dir=cache, progress=False)


def test_seeds_repeat_exactly(tmp_path):
    raw = _raw()
    raw["study"]["rules"] = ["insight"]
    raw["loop"]["steps"] = 2
    config = load_config(raw)
    a = run_study(config, tmp_path / "a", device="cpu", cache_dir=tmp_path / "c", progress=False)
    b = run_study(config, tmp_path / "b", device="cpu", cache_dir=tmp_path / "c", progress=False)
    cols = ["step", "train_reward", "eval/pass1", "train/loss"]
    pd.testing.assert_frame_equal(a["steps"][cols], b["steps"][cols])
    pd.testing.assert_frame_equal(a["choices"], b["choices"])


@pytest.mark.parametrize(
    "change,match",
    [
        (lambda r: r["loop"].update(k=1), "loop.k must be >= 2"),
        (lambda r: r["loop"].update(m=100), "loop.m=100 .* task.pool_size=32"),
        (lambda r: r["task"].update(name="sudoku"), "task.name: unknown task 'sudoku'"),
        (lambda r: r["study"].update(rules=["random", "oracle"]), "study.rules: unknown rule"),
        (lambda r: r["model"].update(path="/no/such/model"), "model.path"),
        (lambda r: r["loop"].update(batch=3), r"\[loop\] has unknown field"),
        (lambda r: r.update(extra={}), "unknown config section"),
        (lambda r: r["grpo"].update(lr=-1.0), r"\[grpo\] lr must be"),
        (lambda r: r["task"].update(params={"max_digits": 0}), "task.params"),
        (lambda r: r["study"].update(rule_params={"insight": {"mu": 2.0}}), "rule_params.insight"),
        (lambda r: r["study"].update(baseline="oracle"), "study.baseline"),
    ],
)
def test_config_errors_name_the_field(change, match):
    raw = _raw()
    change(raw)
    with pytest.raises(ValueError, match=match):
        load_config(raw)


def test_bad_config_fails_before_training(tmp_path, monkeypatch, capsys):
    raw = _raw()
    raw["loop"]["k"] = 1
    path = tmp_path / "bad.toml"
    path.write_text(SMOKE.read_text().replace("k = 4", "k = 1"))
    monkeypatch.setattr(study, "_Harness", lambda *a, **k: pytest.fail("trained"))
    # the command reports a ValueError as one line with exit status 2 (tests/test_cli.py)
    assert main(["rlvr-study", str(path), "--out", str(tmp_path / "o"), "--device", "cpu"]) == 2
    assert "insight-bayes rlvr-study: error: loop.k" in capsys.readouterr().err
    argv = ["rlvr-study", str(SMOKE), "--out", str(tmp_path / "o"), "--model", "/no/model"]
    assert main(argv) == 2
    assert "model.path" in capsys.readouterr().err
    with pytest.raises(ValueError, match="does not exist"):
        load_config(tmp_path / "missing.toml")


def test_shipped_configs_validate():
    for name in ("smoke", "cpu", "gpu"):
        config = load_config(ROOT / "configs" / "rlvr" / f"{name}.toml")
        assert len(config.study.seeds) >= 1
    cpu = load_config(ROOT / "configs" / "rlvr" / "cpu.toml")
    assert {"random", "mopps", "expected-difficulty", "insight", "dynamic-sampling"} <= set(
        cpu.study.rules
    )
    assert len(cpu.study.seeds) >= 3
