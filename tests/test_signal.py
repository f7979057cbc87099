"""Scores about learning and the adaptive mu (learning_signal, beliefs.lag, selectors.signal).

Every closed form is checked against routes that share no code with it: 60-digit mpmath
from the definitions, scipy quadrature over the Beta density, and Monte Carlo.
"""

from __future__ import annotations

import json
import math

import mpmath as mp
import numpy as np
import pytest
from scipy import integrate, stats

from insight_bayes import (
    BetaBelief,
    FixedRateEnvironment,
    LoopConfig,
    SelectionLoop,
    beta_binomial_pmf,
    make_selector,
    mutual_information,
    selector_from_label,
    wmi_score,
)
from insight_bayes.beliefs.lag import LagBelief
from insight_bayes.integrations import OnlineConfig, OnlineSelector
from insight_bayes.learning_signal import (
    adaptive_mu,
    predictive_group_std,
    predictive_mixed_probability,
    signal_information_score,
)
from insight_bayes.rewards import (
    ADVANTAGE_DDOF,
    expected_group_std,
    group_std_by_successes,
    informative_probability,
)
from insight_bayes.selectors import BEYOND_RULES, InSightAdaptive

mp.mp.dps = 60

PARAMS = [
    (a, b, k)
    for a in (1e-3, 0.3, 1.0, 7.5, 1e3, 1e7)
    for b in (1e-3, 0.5, 1.0, 40.0, 1e6)
    for k in (2, 8, 64)
]


def mp_mixed(a: float, b: float, k: int) -> float:
    """1 - B(a + K, b) / B(a, b) - B(a, b + K) / B(a, b), the definition, at 60 digits."""
    a_, b_ = mp.mpf(a), mp.mpf(b)
    whole = mp.beta(a_, b_)
    return float(1 - mp.beta(a_ + k, b_) / whole - mp.beta(a_, b_ + k) / whole)


def mp_group_std(a: float, b: float, k: int) -> float:
    """sum_s C(K, s) B(a + s, b + K - s) / B(a, b) sqrt(s/K (1 - s/K)), at 60 digits."""
    a_, b_ = mp.mpf(a), mp.mpf(b)
    whole = mp.beta(a_, b_)
    total = mp.mpf(0)
    for s in range(k + 1):
        frac = mp.mpf(s) / k
        prob = mp.binomial(k, s) * mp.beta(a_ + s, b_ + k - s) / whole
        total += prob * mp.sqrt(frac * (1 - frac))
    return float(total)


# ------------------------------------------------------------ mixed probability
@pytest.mark.parametrize(("a", "b", "k"), PARAMS)
def test_mixed_probability_matches_60_digit_definition(a, b, k):
    expected = mp_mixed(a, b, k)
    assert predictive_mixed_probability(a, b, k) == pytest.approx(expected, rel=1e-9, abs=1e-300)


def test_mixed_probability_monte_carlo():
    rng = np.random.default_rng(12)
    a, b, k, draws = 1.7, 4.2, 8, 400_000
    s = rng.binomial(k, rng.beta(a, b, draws))
    mixed = (s > 0) & (s < k)
    se = mixed.std() / math.sqrt(draws)
    assert abs(predictive_mixed_probability(a, b, k) - mixed.mean()) < 4 * se


def test_mixed_probability_uniform_prior_and_k1():
    # Beta(1, 1): S is uniform on 0..K, so P(mixed) = (K - 1) / (K + 1)
    for k in (2, 5, 8):
        assert predictive_mixed_probability(1.0, 1.0, k) == pytest.approx((k - 1) / (k + 1))
    assert predictive_mixed_probability(np.array([0.3, 5.0]), 2.0, 1).tolist() == [0.0, 0.0]


@pytest.mark.parametrize("n", [1e3, 1e5, 1e7])
def test_mixed_probability_tends_to_known_rate_form(n):
    m, k = 0.23, 8
    got = predictive_mixed_probability(m * n, (1 - m) * n, k)
    assert got == pytest.approx(float(informative_probability(m, k)), rel=10 * k / n)


