"""Beliefs that track a moving policy: closed forms against independent routes (scipy,
Monte Carlo of the drift model), the empirical-Bayes drift fit, the belief's clock and
state, and the tracking rules through the loop and OnlineSelector."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import special, stats

from insight_bayes import BetaBelief, FixedRateEnvironment, LoopConfig, SelectionLoop
from insight_bayes.acquisition import wmi_score
from insight_bayes.beliefs.drift import DriftFit, DriftParams
from insight_bayes.beliefs.tracking_belief import TrackingBelief
from insight_bayes.beliefs.tracking_maths import (
    beta_binomial_logpmf,
    beta_from_logit_moments,
    logit_moments,
    propagate_beta,
    tetragamma,
    trigamma,
)
from insight_bayes.integrations import OnlineConfig, OnlineSelector
from insight_bayes.selectors import BEYOND_RULES, available_selectors, make_selector

# ----------------------------------------------------------------- special functions
X = np.geomspace(1e-3, 1e7, 61)


def test_trigamma_and_tetragamma_match_scipy():
    np.testing.assert_allclose(trigamma(X), special.polygamma(1, X), rtol=1e-12)
    np.testing.assert_allclose(tetragamma(X), special.polygamma(2, X), rtol=1e-11)


def test_logit_moments_match_monte_carlo():
    rng = np.random.default_rng(0)
    for a, b in [(1.0, 1.0), (3.0, 7.0), (40.0, 5.0)]:
        x = special.logit(rng.beta(a, b, 400_000))
        mean, var = logit_moments(a, b)
        se = np.sqrt(var / x.size)
        assert abs(x.mean() - mean) < 5 * se  # 5 standard errors
        assert abs(x.var() / var - 1) < 0.02


@pytest.mark.parametrize("a, b", [(1.0, 1.0), (0.05, 3.0), (2.5, 1e6), (1e4, 3e4), (0.3, 0.4)])
def test_beta_from_logit_moments_inverts_scipy_moments(a, b):
    mean = special.digamma(a) - special.digamma(b)  # independent route: scipy
    var = special.polygamma(1, a) + special.polygamma(1, b)
    a2, b2 = beta_from_logit_moments(mean, var)
    np.testing.assert_allclose([a2, b2], [a, b], rtol=1e-8)


def test_beta_from_logit_moments_random_round_trip():
    rng = np.random.default_rng(1)
    a = np.exp(rng.uniform(np.log(0.05), np.log(1e6), 5000))
    b = np.exp(rng.uniform(np.log(0.05), np.log(1e6), 5000))
    a2, b2 = beta_from_logit_moments(*logit_moments(a, b))
    np.testing.assert_allclose(a2, a, rtol=1e-8)
    np.testing.assert_allclose(b2, b, rtol=1e-8)


# ----------------------------------------------------------------------- propagation
def test_propagation_without_drift_is_the_identity():
    a, b = np.array([1.0, 3.0, 0.2]), np.array([1.0, 9.0, 5.0])
    a2, b2 = propagate_beta(a, b, 0.0, 0.0)
    np.testing.assert_array_equal(a2, a)
    np.testing.assert_array_equal(b2, b)


@pytest.mark.parametrize(
    "a, b, shift, added",
    [(1.0, 1.0, 0.5, 0.3), (4.0, 12.0, 0.3, 0.05), (30.0, 10.0, -0.2, 0.5), (8.0, 8.0, 1.0, 2.0)],
)
def test_propagation_matches_monte_carlo_of_the_random_walk(a, b, shift, added):
    """Logit moments are exact (up to Monte Carlo error); the Beta shape is the
    approximation: its mean within 0.01 and its central 90% interval covering 90 +/- 2%
    of the simulated rates."""
    rng = np.random.default_rng(2)
    x = special.logit(rng.beta(a, b, 400_000)) + shift + np.sqrt(added) * rng.normal(size=400_000)
    phi = special.expit(x)
    a2, b2 = propagate_beta(a, b, shift, added)
    mean, var = logit_moments(a2, b2)
    assert abs(x.mean() - mean) < 5 * np.sqrt(var / x.size)
    assert abs(x.var() / var - 1) < 0.02
    assert abs(phi.mean() - a2 / (a2 + b2)) < 0.01
    lo, hi = stats.beta.ppf([0.05, 0.95], a2, b2)
    assert abs(((phi >= lo) & (phi <= hi)).mean() - 0.9) < 0.02


def test_propagation_far_from_the_last_visit_stays_finite():
    a, b = propagate_beta([1.0, 3.0, 2.0], [1.0, 5.0, 2.0], [1500.0, -1500.0, 0.0], [0.0, 1.0, 5e3])
    assert np.all(np.isfinite(a) & np.isfinite(b) & (a > 0) & (b > 0))
    mean, var = logit_moments(a, b)
    np.testing.assert_allclose(mean[:2], [40.0, -40.0], rtol=1e-9)  # the clip
    np.testing.assert_allclose(var[2], 2 * special.polygamma(1, 2.0) + 5e3, rtol=1e-9)


def test_propagation_refuses_bad_input():
    with pytest.raises(ValueError, match="added_variance"):
        propagate_beta(1.0, 1.0, 0.0, -0.1)
    with pytest.raises(ValueError, match="shift"):
        propagate_beta(1.0, 1.0, np.nan, 0.1)
    with pytest.raises(ValueError, match="alpha"):
        propagate_beta(-1.0, 1.0, 0.0, 0.1)
    with pytest.raises(ValueError, match="var"):
        beta_from_logit_moments(0.0, 0.0)


def test_beta_binomial_logpmf_matches_scipy():
    s = np.arange(9)
    for a, b in [(1.0, 1.0), (0.3, 7.0), (250.0, 40.0)]:
        np.testing.assert_allclose(
            beta_binomial_logpmf(s, 8, a, b), stats.betabinom.logpmf(s, 8, a, b), rtol=1e-10
        )
    with pytest.raises(ValueError, match="successes"):
        beta_binomial_logpmf(9, 8, 1.0, 1.0)


# ------------------------------------------------------------------------- drift fit
def simulate_drift(truth: DriftParams, *, n=2000, m=200, k=8, steps=60, seed=0):
    """Outcomes from the drift model itself, fed to a TrackingBelief with a fitted drift."""
    rng = np.random.default_rng(seed)
    x = special.logit(rng.beta(1.0, 1.0, n))  # the belief's prior is the truth at t = 0
    belief = TrackingBelief(n, fit=DriftFit(memory=1.0))
    visited = np.zeros(n, dtype=bool)
    for _ in range(steps):
        ids = rng.choice(n, m, replace=False)
        s = rng.binomial(k, special.expit(x[ids]))
        belief.update(ids, s, np.full(m, k))
        visited[ids] = True
        # the learner's step: a jump for this step's prompts, then the walk for all
        x[ids] += truth.jump
        x += truth.trend + np.sqrt(truth.diffusion) * rng.normal(size=n)
    return belief


@pytest.mark.parametrize(
    "truth",
    [
        DriftParams(trend=0.05, diffusion=0.01, jump=0.15),
        DriftParams(trend=0.0, diffusion=0.1, jump=0.0),
        DriftParams(trend=-0.05, diffusion=0.03, jump=0.3),
    ],
)
def test_drift_fit_recovers_known_parameters(truth):
    belief = simulate_drift(truth)
    est = belief.drift
    assert abs(est.trend - truth.trend) < 0.02
    assert abs(np.log10(est.diffusion) - np.log10(truth.diffusion)) < 0.5  # within ~3x
    assert est.jump == truth.jump


def test_drift_fit_before_any_revisit_is_zero_drift():
    belief = TrackingBelief(10)
    belief.update([0, 1], [3, 4], [8, 8])
    assert belief.drift == DriftParams()


def test_drift_fit_and_params_refuse_bad_input():
    with pytest.raises(ValueError, match="increasing"):
        DriftFit(trends=[0.1, 0.0])
    with pytest.raises(ValueError, match="diffusions"):
        DriftFit(diffusions=[-1.0, 1.0])
    with pytest.raises(ValueError, match="memory"):
        DriftFit(memory=0.0)
    with pytest.raises(ValueError, match="diffusion"):
        DriftParams(diffusion=-0.1)
    with pytest.raises(ValueError, match="either"):
        TrackingBelief(3, drift=DriftParams(), fit=DriftFit())


# ------------------------------------------------------------------------ the belief
def test_clock_elapsed_time_and_jump():
    drift = DriftParams(trend=0.1, diffusion=0.02, jump=0.2)
    belief = TrackingBelief(3, drift=drift)
    belief.update([0], [5], [8])  # clock 0 -> 1; prompt 0 stored Beta(6, 4) at clock 0
    belief.update([2], [1], [8])  # clock 1 -> 2
    belief.update([2], [1], [8])  # clock 2 -> 3
    assert belief.clock == 3
    a, b = belief.current([0, 1])
    exp0 = propagate_beta(6.0, 4.0, 3 * 0.1 + 0.2, 3 * 0.02)  # visited: jump once
    exp1 = propagate_beta(1.0, 1.0, 3 * 0.1, 3 * 0.02)  # never visited: no jump
    np.testing.assert_allclose([a[0], b[0]], [exp0[0], exp0[1]], rtol=1e-12)
    np.testing.assert_allclose([a[1], b[1]], [exp1[0], exp1[1]], rtol=1e-12)
    np.testing.assert_allclose(belief.alpha[:2], a, rtol=1e-12)  # pool view agrees
    assert belief.mean[0] > 0.6  # drifted up from 0.6


def test_zero_drift_reduces_to_the_plain_beta_belief():
    rng = np.random.default_rng(3)
    plain = BetaBelief(50, discount=0.7)
    tracking = TrackingBelief(50, discount=0.7, drift=DriftParams())
    for _ in range(20):
        ids = rng.choice(50, 10, replace=False)
        s = rng.integers(0, 9, 10)
        plain.update(ids, s, np.full(10, 8))
        tracking.update(ids, s, np.full(10, 8))
    np.testing.assert_allclose(tracking.alpha, plain.alpha, rtol=1e-12)
    np.testing.assert_allclose(tracking.beta, plain.beta, rtol=1e-12)


def test_bad_update_changes_nothing():
    belief = TrackingBelief(5)
    belief.update([0, 1], [2, 3], [8, 8])
    before = belief.state_dict()
    with pytest.raises(ValueError, match="exceed"):
        belief.update([0, 2], [9, 1], [8, 8])
    after = belief.state_dict()
    assert after["tracking_clock"] == before["tracking_clock"] == 1
    np.testing.assert_array_equal(after["alpha"], before["alpha"])


def fed_belief(seed=4) -> TrackingBelief:
    rng = np.random.default_rng(seed)
    belief = TrackingBelief(40)
    for _ in range(15):
        ids = rng.choice(40, 8, replace=False)
        belief.update(ids, rng.integers(0, 9, 8), np.full(8, 8))
    return belief


def test_state_dict_round_trip_continues_identically():
    belief = fed_belief()
    state = json.loads(
        json.dumps({k: np.asarray(v).tolist() for k, v in belief.state_dict().items()})
    )
    other = TrackingBelief.from_state_dict(state)
    copy = belief.copy()
    for b in (other, copy):
        np.testing.assert_allclose(b.alpha, belief.alpha, rtol=1e-14)
        assert b.clock == belief.clock and b.drift == belief.drift
    ids, s, t = [1, 2, 3], [1, 5, 8], [8, 8, 8]
    for b in (belief, other):
        b.update(ids, s, t)
    np.testing.assert_allclose(other.alpha, belief.alpha, rtol=1e-14)
    with pytest.raises(ValueError, match="no tracking fields"):
        TrackingBelief.from_state_dict(BetaBelief(3).state_dict())


def test_grow_adds_prompts_at_the_prior_now():
    belief = TrackingBelief(3, drift=DriftParams(trend=0.1))
    belief.update([0], [4], [8])
    belief.update([0], [4], [8])
    new = belief.grow(2)
    np.testing.assert_array_equal(new, [3, 4])
    np.testing.assert_allclose(belief.alpha[3:], [1.0, 1.0])  # no elapsed time yet


# -------------------------------------------------------------------------- the rules
def test_rules_registered_and_listed():
    assert set(BEYOND_RULES) <= set(available_selectors())
    assert "insight-tracking" in BEYOND_RULES


def test_tracking_rule_refuses_a_plain_belief():
    rule = make_selector("insight-tracking")
    assert isinstance(rule.new_belief(5), TrackingBelief)
    with pytest.raises(ValueError, match="needs a TrackingBelief"):
        rule.select(np.arange(5), BetaBelief(5), 2, 8, rng=0)
    with pytest.raises(ValueError, match="memory"):
        make_selector("insight-tracking", memory=0.0)
    with pytest.raises(ValueError, match="mu"):
        make_selector("insight-tracking", mu=2.0)


def test_insight_tracking_scores_wmi_of_the_propagated_beta():
    belief = TrackingBelief(4, drift=DriftParams(trend=0.3, diffusion=0.1, jump=0.1))
    belief.update([0, 1], [1, 6], [8, 8])
    belief.update([2], [3], [8])
    rule = make_selector("insight-tracking")
    cand = np.array([0, 1, 2, 3])
    # prompt 2 was first seen at clock 1: its prior had drifted one step by then
    a2, b2 = propagate_beta(1.0, 1.0, 0.3, 0.1)
    stored = [(2.0, 8.0, 2), (7.0, 3.0, 2), (a2 + 3.0, b2 + 5.0, 1), (1.0, 1.0, 2)]
    expected = []
    for (a, b, dt), visited in zip(stored, [True, True, True, False], strict=True):
        pa, pb = propagate_beta(a, b, 0.3 * dt + 0.1 * visited, 0.1 * dt)
        expected.append(float(wmi_score(pa, pb, 8)))
    np.testing.assert_allclose(rule.score(cand, belief, 8, None), expected, rtol=1e-12)


def test_stored_evidence_variant_moves_only_the_mean():
    belief = TrackingBelief(3, drift=DriftParams(trend=0.2, diffusion=0.3))
    belief.update([0], [2], [8])
    belief.update([1], [6], [8])
    rule = make_selector("insight-tracking", evidence="stored")
    a, b = belief.current([0, 1, 2])
    n = belief.stored_alpha[:3] + belief.stored_beta[:3]
    m = a / (a + b)
    expected = wmi_score(m * n, (1 - m) * n, 8)
    np.testing.assert_allclose(rule.score(np.arange(3), belief, 8, None), expected, rtol=1e-12)
    with pytest.raises(ValueError, match="evidence"):
        make_selector("insight-tracking", evidence="fresh")
    far = TrackingBelief(2, drift=DriftParams(trend=0.5))  # mean rounds to 1 in float64
    for _ in range(90):
        far.update([0], [8], [8])
    scores = rule.score(np.arange(2), far, 8, None)
    assert np.all(np.isfinite(scores)) and np.all(scores >= 0)


@pytest.mark.parametrize("rule", ["insight-tracking", "mopps-tracking"])
def test_rules_run_through_the_loop_and_online_selector(rule, tmp_path):
    rates = np.linspace(0.02, 0.98, 60)
    env = FixedRateEnvironment(rates)
    cfg = LoopConfig(m=6, k=8, steps=10, candidate_ratio=4, eval_every=0)
    loop = SelectionLoop(env, rule, cfg, seed=5)
    records = loop.run(progress=False)
    assert isinstance(loop.belief, TrackingBelief) and loop.belief.clock == 10

    selector = OnlineSelector(60, rule, OnlineConfig(m=6, k=8, candidate_ratio=4), seed=5)
    env_rng = np.random.default_rng(np.random.SeedSequence(5).spawn(2)[1])
    for i, record in enumerate(records):
        ids = selector.next_batch()
        np.testing.assert_array_equal(ids, record.ids)
        out = env.rollout(ids, 8, env_rng)
        env.learn(ids, out, env_rng)
        selector.report(ids, out.rewards)
        if i == 4:  # save and restore half way through
            path = selector.save(tmp_path / "online.json")
            selector = OnlineSelector(60, rule, OnlineConfig(m=6, k=8, candidate_ratio=4), seed=5)
            selector.load(path)
    np.testing.assert_allclose(selector.belief.alpha, loop.belief.alpha, rtol=1e-12)
