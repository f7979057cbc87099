"""Noisy and graded rewards (beliefs.noisy_maths, beliefs.dirichlet) against independent routes."""

from __future__ import annotations

import json

import mpmath as mp
import numpy as np
import pytest
from scipy import integrate, stats

from insight_bayes import BetaBelief, FixedRateEnvironment, LoopConfig, SelectionLoop
from insight_bayes.beliefs.dirichlet import (
    DirichletBelief,
    compositions,
    dirichlet_entropy,
    dirichlet_multinomial_pmf,
    dirichlet_mutual_information,
)
from insight_bayes.beliefs.noisy_belief import NoisyBetaBelief
from insight_bayes.beliefs.noisy_maths import (
    check_noise_rates,
    moment_matched_update,
    noise_kernel,
    noisy_mutual_information,
    noisy_posterior_moments,
    noisy_posterior_weights,
    noisy_predictive_pmf,
)
from insight_bayes.beta import mutual_information
from insight_bayes.integrations import OnlineConfig, OnlineSelector
from insight_bayes.selectors import BEYOND_RULES, make_selector, selector_from_label

CASES = [  # alpha, beta, K, eps0, eps1
    (1.0, 1.0, 8, 0.1, 0.1),
    (2.5, 7.0, 4, 0.05, 0.2),
    (30.0, 12.0, 8, 0.1, 0.0),
    (0.5, 0.7, 3, 0.0, 0.3),
    (0.3, 4.0, 1, 0.2, 0.2),
    (200.0, 50.0, 16, 0.01, 0.15),
]


def _observed_rate(p, eps0, eps1):
    return eps0 + (1.0 - eps0 - eps1) * p


# ------------------------------------------------------------------ validation
@pytest.mark.parametrize(
    ("eps0", "eps1", "match"),
    [
        (0.6, 0.4, "eps0 \\+ eps1 must be < 1"),
        (-0.1, 0.1, "eps0 must be >= 0"),
        (0.1, 1.0, "eps1 must be < 1"),
        (float("nan"), 0.1, "eps0 must be finite"),
        (1e-5, 0.1, "eps0 must be 0 or >= 0.001"),
    ],
)
def test_bad_noise_rates_are_refused(eps0, eps1, match):
    with pytest.raises(ValueError, match=match):
        check_noise_rates(eps0, eps1)
    with pytest.raises(ValueError, match=match):
        make_selector("insight-noisy", eps0=eps0, eps1=eps1)
    with pytest.raises(ValueError, match=match):
        noisy_mutual_information(1.0, 1.0, 4, eps0, eps1)


def test_bad_parameters_and_counts_are_refused():
    with pytest.raises(ValueError, match="alpha must be finite and > 0"):
        noisy_mutual_information(0.0, 1.0, 4, 0.1, 0.1)
    with pytest.raises(ValueError, match="successes must be whole numbers in \\[0, 4\\]"):
        noisy_posterior_weights(5, 4, 1.0, 1.0, 0.1, 0.1)
    with pytest.raises(TypeError, match="k must be an integer"):
        noise_kernel(4.0, 0.1, 0.1)


# ------------------------------------------------------------------ noise kernel
def test_noise_kernel_matches_simulated_flips():
    k, eps0, eps1 = 6, 0.15, 0.25
    kernel = noise_kernel(k, eps0, eps1)
    np.testing.assert_allclose(kernel.sum(axis=1), 1.0, atol=1e-14)
    rng = np.random.default_rng(0)
    n = 400_000
    for t in (0, 2, 6):
        correct = np.arange(k) < t
        keep = rng.random((n, k)) >= eps1  # a correct answer is reported with prob 1 - eps1
        false_pos = rng.random((n, k)) < eps0
        reported = np.where(correct, keep, false_pos).sum(axis=1)
        freq = np.bincount(reported, minlength=k + 1) / n
        # 5 standard errors of a frequency
        np.testing.assert_allclose(freq, kernel[t], atol=5 * np.sqrt(0.25 / n))
    np.testing.assert_array_equal(noise_kernel(5, 0.0, 0.0), np.eye(6))


