"""Harness config additions: the warm-up task override, binary advantages, relative targets,
the gate section (which never changes a study's digest)."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path

import pytest

from insight_bayes.rlvr.config import load_config

SMOKE = Path(__file__).resolve().parents[1] / "configs" / "rlvr" / "smoke.toml"
TIERED = Path(__file__).resolve().parents[1] / "configs" / "rlvr" / "cpu-tiered.toml"


def _raw():
    return tomllib.loads(SMOKE.read_text())


def test_tiered_config_loads_with_its_warm_up_override_and_gate():
    config = load_config(TIERED)
    warm, pool = config.task.make_warmup_task(), config.task.make_task()
    assert (warm.max_digits, pool.max_digits) == (4, 6)
    assert warm.max_prompt_chars == pool.max_prompt_chars  # one frame for both
    assert config.grpo.advantage_reward == "binary"
    assert config.study.metric == "eval/pass1_exact"
    assert config.gate.enforce and config.gate.min_mid_range == 150


def test_warm_up_override_must_share_the_pools_format():
    raw = _raw()
    raw["task"]["warmup_params"] = {"max_digits": 2, "frame_digits": 3}
    assert load_config(raw).task.make_warmup_task().max_digits == 2
    raw["task"]["warmup_params"] = {"max_digits": 5}  # answers longer than the pool's
    with pytest.raises(ValueError, match="task.warmup_params must describe the pool's task"):
        load_config(raw)
    raw["task"]["warmup_params"] = {"max_digits": 0}
    with pytest.raises(ValueError, match="task.warmup_params"):
        load_config(raw)


@pytest.mark.parametrize(
    ("section", "values", "match"),
    [
        ("grpo", {"advantage_reward": "graded"}, "advantage_reward"),
        ("study", {"target_fractions": [0.5, 1.5]}, "target_fractions"),
        ("gate", {"min_mid_range": -1}, "min_mid_range"),
        ("gate", {"nope": 1}, r"\[gate\] has unknown field"),
    ],
)
def test_bad_values_name_the_field(section, values, match):
    raw = _raw()
    raw.setdefault(section, {}).update(values)
    with pytest.raises(ValueError, match=match):
        load_config(raw)


def test_gate_and_relative_targets_do_not_change_the_digest():
    raw = _raw()
    base = load_config(raw).digest()
    other = copy.deepcopy(raw)
    other["gate"] = {"enforce": True, "min_mid_range": 10}
    other["study"]["target_fractions"] = [0.5]
    assert load_config(other).digest() == base
    other["task"]["warmup_params"] = {"max_digits": 2, "frame_digits": 3}
    assert load_config(other).digest() != base  # the warm-up shapes every run