def test_mixed_probability_symmetric_and_broadcasts():
    a = np.array([0.5, 2.0, 30.0])[:, None]
    b = np.array([1.0, 9.0])
    out = predictive_mixed_probability(a, b, 8)
    assert out.shape == (3, 2)
    np.testing.assert_allclose(out, predictive_mixed_probability(b, a, 8), rtol=1e-13)
    assert isinstance(predictive_mixed_probability(1.0, 2.0, 8), float)


# -------------------------------------------------------------- expected std
def test_group_std_table_is_the_std_of_a_group():
    k = 8
    groups = (np.arange(k)[None, :] < np.arange(k + 1)[:, None]).astype(float)
    np.testing.assert_allclose(
        group_std_by_successes(k), groups.std(axis=1, ddof=ADVANTAGE_DDOF), atol=1e-15
    )


@pytest.mark.parametrize(("a", "b", "k"), PARAMS)
def test_group_std_matches_60_digit_definition(a, b, k):
    assert ADVANTAGE_DDOF == 0  # the reference writes the population std
    expected = mp_group_std(a, b, k)
    assert predictive_group_std(a, b, k) == pytest.approx(expected, rel=1e-9, abs=1e-300)


@pytest.mark.parametrize(
    ("a", "b", "k"), [(1.0, 1.0, 8), (2.5, 7.0, 8), (0.4, 0.9, 4), (30.0, 12.0, 16)]
)
def test_group_std_is_the_beta_average_of_the_known_rate_form(a, b, k):
    quad, _ = integrate.quad(
        lambda p: stats.beta.pdf(p, a, b) * float(expected_group_std(p, k)),
        0.0,
        1.0,
        limit=200,
    )
    assert predictive_group_std(a, b, k) == pytest.approx(quad, rel=1e-7)


def test_group_std_monte_carlo_with_numpy_std():
    rng = np.random.default_rng(5)
    a, b, k, draws = 3.0, 2.0, 8, 200_000
    rewards = rng.random((draws, k)) < rng.beta(a, b, draws)[:, None]
    sample = rewards.astype(float).std(axis=1, ddof=ADVANTAGE_DDOF)
    se = sample.std() / math.sqrt(draws)
    assert abs(predictive_group_std(a, b, k) - sample.mean()) < 4 * se