# ------------------------------------------------------------------ predictive and posterior
@pytest.mark.parametrize(("a", "b", "k", "eps0", "eps1"), CASES)
def test_predictive_matches_quadrature(a, b, k, eps0, eps1):
    pmf = noisy_predictive_pmf(k, a, b, eps0, eps1)
    for s in range(k + 1):
        direct = integrate.quad(
            lambda p, s=s: (
                stats.beta.pdf(p, a, b) * stats.binom.pmf(s, k, _observed_rate(p, eps0, eps1))
            ),
            0,
            1,
            limit=200,
            epsabs=1e-13,
        )[0]
        assert pmf[s] == pytest.approx(direct, rel=1e-7, abs=1e-12)


@pytest.mark.parametrize(("a", "b", "k", "eps0", "eps1"), CASES)
def test_posterior_mixture_is_bayes_rule(a, b, k, eps0, eps1):
    s = k // 2
    weights = noisy_posterior_weights(s, k, a, b, eps0, eps1)
    assert weights.shape == (k + 1,) and weights.sum() == pytest.approx(1.0, abs=1e-14)
    t = np.arange(k + 1)
    evidence = integrate.quad(
        lambda p: stats.beta.pdf(p, a, b) * stats.binom.pmf(s, k, _observed_rate(p, eps0, eps1)),
        0,
        1,
        limit=200,
        epsabs=1e-14,
    )[0]
    for p in (0.05, 0.3, 0.5, 0.77, 0.95):
        mixture = np.sum(weights * stats.beta.pdf(p, a + t, b + k - t))
        bayes = stats.beta.pdf(p, a, b) * stats.binom.pmf(s, k, _observed_rate(p, eps0, eps1))
        assert mixture == pytest.approx(bayes / evidence, rel=1e-6)
    # moments against quadrature of the unnormalised posterior
    mean, var = noisy_posterior_moments(s, k, a, b, eps0, eps1)

    def moment(j):
        return (
            integrate.quad(
                lambda p: (
                    p**j
                    * stats.beta.pdf(p, a, b)
                    * stats.binom.pmf(s, k, _observed_rate(p, eps0, eps1))
                ),
                0,
                1,
                limit=200,
                epsabs=1e-14,
            )[0]
            / evidence
        )

    assert mean == pytest.approx(moment(1), rel=1e-7)
    assert var == pytest.approx(moment(2) - moment(1) ** 2, rel=1e-5)
    a_new, b_new = moment_matched_update(s, k, a, b, eps0, eps1)
    n_new = a_new + b_new
    assert a_new / n_new == pytest.approx(moment(1), rel=1e-7)
    assert a_new * b_new / (n_new**2 * (n_new + 1)) == pytest.approx(var, rel=1e-9)
    assert 0 < n_new <= a + b + k + 1e-9


def test_posterior_matches_monte_carlo_rejection():
    a, b, k, eps0, eps1, s = 2.0, 3.0, 8, 0.1, 0.2, 5
    rng = np.random.default_rng(1)
    p = rng.beta(a, b, 2_000_000)
    reported = rng.binomial(k, _observed_rate(p, eps0, eps1))
    kept = p[reported == s]
    mean, var = noisy_posterior_moments(s, k, a, b, eps0, eps1)
    se = np.sqrt(var / kept.size)
    assert abs(kept.mean() - mean) < 5 * se
    assert kept.var() == pytest.approx(var, rel=0.02)


def test_noise_free_update_is_conjugate():
    a_new, b_new = moment_matched_update([0, 3, 8], 8, [1.0, 2.0, 5.0], [1.0, 7.0, 0.5], 0.0, 0.0)
    np.testing.assert_allclose(a_new, [1.0, 5.0, 13.0], rtol=1e-12)
    np.testing.assert_allclose(b_new, [9.0, 12.0, 0.5], rtol=1e-12)


