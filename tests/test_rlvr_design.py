"""Design checks before any rule runs: warm-up ladder and pool gate, the Random-only lr pilot,
the study stopped with the reason when a check fails, and resumed from the record."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

pytest.importorskip("torch")

from insight_bayes.rlvr import batched  # noqa: E402
from insight_bayes.rlvr.config import load_config  # noqa: E402
from insight_bayes.rlvr.design import DesignFailed, designed_config, run_design  # noqa: E402
from insight_bayes_cli import main  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "configs" / "rlvr" / "smoke.toml"


def _raw(**design) -> dict:
    with SMOKE.open("rb") as f:
        raw = tomllib.load(f)
    raw["study"].update(rules=["random", "insight"], pool_rate_samples=0)
    raw["loop"].update(steps=2)
    raw["gate"] = {"min_uninformative": 0.0, "max_uninformative": 1.0, "min_mid_range": 0}
    raw["design"] = {"tiers": [1], "min_tier_success": 0.0, "warmup_steps": [5, 10],
                     "tier_samples": 2} | design  # fmt: skip
    return raw


def test_design_settings_are_validated():
    with pytest.raises(ValueError, match="design.warmup_steps must increase"):
        load_config(_raw(warmup_steps=[10, 5]))
    with pytest.raises(ValueError, match="pilot_window=9 exceeds"):
        load_config(_raw(pilot_steps=3, pilot_window=9))
    with pytest.raises(ValueError, match=r"\[design\] has unknown field"):
        load_config(_raw(lr=1.0))
    config = load_config(_raw())
    assert config.design.active and config.design.tiers == (1,)
    # the design does not shape the runs: not in the digest
    assert config.digest() == load_config({k: v for k, v in _raw().items()
                                           if k != "design"}).digest()  # fmt: skip


def test_pilot_keeps_the_lowest_rate_that_lifts_random_and_trains_random_only(
    tmp_path, monkeypatch
):
    trained = []
    real = batched.train_block

    def spy(harness, runs, max_rows=None):
        trained.extend(rule for rule, _ in runs)
        return real(harness, runs, max_rows)

    monkeypatch.setattr(batched, "train_block", spy)
    # a gain threshold every rate meets: the lowest rate is kept, the next never tried
    raw = _raw(pilot_lrs=[1e-5, 1e-3], pilot_steps=2, pilot_window=1, pilot_min_gain=-1.0)
    config = load_config(raw)
    record = run_design(config, tmp_path / "a", device="cpu", cache_dir=tmp_path / "c")
    assert record["passed"] and record["warmup_steps"] == 5 and record["lr"] == 1e-5
    assert [p["lr"] for p in record["pilots"]] == [1e-5]
    assert record["pilots"][0]["seconds_per_run_step"] > 0  # the speed a time budget plans with
    assert set(trained) == {"random"} and len(trained) == 2  # two pilot seeds, Random only
    derived = designed_config(config, record)
    assert derived.warmup.steps == 5 and derived.grpo.lr == 1e-5
    assert json.loads((tmp_path / "a" / "design.json").read_text()) == record
    # a second call reads the record back (no training)
    trained.clear()
    assert run_design(config, tmp_path / "a", device="cpu", cache_dir=tmp_path / "c") == record
    assert trained == []
    # a threshold no rate meets: every rate tried, the reason names their gains
    raw["design"]["pilot_min_gain"] = 2.0
    with pytest.raises(DesignFailed, match=r"no pilot learning rate .* >= 2 within 2 steps"):
        run_design(load_config(raw), tmp_path / "b", device="cpu", cache_dir=tmp_path / "c")
    failed = json.loads((tmp_path / "b" / "design.json").read_text())
    assert not failed["passed"] and [p["lr"] for p in failed["pilots"]] == [1e-5, 1e-3]
    assert all(len(p["gains"]) == 2 for p in failed["pilots"])


def test_study_stops_with_the_reason_when_the_warmup_fails_and_runs_when_it_passes(
    tmp_path, capsys
):
    bad = tmp_path / "bad.toml"
    raw = _raw(min_tier_success=1.0, tier_samples=4)  # no short warm-up solves tier 1 always
    out = tmp_path / "out"
    _write(bad, raw)
    argv = ["rlvr-study", str(bad), "--device", "cpu", "--cache-dir", str(tmp_path / "c"),
            "--no-progress", "--no-plots"]  # fmt: skip
    assert main([*argv, "--out", str(out)]) == 3
    text = capsys.readouterr().out
    assert "study not run" in text and "easiest tiers below 1" in text
    record = json.loads((out / "design.json").read_text())
    assert [w["steps"] for w in record["warmups"]] == [5, 10] and not record["passed"]
    assert not (out / "manifest.json").exists()  # no rule ran
    good = tmp_path / "good.toml"
    _write(good, _raw())
    argv[1] = str(good)
    assert main([*argv, "--out", str(tmp_path / "ok")]) == 0
    manifest = json.loads((tmp_path / "ok" / "manifest.json").read_text())
    assert manifest["design"]["passed"] and manifest["config"]["warmup"]["steps"] == 5
    assert manifest["runs"] == {"complete": 2, "expected": 2}
    assert main([*argv, "--out", str(tmp_path / "ok")]) == 0  # resumes: the same design
    assert "0 runs trained, 2 resumed" in capsys.readouterr().out


def _toml(value) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(value)


def _write(path: Path, raw: dict) -> None:
    lines = []
    for section, values in raw.items():
        lines.append(f"[{section}]")
        lines += [f"{key} = {_toml(value)}" for key, value in values.items()]
    path.write_text("\n".join(lines) + "\n")
    assert load_config(path).raw == raw


def test_the_pilot_records_its_gains_and_its_speed(monkeypatch):
    # the pilot is a block like a study's (batched.train_block, whose RunBlock.run sets the
    # blocks' precision: tests/test_rlvr_batched.py); its speed plans a time budget
    import pandas as pd

    from insight_bayes.rlvr import design as design_module
    from insight_bayes.rlvr import harness as harness_module

    trained = []

    class FakeHarness:
        device = "cuda"

    monkeypatch.setattr(harness_module, "harness_for", lambda *a, **k: FakeHarness())

    def train(harness, runs, max_rows=None):
        trained.append([rule for rule, _ in runs])
        steps = pd.DataFrame({"step": [0, 1, 2], "eval/pass1_exact": [0.1, 0.2, 0.3]})
        return [(steps, None) for _ in runs]

    monkeypatch.setattr(batched, "train_block", train)
    config = load_config(_raw(pilot_lrs=[1e-5], pilot_steps=2, pilot_window=1))
    gains, speed = design_module._pilot(config, 1e-5, config.design, "cuda", None, 0.1)
    assert trained == [["random", "random"]]  # one block of the pilot seeds, Random only
    assert gains == pytest.approx([0.2, 0.2]) and speed > 0  # step 2: 0.3 - 0.1