def test_compiled_group_std_equals_pmf_route_serial_and_parallel():
    rng = np.random.default_rng(3)
    a = 10.0 ** rng.uniform(-2, 5, 250_000)  # above PARALLEL_MIN_SIZE: parallel kernel
    b = 10.0 ** rng.uniform(-2, 5, 250_000)
    expected = beta_binomial_pmf(8, a, b) @ group_std_by_successes(8)
    np.testing.assert_allclose(predictive_group_std(a, b, 8), expected, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(
        predictive_group_std(a[:1000], b[:1000], 8), expected[:1000], rtol=1e-12, atol=1e-300
    )
    big = predictive_mixed_probability(a, b, 8)
    np.testing.assert_array_equal(big[:1000], predictive_mixed_probability(a[:1000], b[:1000], 8))


def test_group_std_bounds_and_limit():
    assert predictive_group_std(1e9, 1e9, 2) == pytest.approx(0.25, rel=1e-6)  # p = 1/2, K = 2
    assert 0.0 <= predictive_group_std(1e-3, 1e-3, 64) <= 0.5
    assert predictive_group_std(2.0, 3.0, 1) == 0.0


def test_signal_information_is_the_product():
    a, b = np.array([1.0, 3.0, 50.0]), np.array([1.0, 8.0, 20.0])
    np.testing.assert_allclose(
        signal_information_score(a, b, 8),
        mutual_information(a, b, 8) * predictive_group_std(a, b, 8),
        rtol=1e-14,
    )


@pytest.mark.parametrize(
    "fn", [predictive_mixed_probability, predictive_group_std, signal_information_score]
)
def test_bad_input_is_refused(fn):
    with pytest.raises(ValueError, match="alpha must be finite and > 0"):
        fn(np.array([1.0, -1.0]), 1.0, 8)
    with pytest.raises(ValueError, match="beta must be finite and > 0"):
        fn(1.0, np.nan, 8)
    with pytest.raises(ValueError, match="k must be >= 1"):
        fn(1.0, 1.0, 0)
    with pytest.raises(TypeError, match="k must be an integer"):
        fn(1.0, 1.0, 8.0)
    with pytest.raises(ValueError, match="must broadcast together"):
        fn(np.ones(3), np.ones(2), 8)


# --------------------------------------------------------------- adaptive mu
def test_adaptive_mu_values():
    assert adaptive_mu(0.0) == 0.5
    assert adaptive_mu(0.2) == pytest.approx(0.3)
    assert adaptive_mu(-0.1) == pytest.approx(0.6)
    assert adaptive_mu(0.9) == 0.0
    assert adaptive_mu(-0.7) == 1.0
    with pytest.raises(ValueError, match="lag must be <= 1.0"):
        adaptive_mu(1.5)


def test_mu_half_minus_lag_maximises_signal_at_the_shifted_rate():
    # the derivation: a prompt with mean m lands at p = m + lag; E[std] at p peaks at 1/2
    lag = 0.17
    m = np.linspace(0.0, 1.0 - lag, 2001)
    signal = expected_group_std(m + lag, 8)
    assert m[np.argmax(signal)] == pytest.approx(adaptive_mu(lag), abs=1e-3)


def test_lag_belief_measures_revisited_prompts_only():
    belief = LagBelief(4, memory=0.5)
    belief.update([0, 1], successes=[2, 6], trials=[8, 8])  # first visits: not counted
    assert belief.lag == 0.0
    # prompt 0 is Beta(3, 7) (mean 0.3), prompt 1 Beta(7, 3) (mean 0.7); prompt 2 new
    belief.update([0, 1, 2], successes=[6, 6, 0], trials=[8, 8, 8])
    # residuals (6 - 2.4) + (6 - 5.6) = 4.0 over 16 trials
    assert belief.lag == pytest.approx(4.0 / 16.0)
    # prompt 0 is now Beta(9, 9) (mean 1/2): residual 0 - 4 = -4 over 8, old totals halved
    belief.update([0], successes=[0], trials=[8])
    assert belief.lag == pytest.approx((0.5 * 4.0 - 4.0) / (0.5 * 16.0 + 8.0))


def test_lag_belief_update_is_atomic_and_validated():
    belief = LagBelief(3)
    belief.update([0], successes=[3], trials=[8])
    belief.update([0], successes=[8], trials=[8])
    before = belief.state_dict()
    with pytest.raises(ValueError, match="successes must not exceed trials"):
        belief.update([0, 1], successes=[9, 0], trials=[8, 8])
    with pytest.raises(ValueError, match="ids"):
        belief.update([7], successes=[1], trials=[8])
    after = belief.state_dict()
    assert json.dumps({k: np.asarray(v).tolist() for k, v in before.items()}) == json.dumps(
        {k: np.asarray(v).tolist() for k, v in after.items()}
    )
    with pytest.raises(ValueError, match="memory must be < 1.0"):
        LagBelief(3, memory=1.0)


def test_lag_belief_state_round_trips(tmp_path):
    belief = LagBelief(5, alpha0=0.5, beta0=2.0, discount=0.8, memory=0.25)
    belief.update([0, 1], successes=[1, 4], trials=[8, 8])
    belief.update([0, 1, 3], successes=[7, 8, 0], trials=[8, 8, 8])
    for other in (
        LagBelief.from_state_dict(belief.state_dict()),
        belief.copy(),
        LagBelief.load(belief.save(tmp_path / "lag.npz")),
    ):
        assert isinstance(other, LagBelief)
        assert other.lag == belief.lag != 0.0
        assert other.memory == 0.25 and other.discount == 0.8
        np.testing.assert_array_equal(other.alpha, belief.alpha)
    fresh = LagBelief(5, memory=0.25)
    fresh.load_state_dict(belief.state_dict())
    assert fresh.lag == belief.lag
    # a plain belief's state (what OnlineSelector saves): counts kept, memory kept, lag 0
    plain = BetaBelief.from_state_dict(belief.state_dict()).state_dict()
    for key in ("memory", "lag_residual", "lag_trials"):
        plain.pop(key, None)
    fresh.load_state_dict(plain)
    assert fresh.lag == 0.0 and fresh.memory == 0.25
    np.testing.assert_array_equal(fresh.beta, belief.beta)
    bad = {**belief.state_dict(), "lag_residual": 100.0, "lag_trials": 8.0}
    with pytest.raises(ValueError, match="must not exceed lag_trials"):
        LagBelief.from_state_dict(bad)


# --------------------------------------------------------------------- rules
def test_beyond_rules_are_registered_and_score_as_their_closed_forms():
    belief = LagBelief(6)
    belief.update([0, 1, 2], successes=[1, 4, 8], trials=[8, 8, 8])
    belief.update([0, 1], successes=[5, 8], trials=[8, 8])  # rose: lag > 0
    ids = np.arange(6)
    a, b = belief.alpha, belief.beta
    expected = {
        "learning-signal": predictive_mixed_probability(a, b, 8),
        "expected-std": predictive_group_std(a, b, 8),
        "signal-information": signal_information_score(a, b, 8),
        "insight-adaptive": wmi_score(a, b, 8, adaptive_mu(belief.lag), 3.0),
    }
    assert set(expected) <= set(BEYOND_RULES)
    for name, value in expected.items():
        rule = make_selector(name)
        got = rule.score(ids, belief, 8, np.random.default_rng(0))
        np.testing.assert_allclose(got, value, rtol=1e-14)
    assert belief.lag > 0.0
    assert make_selector("insight-adaptive").current_mu(belief) < 0.5


def test_insight_adaptive_refuses_a_belief_without_the_lag():
    rule = make_selector("insight-adaptive")
    with pytest.raises(ValueError, match="LagBelief"):
        rule.select(np.arange(4), BetaBelief(4), m=2, k=8, rng=0)
    with pytest.raises(ValueError, match="memory=0.5 but the belief"):
        rule.check_belief(LagBelief(4, memory=0.9))
    with pytest.raises(ValueError, match="eta must be >= 0"):
        make_selector("insight-adaptive", eta=-1.0)
    labelled = selector_from_label("insight-adaptive:discount=0.5,memory=0.25")
    assert labelled == InSightAdaptive(memory=0.25, discount=0.5)
    tuned = labelled.new_belief(4, discount=1.0)
    assert isinstance(tuned, LagBelief)
    assert tuned.memory == 0.25 and tuned.discount == 0.5


@pytest.mark.parametrize("rule", BEYOND_RULES)
def test_rules_run_in_the_loop_and_online_selector_reproduces_it(rule):
    rates = np.linspace(0.02, 0.98, 80)
    env = FixedRateEnvironment(rates)
    cfg = LoopConfig(m=6, k=8, steps=10, candidate_ratio=4, eval_every=0)
    loop = SelectionLoop(env, rule, cfg, seed=3)
    records = loop.run(progress=False)
    assert len(records) == 10
    selector = OnlineSelector(80, rule, OnlineConfig(m=6, k=8, candidate_ratio=4), seed=3)
    env_rng = np.random.default_rng(np.random.SeedSequence(3).spawn(2)[1])
    for record in records:
        ids = selector.next_batch()
        np.testing.assert_array_equal(ids, record.ids)
        out = env.rollout(ids, 8, env_rng)
        env.learn(ids, out, env_rng)
        selector.report(ids, out.rewards)
    np.testing.assert_array_equal(selector.belief.alpha, loop.belief.alpha)
    if rule == "insight-adaptive":
        assert isinstance(selector.belief, LagBelief)
        assert selector.belief.lag == loop.belief.lag
    # save and restore through JSON: the counts survive (the lag restarts at 0)
    restored = OnlineSelector(80, rule, OnlineConfig(m=6, k=8, candidate_ratio=4), seed=3)
    restored.load_state_dict(json.loads(json.dumps(selector.state_dict())))
    np.testing.assert_array_equal(restored.belief.alpha, selector.belief.alpha)
    assert restored.next_batch().shape == (6,)


def test_docstring_examples():
    import doctest

    import insight_bayes.learning_signal as module

    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 3 and result.failed == 0