# ------------------------------------------------------------------ mutual information
def _mp_noisy_mi(a, b, k, eps0, eps1):
    """H[S] - E_p[H(Binomial(K, p'))] by mpmath quadrature of the binomial entropy."""
    mp.mp.dps = 30
    a_, b_ = mp.mpf(a), mp.mpf(b)
    c = 1 - mp.mpf(eps0) - mp.mpf(eps1)
    norm = mp.beta(a_, b_)

    def density(p):
        return p ** (a_ - 1) * (1 - p) ** (b_ - 1) / norm

    def pmf(s, q):
        return mp.binomial(k, s) * q**s * (1 - q) ** (k - s)

    def binomial_entropy(p):
        q = mp.mpf(eps0) + c * p
        return -mp.fsum(pmf(s, q) * mp.log(pmf(s, q)) for s in range(k + 1))

    pred = [mp.quad(lambda p, s=s: density(p) * pmf(s, mp.mpf(eps0) + c * p), [0, 0.5, 1])
            for s in range(k + 1)]  # fmt: skip
    h_s = -mp.fsum(q * mp.log(q) for q in pred)
    cond = mp.quad(lambda p: density(p) * binomial_entropy(p), [0, 0.5, 1])
    return float(h_s - cond)


@pytest.mark.parametrize(("a", "b", "k", "eps0", "eps1"), CASES)
def test_noisy_mutual_information_matches_mpmath_quadrature(a, b, k, eps0, eps1):
    assert noisy_mutual_information(a, b, k, eps0, eps1) == pytest.approx(
        _mp_noisy_mi(a, b, k, eps0, eps1), rel=1e-8, abs=1e-12
    )


@pytest.mark.parametrize(
    ("a", "b", "k", "eps0", "eps1"),
    [
        (1.5, 2.0, 8, 0.1, 0.1),
        # singular and concentrated beliefs, where the quadrature route is unreliable
        (0.05, 0.05, 8, 1e-3, 1e-3),
        (0.01, 3.0, 8, 1e-3, 0.2),
    ],
)
def test_noisy_mutual_information_matches_monte_carlo(a, b, k, eps0, eps1):
    rng = np.random.default_rng(2)
    p = rng.beta(a, b, 1_000_000)
    q = _observed_rate(p, eps0, eps1)
    s = rng.binomial(k, q)
    pred = noisy_predictive_pmf(k, a, b, eps0, eps1)
    samples = stats.binom.logpmf(s, k, q) - np.log(pred[s])  # ln p(S | p) - ln p(S)
    se = samples.std() / np.sqrt(samples.size)
    assert abs(samples.mean() - noisy_mutual_information(a, b, k, eps0, eps1)) < 5 * se


@pytest.mark.parametrize(
    ("a", "b", "k", "eps0", "eps1"), [(1e4, 3e4, 8, 0.1, 0.1), (2e5, 1e5, 16, 0.05, 0.3)]
)
def test_noisy_mutual_information_large_evidence_is_gaussian(a, b, k, eps0, eps1):
    """Large n: I ~ 0.5 ln(1 + K Fisher Var(p)), Fisher = c^2 / (p'(1 - p')) per rollout."""
    n, m = a + b, a / (a + b)
    c = 1.0 - eps0 - eps1
    q = eps0 + c * m
    approx = 0.5 * np.log1p(k * c**2 / (q * (1 - q)) * m * (1 - m) / (n + 1))
    assert noisy_mutual_information(a, b, k, eps0, eps1) == pytest.approx(approx, rel=1e-3)


def test_noisy_mutual_information_properties():
    a = np.array([1.0, 3.0, 40.0, 0.2])
    b = np.array([1.0, 9.0, 10.0, 5.0])
    # reduces to InSight's I_K without noise (a separate code path, Eq. 13)
    np.testing.assert_allclose(
        noisy_mutual_information(a, b, 8, 0.0, 0.0), mutual_information(a, b, 8), rtol=1e-11
    )
    # noise never adds information, and more noise removes more (data processing)
    clean = mutual_information(a, b, 8)
    mild = noisy_mutual_information(a, b, 8, 0.05, 0.05)
    strong = noisy_mutual_information(a, b, 8, 0.2, 0.2)
    assert np.all(strong < mild) and np.all(mild < clean)
    # swapping success and failure swaps alpha with beta and eps0 with eps1
    np.testing.assert_allclose(
        noisy_mutual_information(a, b, 8, 0.05, 0.2),
        noisy_mutual_information(b, a, 8, 0.2, 0.05),
        rtol=1e-11,
    )
    # a verifier that is nearly a coin carries almost nothing
    assert noisy_mutual_information(1.0, 1.0, 8, 0.499, 0.499) < 1e-4
    # the scalar and array paths agree, and the parallel kernel matches the serial one
    big_a = np.repeat(a, 60_000)
    big_b = np.repeat(b, 60_000)
    out = noisy_mutual_information(big_a, big_b, 8, 0.1, 0.1)
    np.testing.assert_array_equal(out.reshape(4, -1)[:, 0], out.reshape(4, -1)[:, -1])
    assert out[0] == noisy_mutual_information(1.0, 1.0, 8, 0.1, 0.1)


