"""A warm-up trained until the design's check passes (``warmup.check_every``): the hook stops
at the first passing check, changes nothing else, names its checkpoint, and each task draw
of a study stops at its own check."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from insight_bayes.rlvr.config import load_config  # noqa: E402
from insight_bayes.rlvr.harness import Harness  # noqa: E402
from insight_bayes.rlvr.model import ModelConfig  # noqa: E402
from insight_bayes.rlvr.sft import WarmupConfig, warm_up, warmup_key  # noqa: E402
from insight_bayes.rlvr.tasks import make_task  # noqa: E402

TASK = make_task("addition", max_digits=2)
MODEL = ModelConfig(vocab_size=15, block_size=16, n_layer=1, n_head=2, d_model=16)
SMOKE = Path(__file__).resolve().parents[1] / "configs" / "rlvr" / "smoke.toml"


def _weights(policy) -> list[torch.Tensor]:
    return [p.detach().clone() for p in policy.model.parameters()]


def test_check_every_is_validated():
    with pytest.raises(ValueError, match="check_every"):
        WarmupConfig(steps=10, check_every=-1)
    with pytest.raises(ValueError, match="check_every=20 exceeds warmup.steps=10"):
        WarmupConfig(steps=10, check_every=20)
    with pytest.raises(ValueError, match="needs the check to stop on"):
        warm_up(TASK, MODEL, WarmupConfig(steps=4, check_every=2), cache_dir=None, progress=False)


def test_the_key_of_a_fixed_warmup_is_unchanged_and_a_check_names_its_own():
    fixed = WarmupConfig(steps=12, batch_size=8)
    assert "check_every" not in fixed.key_fields()
    until = WarmupConfig(steps=12, batch_size=8, check_every=3)
    keys = {
        warmup_key(TASK, MODEL, fixed),
        warmup_key(TASK, MODEL, until, {"tiers": [1]}),
        warmup_key(TASK, MODEL, until, {"tiers": [2]}),
    }
    assert len(keys) == 3


def test_training_stops_at_the_first_passing_check(tmp_path):
    seen = []

    def stop(policy) -> bool:
        assert not policy.model.training  # checked in eval mode
        seen.append(len(seen) + 1)
        return len(seen) == 3  # the third check passes

    config = WarmupConfig(steps=20, batch_size=8, seed=2, check_every=4)
    _, info = warm_up(TASK, MODEL, config, cache_dir=tmp_path, stop=stop, until={"a": 1})
    assert seen == [1, 2, 3]
    assert info["steps_trained"] == 12 and info["reached"] and info["until"] == {"a": 1}


def test_a_check_that_never_passes_changes_nothing_about_training(tmp_path):
    calls = []

    def never(policy) -> bool:
        calls.append(1)
        # a check that runs the model must not disturb the training that follows
        policy.generate([[1, 2]], max_new_tokens=2, temperature=1.0, generator=None)
        return False

    fixed = WarmupConfig(steps=9, batch_size=8, seed=4)
    until = WarmupConfig(steps=9, batch_size=8, seed=4, check_every=3)
    a, _ = warm_up(TASK, MODEL, fixed, cache_dir=tmp_path / "a", progress=False)
    b, info = warm_up(TASK, MODEL, until, cache_dir=tmp_path / "b", stop=never, until={})
    assert len(calls) == 3 and info["steps_trained"] == 9 and not info["reached"]
    for x, y in zip(_weights(a), _weights(b), strict=True):
        assert torch.equal(x, y)


def _config(**warmup):
    with SMOKE.open("rb") as f:
        raw = tomllib.load(f)
    raw["warmup"].update(warmup)
    raw["gate"] = {"min_uninformative": 0.0, "max_uninformative": 1.0, "min_mid_range": 0}
    raw["design"] = {"tiers": [1], "min_tier_success": 0.0, "tier_samples": 2}
    return raw


def test_a_harness_trains_until_the_design_check_passes(tmp_path):
    steps = _config()["warmup"]["steps"]
    every = max(1, steps // 4)
    # a check every warm-up passes (no tier floor, the widest gate): the first one stops it
    easy = load_config(_config(check_every=every))
    info = Harness(easy, "cpu", tmp_path).warmup_info
    assert info["reached"] and info["steps_trained"] == every
    # a check no policy can pass (success above 1 is impossible): every step is trained
    raw = _config(check_every=every)
    raw["gate"]["min_mid_range"] = 10**6
    info = Harness(load_config(raw), "cpu", tmp_path).warmup_info
    assert not info["reached"] and info["steps_trained"] == steps
    assert info["until"]["gate"]["min_mid_range"] == 10**6


def test_the_checks_settings_are_part_of_the_digest_only_for_a_warmup_trained_until():
    def digest(check_every, mid):
        raw = _config(**({"check_every": check_every} if check_every else {}))
        raw["gate"]["min_mid_range"] = mid
        return load_config(raw).digest()

    assert digest(0, 0) == digest(0, 5)  # the gate decides whether to start, as before
    assert digest(1, 0) != digest(1, 5)  # here it decides where the warm-up stops
    assert digest(0, 0) != digest(1, 0)


def test_the_design_records_where_each_draw_s_warmup_stopped(tmp_path):
    from insight_bayes.rlvr.design import design_table, run_design

    raw = _config(check_every=5)
    raw["design"]["warmup_steps"] = [20]
    record = run_design(load_config(raw), tmp_path / "study", device="cpu", cache_dir=tmp_path)
    assert record["passed"] and record["warmup_steps"] == 20
    table = design_table(record)
    # the widest gate and no tier floor: the first check, after 5 steps, passes
    assert list(table["warmup_steps"]) == [20] and list(table["steps_trained"]) == [5]
    assert bool(table.loc[0, "kept"])


def test_the_gate_waits_for_the_tiers_when_asked(tmp_path, monkeypatch):
    from insight_bayes.rlvr import warmup_check as module

    raw = _config()
    raw["design"]["min_tier_success"] = 1.0  # the easiest tier is not solved: tiers fail
    config = load_config(raw)
    env = Harness(config, "cpu", tmp_path).environment()
    full = module.warmup_check(env, config)
    assert not full["tiers_ok"] and full["gate"] is not None

    def boom(*args, **kwargs):
        raise AssertionError("the gate was measured although the tiers failed")

    real = module.gate_pool
    monkeypatch.setattr(module, "gate_pool", boom)
    quick = module.warmup_check(env, config, gate_after_tiers=True)
    assert quick["gate"] is None and not quick["gate_ok"]
    assert quick["tier_success"] == full["tier_success"]  # its own random numbers
    # tiers that pass: the gate is measured, and its verdict is the full check's
    monkeypatch.setattr(module, "gate_pool", real)
    raw["design"]["min_tier_success"] = 0.0
    config = load_config(raw)
    assert module.warmup_check(env, config, gate_after_tiers=True) == module.warmup_check(
        env, config
    )


def test_a_study_refuses_a_warmup_that_never_passed_its_check(tmp_path):
    from insight_bayes.rlvr.study import run_study

    raw = _config(check_every=20)
    raw["gate"]["min_mid_range"] = 10**6  # no policy can pass
    raw["study"].update(rules=["random"], pool_rate_samples=0)
    raw["loop"].update(steps=1)
    config = load_config(raw)
    kw = {"device": "cpu", "cache_dir": tmp_path / "cache", "progress": False}
    with pytest.raises(ValueError, match="did not pass its check within warmup.steps=40"):
        run_study(config, tmp_path / "refused", **kw)
    done = run_study(config, tmp_path / "forced", skip_gate=True, **kw)
    assert len(done.report.trained) == 1


def test_enforcing_the_gate_does_not_rename_the_warmup():
    def digest(enforce):
        raw = _config(check_every=10)
        raw["gate"]["enforce"] = enforce
        return load_config(raw).digest()

    assert digest(True) == digest(False)  # the check reads the band, not whether it stops


def test_a_replayed_warmup_trains_to_the_recorded_step_without_its_checks(tmp_path):
    passes_third = []

    def stop(policy) -> bool:
        passes_third.append(1)
        return len(passes_third) == 3

    def never_called(policy) -> bool:
        raise AssertionError("a replayed warm-up ran its check")

    config = WarmupConfig(steps=20, batch_size=8, seed=2, check_every=4)
    first, info = warm_up(TASK, MODEL, config, cache_dir=tmp_path / "a", stop=stop,
                          until={"a": 1})  # fmt: skip
    assert info["steps_trained"] == 12 and "replayed" not in info
    again, replayed = warm_up(TASK, MODEL, config, cache_dir=tmp_path / "b", stop=never_called,
                              until={"a": 1}, replay={info["key"]: 12})  # fmt: skip
    assert replayed["replayed"] and replayed["reached"] and replayed["steps_trained"] == 12
    for x, y in zip(_weights(first), _weights(again), strict=True):
        assert torch.equal(x, y)  # the checks changed nothing: the same weights
    # a replay of another warm-up (another key) is no reason to skip this one's checks
    with pytest.raises(AssertionError, match="ran its check"):
        warm_up(TASK, MODEL, config, cache_dir=tmp_path / "c", stop=never_called,
                until={"a": 1}, replay={"another": 12})  # fmt: skip
    with pytest.raises(ValueError, match="replayed steps"):
        warm_up(TASK, MODEL, config, cache_dir=tmp_path / "d", stop=never_called,
                until={"a": 1}, replay={info["key"]: 21})  # fmt: skip


def test_a_resumed_study_replays_its_warmup_and_finds_the_same_weights(tmp_path, monkeypatch):
    import json

    from insight_bayes.rlvr import harness as harness_module
    from insight_bayes.rlvr import warmup_check as check_module
    from insight_bayes.rlvr.study import run_study

    raw = _config(check_every=5)
    raw["study"].update(rules=["random"], pool_rate_samples=0)
    raw["loop"].update(steps=1)
    config = load_config(raw)
    out = tmp_path / "study"
    run_study(config, out, device="cpu", cache_dir=tmp_path / "a", progress=False)
    first = json.loads((out / "manifest.json").read_text())["warmup"]
    assert first["reached"] and "replayed" not in first
    # another machine: an empty cache, and a check that must not run
    harness_module._HARNESSES.clear()

    def boom(*args, **kwargs):
        raise AssertionError("the resumed study ran the warm-up's check")

    monkeypatch.setattr(check_module, "warmup_check", boom)
    run_study(config, out, device="cpu", cache_dir=tmp_path / "b", progress=False)
    second = json.loads((out / "manifest.json").read_text())["warmup"]
    assert second["replayed"] and second["steps_trained"] == first["steps_trained"]
    assert second["sha256"] == first["sha256"]
