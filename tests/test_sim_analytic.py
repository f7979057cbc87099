"""Analytic expectations against independent routes (quadrature, Monte Carlo)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from scipy import integrate, stats

from insight_bayes import BetaBelief, make_selector, mutual_information
from insight_bayes.beta import beta_entropy
from insight_bayes.rewards import informative_groups, informative_probability
from insight_bayes.selectors import top_m
from simulations.analytic import (
    compare_rules,
    expected_information_gain,
    expected_top_m_sum,
    oracle_ceiling,
    rule_expectation,
)
from simulations.scenarios import get_scenario


def test_informative_probability_against_simulation():
    rng = np.random.default_rng(0)
    p = np.array([0.0, 0.1, 0.5, 0.9, 1.0])
    sims = rng.random((p.size, 200_000, 4)) < p[:, None, None]
    mc = informative_groups(sims.reshape(-1, 4).astype(float)).reshape(p.size, -1).mean(axis=1)
    np.testing.assert_allclose(informative_probability(p, 4), mc, atol=0.004)
    assert informative_probability(0.5, 1) == 0.0


def test_information_gain_averages_to_mutual_information():
    # E_{p ~ Beta(a, b)} G_K(a, b; p) = I_K(a, b) (Eq. 13), by quadrature
    for a, b, k in [(1.0, 1.0, 8), (3.0, 7.0, 4), (20.0, 5.0, 8)]:

        def integrand(p, a=a, b=b, k=k):
            return stats.beta.pdf(p, a, b) * expected_information_gain(a, b, p, k)

        value, _ = integrate.quad(integrand, 0, 1, limit=200)
        assert value == pytest.approx(float(mutual_information(a, b, k)), rel=1e-6)


def test_information_gain_against_monte_carlo_entropy_drop():
    rng = np.random.default_rng(1)
    a, b, p, k = 2.0, 3.0, 0.7, 8
    s = rng.binomial(k, p, size=400_000)
    drop = beta_entropy(a, b) - np.asarray(beta_entropy(a + s, b + k - s))
    assert expected_information_gain(a, b, p, k) == pytest.approx(drop.mean(), abs=3e-3)


def test_expected_top_m_sum_with_ties_against_brute_force():
    scores = np.array([3.0, 2.0, 2.0, 2.0, 1.0])
    values = np.array([10.0, 1.0, 2.0, 6.0, 100.0])
    # top 2: the 3.0 for sure, one of three tied 2.0 -> 10 + (1 + 2 + 6) / 3
    assert expected_top_m_sum(scores, values, 2) == pytest.approx(13.0)
    rng = np.random.default_rng(2)
    sums = [values[top_m(scores, 2, rng)].sum() for _ in range(20_000)]
    assert np.mean(sums) == pytest.approx(13.0, abs=0.1)


def _scene(n=60, seed=3):
    rng = np.random.default_rng(seed)
    rates = np.clip(rng.beta(0.7, 0.7, n), 0.0, 1.0)
    belief = BetaBelief(n)
    seen = rng.choice(n, n // 2, replace=False)
    belief.update(seen, rng.binomial(4, rates[seen]).astype(float), np.full(seen.size, 4.0))
    return belief, rates


@pytest.mark.parametrize(
    "rule", ["random", "expected-difficulty", "insight", "mi", "mopps", "insight-sampled"]
)
def test_rule_expectation_matches_simulated_selection(rule):
    """Simulate select + Bernoulli rollouts and count informative groups and entropy drops."""
    belief, rates = _scene()
    k, m = 4, 12
    exp = rule_expectation(rule, belief, rates, k, m, n_samples=300, rng=4)
    rng = np.random.default_rng(5)
    selector = make_selector(rule)
    cand = np.arange(belief.n_prompts)
    counts, drops = [], []
    for _ in range(3000):
        ids = selector.select(cand, belief, m, k, rng).ids
        r = (rng.random((m, k)) < rates[ids, None]).astype(float)
        s = r.sum(axis=1)
        a, b = belief.alpha[ids], belief.beta[ids]
        counts.append(informative_groups(r).sum())
        drops.append(np.sum(beta_entropy(a, b) - np.asarray(beta_entropy(a + s, b + k - s))))
    se_c = np.std(counts) / np.sqrt(len(counts)) + exp["informative_se"]
    se_d = np.std(drops) / np.sqrt(len(drops)) + exp["information_se"]
    assert exp["informative"] == pytest.approx(np.mean(counts), abs=4 * se_c)
    assert exp["information"] == pytest.approx(np.mean(drops), abs=4 * se_d)
    assert exp["method"] == ("monte-carlo" if rule in ("mopps", "insight-sampled") else "exact")


def test_oracle_is_the_ceiling_and_dynamic_sampling_is_monte_carlo():
    belief, rates = _scene(n=80, seed=6)
    df = compare_rules(belief, rates, 4, 16, n_samples=100, rng=7).set_index("rule")
    oracle = df.loc["oracle"]
    # the oracle bounds every rule that chooses before the rollouts; Dynamic Sampling
    # filters realised rollouts and may beat it on realised informative groups
    others = df.drop(index=["oracle", "dynamic-sampling"])
    assert np.all(others["informative"] <= oracle["informative"] + 3 * others["informative_se"])
    assert np.all(others["information"] <= oracle["information"] + 3 * others["information_se"])
    assert df.loc["dynamic-sampling", "method"] == "monte-carlo"
    # Dynamic Sampling drops uninformative groups, so it beats Random on this count
    assert df.loc["dynamic-sampling", "informative"] > df.loc["random", "informative"]


def test_oracle_ceiling_before_any_evidence_ties_every_deterministic_rule_to_random():
    """With no warm-up every prompt has the prior: deterministic scores all tie, so each
    exact rule's batch is a uniform draw of M candidates (the whole pool here)."""
    quick = get_scenario("quick")
    scenario = replace(quick, loop=replace(quick.loop, m_hat=quick.pool_size))
    table = oracle_ceiling(scenario, seed=1, warmup_steps=0, n_samples=5).set_index("rule")
    rates = scenario.build_env(1).rates
    k, m = scenario.loop.k, scenario.loop.m
    exact = table[table["method"] == "exact"]
    assert len(exact) == 6
    np.testing.assert_allclose(exact["informative"], m * informative_probability(rates, k).mean())
    np.testing.assert_allclose(exact["information"], exact.loc["random", "information"])
    oracle = table.loc["oracle"]
    assert oracle["informative"] == pytest.approx(
        np.sort(informative_probability(rates, k))[::-1][:m].sum()
    )
    assert (exact["information"] < oracle["information"]).all()


def test_rule_expectation_refuses_bad_rates_shape():
    with pytest.raises(ValueError, match="rates must have shape"):
        rule_expectation("random", BetaBelief(5), np.zeros(4), 4, 2)
    with pytest.raises(ValueError, match="rates must lie"):
        informative_probability([1.5], 4)