# ------------------------------------------------------------------ the belief
def test_noisy_belief_update_discount_repeats_and_atomicity():
    belief = NoisyBetaBelief(5, eps0=0.1, eps1=0.2, discount=0.5)
    belief.update([0, 0, 3], [2, 3, 1], [4, 4, 8])
    a, b = moment_matched_update(5, 8, 1.0, 1.0, 0.1, 0.2)  # one group of 8 with 5 reported
    assert belief.alpha[0] == pytest.approx(a) and belief.beta[0] == pytest.approx(b)
    before = belief.state_dict()
    belief.update([1], [0], [4])
    a1, b1 = moment_matched_update(0, 4, 1.0, 1.0, 0.1, 0.2)
    assert belief.alpha[1] == pytest.approx(a1)
    # discount toward the prior before the update (Eq. 6)
    belief.update([0], [4], [8])
    a2, b2 = moment_matched_update(4, 8, 0.5 * a + 0.5, 0.5 * b + 0.5, 0.1, 0.2)
    assert belief.alpha[0] == pytest.approx(a2) and belief.beta[0] == pytest.approx(b2)
    snapshot = belief.state_dict()
    with pytest.raises(ValueError, match="successes must not exceed trials"):
        belief.update([2, 4], [1, 9], [8, 8])
    with pytest.raises(ValueError, match="binary verdicts"):
        belief.update([2], [0.5], [1], fractional=True)
    np.testing.assert_array_equal(belief.alpha, snapshot["alpha"])
    assert before["eps0"] == 0.1


def test_noisy_belief_state_round_trip_and_refusals():
    belief = NoisyBetaBelief(4, eps0=0.1, eps1=0.05, alpha0=2.0)
    belief.update([1, 2], [3, 0], [4, 4])
    state = json.loads(
        json.dumps(
            {k: v.tolist() if hasattr(v, "tolist") else v for k, v in belief.state_dict().items()}
        )
    )
    other = NoisyBetaBelief.from_state_dict(
        {**state, "alpha": np.array(state["alpha"]), "beta": np.array(state["beta"])}
    )
    np.testing.assert_array_equal(other.alpha, belief.alpha)
    assert (other.eps0, other.eps1, other.alpha0) == (0.1, 0.05, 2.0)
    copy = belief.copy()
    assert isinstance(copy, NoisyBetaBelief) and copy.eps1 == 0.05
    with pytest.raises(ValueError, match="state has eps0=0.2"):
        belief.load_state_dict({**belief.state_dict(), "eps0": 0.2})
    with pytest.raises(ValueError, match="needs eps0 and eps1"):
        NoisyBetaBelief.from_state_dict(BetaBelief(3).state_dict())
    rule = make_selector("insight-noisy", eps0=0.1, eps1=0.05)
    with pytest.raises(ValueError, match="needs a NoisyBetaBelief"):
        rule.check_belief(BetaBelief(4))
    with pytest.raises(ValueError, match="its belief has eps0=0.2"):
        rule.check_belief(NoisyBetaBelief(4, eps0=0.2, eps1=0.05))
    rule.check_belief(belief)


# ------------------------------------------------------------------ the rule
def test_insight_noisy_is_insight_without_noise_and_differs_with_it():
    rng = np.random.default_rng(0)
    belief = NoisyBetaBelief(300, eps0=0.0, eps1=0.0)
    belief.update(np.arange(300), rng.integers(0, 9, 300), np.full(300, 8))
    plain = BetaBelief(300)
    plain.update(np.arange(300), (belief.alpha - 1).round(), np.full(300, 8))
    cand = np.arange(300)
    clean = make_selector("insight-noisy").score(cand, belief, 8, rng)
    np.testing.assert_allclose(
        clean, make_selector("insight").score(cand, plain, 8, rng), rtol=1e-11
    )
    noisy = make_selector("insight-noisy", eps0=0.1, eps1=0.1)
    assert np.all(noisy.score(cand, belief, 8, rng) < clean)
    assert "insight-noisy" in BEYOND_RULES


