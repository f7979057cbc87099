"""The selection loop (Algorithm 1) end to end on the fixed-rate environment."""

from __future__ import annotations

import numpy as np
import pytest

from insight_bayes import (
    BetaBelief,
    FixedRateEnvironment,
    LoopConfig,
    SelectionLoop,
    available_selectors,
)
from insight_bayes.environment import Diagnosed
from insight_bayes.rewards import Rollout


@pytest.fixture
def env():
    return FixedRateEnvironment(np.random.default_rng(0).beta(0.5, 0.5, 300))


@pytest.mark.parametrize("rule", available_selectors())
def test_every_rule_runs_through_the_loop(env, rule):
    cfg = LoopConfig(m=10, k=4, steps=6, eval_every=3)
    records = SelectionLoop(env, rule, cfg, seed=2).run(progress=False)
    assert [r.step for r in records] == [0, 1, 2, 3, 4, 5, 6]
    for r in records[1:]:
        assert r.ids.size == 10 and r.trials.tolist() == [4.0] * 10
        assert r.rollouts >= 40 and r.extra_rollouts == r.rollouts - 40
    assert "eval/mean_rate" in records[3].metrics and "eval/mean_rate" not in records[2].metrics


def test_belief_update_matches_the_rewards_seen(env):
    loop = SelectionLoop(env, "random", LoopConfig(m=20, k=8, steps=1, eval_every=0), seed=0)
    record = loop.step()
    np.testing.assert_array_equal(
        loop.belief.alpha[record.ids], record.alpha_before + record.successes
    )
    np.testing.assert_array_equal(
        loop.belief.beta[record.ids], record.beta_before + record.trials - record.successes
    )
    untouched = np.setdiff1d(np.arange(300), record.ids)
    assert np.all(loop.belief.alpha[untouched] == 1.0)


def test_beliefs_converge_to_true_rates():
    rates = np.linspace(0.05, 0.95, 20)
    env = FixedRateEnvironment(rates)
    loop = SelectionLoop(env, "random", LoopConfig(m=20, k=8, steps=200, eval_every=0), seed=4)
    loop.run(progress=False)
    # 1,600 rollouts per prompt: the posterior sd is about 0.012.
    np.testing.assert_allclose(loop.belief.mean, rates, atol=0.05)


def test_same_seed_same_records_and_different_seed_differs(env):
    cfg = LoopConfig(m=8, k=4, steps=5, eval_every=0)
    a = SelectionLoop(env, "mopps", cfg, seed=9).run(progress=False)
    b = SelectionLoop(env, "mopps", cfg, seed=9).run(progress=False)
    c = SelectionLoop(env, "mopps", cfg, seed=10).run(progress=False)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x.ids, y.ids)
        np.testing.assert_array_equal(x.successes, y.successes)
    assert any(not np.array_equal(x.ids, z.ids) for x, z in zip(a, c, strict=True))


@pytest.mark.parametrize("rule", ["insight-sampled", "dynamic-sampling"])
def test_resume_from_state_dict_equals_an_uninterrupted_run(env, rule):
    cfg = LoopConfig(m=8, k=4, steps=10, eval_every=0)
    straight = SelectionLoop(env, rule, cfg, seed=3).run(progress=False)
    first = SelectionLoop(env, rule, cfg, seed=3)
    head = first.run(steps=4, progress=False)
    state = first.state_dict()
    second = SelectionLoop(env, rule, cfg, seed=3)
    second.load_state_dict(state)
    tail = second.run(progress=False)
    assert [r.step for r in head + tail] == list(range(1, 11))
    for x, y in zip(straight, head + tail, strict=True):
        np.testing.assert_array_equal(x.ids, y.ids)
        np.testing.assert_array_equal(x.successes, y.successes)


def test_state_for_another_run_is_refused(env):
    cfg = LoopConfig(m=8, k=4, steps=2, eval_every=0)
    state = SelectionLoop(env, "mopps", cfg, seed=3).state_dict()
    with pytest.raises(ValueError, match="state is for rule 'mopps' seed 3"):
        SelectionLoop(env, "insight", cfg, seed=3).load_state_dict(state)


def test_graded_rewards_are_binarised_as_configured():
    class Graded(FixedRateEnvironment):
        def rollout(self, ids, k, rng):
            out = super().rollout(ids, k, rng)
            return Rollout(np.where(out.correct, 1.0, 0.1), out.correct)

    env = Graded(np.full(10, 0.5))
    binary = SelectionLoop(env, "random", LoopConfig(m=10, k=4, steps=1, eval_every=0), seed=0)
    rec = binary.step()
    assert set(np.unique(rec.successes)) <= set(range(5))
    frac = SelectionLoop(
        env,
        "random",
        LoopConfig(m=10, k=4, steps=1, eval_every=0, reward_mode="fractional"),
        seed=0,
    )
    rec_f = frac.step()
    # Each failure counts 0.1 in fractional mode.
    np.testing.assert_allclose(rec_f.successes, rec.successes + 0.1 * (4 - rec.successes))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"m": 0}, ValueError, "m must be >= 1"),
        ({"k": 2.0}, TypeError, "k must be an integer"),
        ({"m_hat": 4, "m": 8}, ValueError, "m_hat must be >= m"),
        ({"candidate_ratio": 0.5}, ValueError, "candidate_ratio must be >= 1"),
        ({"reward_mode": "graded"}, ValueError, "reward_mode"),
    ],
)
def test_bad_config_is_refused(kwargs, error, match):
    with pytest.raises(error, match=match):
        LoopConfig(**kwargs)


def test_m_larger_than_pool_and_mismatched_belief_are_refused(env):
    with pytest.raises(ValueError, match="cannot be chosen from a pool of 300"):
        SelectionLoop(env, "random", LoopConfig(m=301))
    with pytest.raises(ValueError, match="belief covers 5 prompts but the pool has 300"):
        SelectionLoop(env, "random", LoopConfig(m=4), belief=BetaBelief(5))
    with pytest.raises(TypeError, match="Environment protocol"):
        SelectionLoop(object(), "random", LoopConfig(m=4))


def test_diagnostics_come_only_from_a_diagnosed_environment(env):
    class Plain:
        """The four members of Environment and nothing else."""

        def __init__(self, inner):
            self.inner = inner
            self.pool_size = inner.pool_size

        def rollout(self, ids, k, rng):
            return self.inner.rollout(ids, k, rng)

        def learn(self, ids, rollout, rng):
            return self.inner.learn(ids, rollout, rng)

        def evaluate(self, rng):
            return self.inner.evaluate(rng)

    assert isinstance(env, Diagnosed) and not isinstance(Plain(env), Diagnosed)
    cfg = LoopConfig(m=10, k=4, steps=2, eval_every=0)
    loop = SelectionLoop(env, "random", cfg, seed=0)
    rec = loop.step()
    expected = np.abs(loop.belief.mean - env.rates).mean()
    assert rec.metrics["belief/mean_abs_error"] == pytest.approx(expected)
    plain = SelectionLoop(Plain(env), "random", cfg, seed=0).step()
    assert not any(name.startswith("belief/") for name in plain.metrics)
    assert plain.ids.tolist() == rec.ids.tolist()  # same draws: only the diagnostics differ