def test_insight_noisy_runs_through_the_loop_and_online_selector_identically():
    rates = np.linspace(0.02, 0.98, 80)
    env = FixedRateEnvironment(rates)
    label = "insight-noisy:eps0=0.1,eps1=0.05"
    cfg = LoopConfig(m=6, k=8, steps=10, candidate_ratio=4, eval_every=0)
    loop = SelectionLoop(env, label, cfg, seed=11)
    records = loop.run(progress=False)
    assert isinstance(loop.belief, NoisyBetaBelief)
    selector = OnlineSelector(
        80, selector_from_label(label), OnlineConfig(m=6, k=8, candidate_ratio=4), seed=11
    )
    env_rng = np.random.default_rng(np.random.SeedSequence(11).spawn(2)[1])
    for record in records:
        ids = selector.next_batch()
        np.testing.assert_array_equal(ids, record.ids)
        out = env.rollout(ids, 8, env_rng)
        env.learn(ids, out, env_rng)
        selector.report(ids, out.rewards)
    np.testing.assert_allclose(selector.belief.alpha, loop.belief.alpha, rtol=1e-12)
    # save / restore through plain data keeps the noise model
    state = json.loads(json.dumps(selector.state_dict()))
    again = OnlineSelector(
        80, selector_from_label(label), OnlineConfig(m=6, k=8, candidate_ratio=4), seed=11
    )
    again.load_state_dict(state)
    assert isinstance(again.belief, NoisyBetaBelief) and again.belief.eps1 == 0.05
    np.testing.assert_allclose(again.belief.alpha, loop.belief.alpha, rtol=1e-12)


# ------------------------------------------------------------------ graded rewards
def test_compositions_count_and_sum():
    comps = compositions(8, 3)
    assert comps.shape == (45, 3) and np.all(comps.sum(axis=1) == 8)
    assert len({tuple(r) for r in comps.tolist()}) == 45
    with pytest.raises(ValueError, match="too many"):
        compositions(200, 6)


def test_dirichlet_entropy_matches_scipy_and_the_beta_case():
    for alpha in ([1.0, 1.0, 1.0], [0.5, 2.0, 7.0], [30.0, 4.0, 0.3, 2.0]):
        assert dirichlet_entropy(alpha) == pytest.approx(
            stats.dirichlet(alpha).entropy(), rel=1e-12
        )
    assert dirichlet_entropy([2.0, 5.0]) == pytest.approx(stats.beta(2.0, 5.0).entropy(), rel=1e-12)
    with pytest.raises(ValueError, match="at least 2"):
        dirichlet_entropy([1.0])
    with pytest.raises(ValueError, match="finite and > 0"):
        dirichlet_entropy([1.0, -1.0, 2.0])


def test_dirichlet_multinomial_pmf_sums_to_one_and_matches_monte_carlo():
    alpha = np.array([0.7, 2.0, 1.3])
    comps = compositions(6, 3)
    pmf = dirichlet_multinomial_pmf(comps, alpha)
    assert pmf.sum() == pytest.approx(1.0, abs=1e-13)
    rng = np.random.default_rng(3)
    theta = rng.dirichlet(alpha, 400_000)
    counts = np.stack([rng.multinomial(6, t) for t in theta[:50_000]])
    index = {tuple(r): i for i, r in enumerate(comps.tolist())}
    freq = np.bincount([index[tuple(r)] for r in counts.tolist()], minlength=len(comps)) / 50_000
    np.testing.assert_allclose(freq, pmf, atol=5 * np.sqrt(0.25 / 50_000))
    with pytest.raises(ValueError, match="non-negative whole numbers"):
        dirichlet_multinomial_pmf([1.5, 0.5, 0.0], alpha)


@pytest.mark.parametrize(
    ("alpha", "k"), [([1.0, 1.0, 1.0], 8), ([3.0, 0.5, 6.0], 4), ([20.0, 10.0, 12.0], 8)]
)
def test_dirichlet_mutual_information_matches_monte_carlo(alpha, k):
    """I = E[ln Mult(x | theta) - ln DirMult(x)], sampled (shares no code with the sum)."""
    alpha = np.array(alpha)
    rng = np.random.default_rng(4)
    n = 200_000
    theta = rng.dirichlet(alpha, n)
    u = rng.random((n, k))
    cum = np.cumsum(theta, axis=1)
    cats = (u[:, :, None] > cum[:, None, :]).sum(axis=2)
    counts = np.stack([(cats == j).sum(axis=1) for j in range(alpha.size)], axis=1)
    log_lik = stats.multinomial.logpmf(counts, k, theta)
    from scipy.special import gammaln

    a0 = alpha.sum()
    log_marg = (
        gammaln(k + 1.0)
        - gammaln(counts + 1.0).sum(axis=1)
        + gammaln(a0)
        - gammaln(a0 + k)
        + (gammaln(alpha + counts) - gammaln(alpha)).sum(axis=1)
    )
    samples = log_lik - log_marg
    se = samples.std() / np.sqrt(n)
    assert abs(samples.mean() - dirichlet_mutual_information(alpha, k)) < 5 * se


def test_dirichlet_mutual_information_is_the_beta_case_for_two_categories():
    a = np.array([[1.0, 1.0], [2.5, 7.0], [40.0, 3.0]])
    np.testing.assert_allclose(
        dirichlet_mutual_information(a, 8), mutual_information(a[:, 0], a[:, 1], 8), rtol=1e-9
    )
    more = dirichlet_mutual_information(np.array([[1.0, 1.0, 1.0]]), 8)
    assert more.shape == (1,) and more[0] > dirichlet_mutual_information([1.0, 1.0], 8)


@pytest.mark.parametrize("alpha", [[1.0, 0.5, 0.5], [3.0, 0.2, 6.0, 1.0], [200.0, 90.0, 15.0]])
def test_dirichlet_mutual_information_equals_the_sum_over_compositions(alpha):
    """The marginal form against the definition: entropies of every posterior (scipy)."""
    k = 6
    comps = compositions(k, len(alpha))
    pmf = dirichlet_multinomial_pmf(comps, alpha)
    posterior = [stats.dirichlet(np.asarray(alpha) + x).entropy() for x in comps]
    direct = stats.dirichlet(alpha).entropy() - np.dot(pmf, posterior)
    assert dirichlet_mutual_information(alpha, k) == pytest.approx(direct, rel=1e-9)


# ------------------------------------------------------------------ the graded belief and rule
def test_dirichlet_belief_counts_categories_and_keeps_the_binary_view():
    belief = DirichletBelief(4, discount=0.5)
    rewards = np.array([[1.0, 0.1, 0.0, 0.1], [0.0, 0.0, 0.0, 1.0], [1.0, 1.0, 1.0, 0.1]])
    belief.update_from_rewards([0, 2, 0], rewards)
    # prompt 0: one step of 8 rollouts (3 correct, 3 format, 2 other), discounted once
    np.testing.assert_allclose(belief.concentration[0], [1.0 + 4, 0.5 + 3, 0.5 + 1])
    np.testing.assert_allclose(belief.concentration[2], [1.0 + 1, 0.5, 0.5 + 3])
    # binary view = the Beta belief of binarising at 1 (aggregation property)
    plain = BetaBelief(4, discount=0.5)
    plain.update([0, 2, 0], (rewards >= 1).sum(axis=1), [4, 4, 4])
    np.testing.assert_allclose(belief.alpha, plain.alpha)
    np.testing.assert_allclose(belief.beta, plain.beta)
    belief.update_from_rewards([0], rewards[:1])
    np.testing.assert_allclose(
        belief.concentration[0],
        0.5 * np.array([5.0, 3.5, 1.5]) + 0.5 * np.array([1.0, 0.5, 0.5]) + [1, 2, 1],
    )
    snapshot = belief.concentration.copy()
    with pytest.raises(ValueError, match="graded rewards must be 0, 0.1 or >= 1.0; got 0.5"):
        belief.update_from_rewards([1, 3], [[0.0, 1.0], [0.5, 0.0]])
    with pytest.raises(ValueError, match="needs the graded rewards"):
        belief.update([1], [1], [4])
    np.testing.assert_array_equal(belief.concentration, snapshot)
    state = belief.state_dict()
    other = DirichletBelief.from_state_dict(state)
    np.testing.assert_array_equal(other.concentration, belief.concentration)
    np.testing.assert_array_equal(belief.copy().alpha, belief.alpha)
    grown = belief.copy()
    assert grown.grow(2).tolist() == [4, 5] and grown.concentration.shape == (6, 3)
    with pytest.raises(ValueError, match="needs a DirichletBelief"):
        make_selector("insight-graded").check_belief(BetaBelief(3))
    with pytest.raises(ValueError, match="format_reward must be < 1.0"):
        make_selector("insight-graded", format_reward=1.0)


def test_insight_graded_scores_the_dirichlet_information():
    belief = DirichletBelief(3)
    belief.update_from_rewards([1, 2], [[1.0, 0.1, 0.1, 0.0], [0.0, 0.0, 0.0, 0.0]])
    rule = make_selector("insight-graded")
    scores = rule.score(np.arange(3), belief, 8, None)
    from insight_bayes.acquisition import difficulty_weight

    expected = [
        difficulty_weight(belief.mean[i]) * dirichlet_mutual_information(belief.concentration[i], 8)
        for i in range(3)
    ]
    np.testing.assert_allclose(scores, expected, rtol=1e-12)


def test_insight_graded_runs_through_the_loop_and_online_selector_identically():
    rates = np.linspace(0.02, 0.98, 60)

    class GradedEnv(FixedRateEnvironment):
        def rollout(self, ids, k, rng):
            out = super().rollout(ids, k, rng)
            formatted = (~out.correct) & (rng.random(out.correct.shape) < 0.5)
            return type(out)(out.correct * 1.0 + formatted * 0.1, out.correct)

    env = GradedEnv(rates)
    cfg = LoopConfig(m=5, k=8, steps=8, candidate_ratio=4, eval_every=0)
    loop = SelectionLoop(env, "insight-graded", cfg, seed=5)
    records = loop.run(progress=False)
    assert isinstance(loop.belief, DirichletBelief)
    assert loop.belief.concentration[:, 1].max() > 0.5  # format rewards were counted
    config = OnlineConfig(m=5, k=8, candidate_ratio=4)
    selector = OnlineSelector(60, "insight-graded", config, seed=5)
    env_rng = np.random.default_rng(np.random.SeedSequence(5).spawn(2)[1])
    for record in records:
        ids = selector.next_batch()
        np.testing.assert_array_equal(ids, record.ids)
        out = env.rollout(ids, 8, env_rng)
        env.learn(ids, out, env_rng)
        selector.report(ids, out.rewards)
    np.testing.assert_array_equal(selector.belief.concentration, loop.belief.concentration)
    again = OnlineSelector(60, "insight-graded", config, seed=5)
    again.load_state_dict(json.loads(json.dumps(selector.state_dict())))
    np.testing.assert_array_equal(again.belief.concentration, loop.belief.concentration)


@pytest.mark.parametrize(
    ("alpha", "k"),
    [([1.0, 0.5, 0.5], 8), ([3.0, 0.2, 6.0], 5), ([2e4, 9e3, 1.5e3], 8), ([0.01, 50.0, 2.0], 16)],
)
def test_dirichlet_mutual_information_by_the_chain_rule(alpha, k):
    """Stick-breaking: theta_1 ~ Beta(a1, a2 + a3) and theta_2 / (1 - theta_1) ~
    Beta(a2, a3) are independent, x_1 sees the first and x_2 | x_1 the second with
    K - x_1 trials, so I = I_K(a1, a2 + a3) + sum_t BB(t) I_{K - t}(a2, a3)."""
    a1, a2, a3 = alpha
    from insight_bayes.beta import beta_binomial_pmf

    pmf = beta_binomial_pmf(k, a1, a2 + a3)
    second = sum(pmf[t] * mutual_information(a2, a3, k - t) for t in range(k))
    chain = mutual_information(a1, a2 + a3, k) + second
    assert dirichlet_mutual_information(alpha, k) == pytest.approx(chain, rel=1e-10)
