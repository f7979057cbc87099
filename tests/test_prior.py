"""The empirical-Bayes prior: its fit against independent routes, and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import optimize, special, stats

from insight_bayes.beliefs.prior import EmpiricalBayesPrior
from insight_bayes.beliefs.prior_fit import (
    Hyperprior,
    beta_binomial_loglik,
    fit_beta_binomial,
    log_posterior,
)


def simulated_pool(a: float, b: float, n: int, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    trials = np.full(n, k)
    return rng.binomial(trials, rng.beta(a, b, n)), trials


def test_loglik_is_the_betabinomial_pmf_without_its_coefficient():
    s, k = np.array([0, 3, 8, 5]), np.array([8, 8, 8, 12])
    m, c = 0.3, 4.0
    want = stats.betabinom.logpmf(s, k, m * c, (1 - m) * c) - np.log(special.comb(k, s))
    np.testing.assert_allclose(beta_binomial_loglik(s, k, m, c), want, rtol=1e-12)
    assert beta_binomial_loglik(0, 0, 0.2, 3.0) == 0.0  # no rollouts, no evidence


def test_global_fit_is_the_maximum_of_a_brute_force_grid():
    s, k = simulated_pool(0.8, 2.0, 300, 8, seed=1)
    fit = fit_beta_binomial(s, k)
    assert fit.converged
    assert fit.log_posterior == pytest.approx(
        log_posterior(s, k, fit.mean, fit.concentration), rel=1e-12
    )
    u_hat, v_hat = special.logit(fit.mean[0]), math.log(fit.concentration[0])
    us = np.linspace(u_hat - 0.5, u_hat + 0.5, 41)
    vs = np.linspace(v_hat - 1.0, v_hat + 1.0, 41)
    grid = np.array([[log_posterior(s, k, special.expit(u), math.exp(v)) for v in vs] for u in us])
    i, j = np.unravel_index(np.argmax(grid), grid.shape)
    assert 0 < i < us.size - 1 and 0 < j < vs.size - 1  # an interior maximum
    assert fit.log_posterior >= grid.max() - 1e-9
    assert abs(us[i] - u_hat) <= us[1] - us[0] and abs(vs[j] - v_hat) <= vs[1] - vs[0]


@pytest.mark.parametrize(("a", "b", "k"), [(0.6, 1.4, 16), (3.0, 2.0, 8)])
def test_large_pool_recovers_known_prior_like_the_method_of_moments(a, b, k):
    s, trials = simulated_pool(a, b, 20_000, k, seed=2)
    fit = fit_beta_binomial(s, trials)
    # method of moments for equal K: E[S] = K m, Var[S] = K m (1 - m) (1 + (K - 1) / (s + 1))
    mean = s.mean() / k
    ratio = s.var() / (k * mean * (1 - mean))
    conc = (k - 1) / (ratio - 1) - 1
    mom = np.array([mean * conc, (1 - mean) * conc])
    got = np.array([fit.alpha[0], fit.beta[0]])
    np.testing.assert_allclose(got, [a, b], rtol=0.08)
    np.testing.assert_allclose(got, mom, rtol=0.08)
    assert fit.mean[0] == pytest.approx(a / (a + b), abs=0.01)


def test_two_rollouts_have_a_closed_form_maximum():
    """With K = 2 the model has as many free parameters as the counts' categories, so the
    maximum likelihood reproduces the observed frequencies of 0, 1, 2 successes."""
    n0, n1, n2 = 50, 30, 40
    s = np.repeat([0, 1, 2], [n0, n1, n2])
    n = n0 + n1 + n2
    m = (n1 + 2 * n2) / (2 * n)
    r = (n1 / n) / (2 * m * (1 - m))  # P(S = 1) = 2 m (1 - m) s / (s + 1)
    fit = fit_beta_binomial(s, np.full(n, 2), hyper=None)
    assert fit.mean[0] == pytest.approx(m, rel=1e-6)
    assert fit.concentration[0] == pytest.approx(r / (1 - r), rel=1e-5)


def test_mle_agrees_with_scipy_optimize_on_betabinom_logpmf():
    s, k = simulated_pool(1.5, 3.0, 400, 8, seed=4)

    def negative(x):
        a, b = np.exp(x)
        return -stats.betabinom.logpmf(s, k, a, b).sum()

    ref = optimize.minimize(negative, [0.0, 0.0], method="Nelder-Mead",
                            options={"xatol": 1e-9, "fatol": 1e-11, "maxiter": 4000})  # fmt: skip
    fit = fit_beta_binomial(s, k, hyper=None)
    np.testing.assert_allclose([fit.alpha[0], fit.beta[0]], np.exp(ref.x), rtol=1e-5)


def test_regulariser_gives_proper_answers_where_the_likelihood_has_none():
    none = fit_beta_binomial([], [])
    assert none.alpha[0] == pytest.approx(1.0) and none.beta[0] == pytest.approx(1.0)
    centred = fit_beta_binomial([], [], hyper=Hyperprior(alpha0=2.0, beta0=6.0))
    assert (centred.alpha[0], centred.beta[0]) == (pytest.approx(2.0), pytest.approx(6.0))
    zeros = fit_beta_binomial(np.zeros(50), np.full(50, 8))
    assert 0 < zeros.mean[0] < 0.05 and np.isfinite(zeros.concentration[0])
    one = fit_beta_binomial([3], [8])
    assert np.isfinite(one.concentration[0]) and 0.2 < one.mean[0] < 0.6
    assert zeros.converged and one.converged


def hierarchical_data(seed: int = 3):
    rng = np.random.default_rng(seed)
    groups = np.repeat(np.arange(3), 20)
    phi = rng.beta(1.0, 2.0, groups.size) * np.array([0.4, 1.0, 0.7])[groups]
    trials = np.full(groups.size, 8)
    return rng.binomial(trials, phi), trials, groups


def test_hierarchical_fit_shrinks_toward_the_hyper_means():
    s, k, g = hierarchical_data()
    fit = fit_beta_binomial(s, k, g, n_groups=4)  # group 3 has no prompts
    assert fit.converged and fit.mean.shape == (4,)
    assert fit.mean[3] == pytest.approx(fit.global_mean, rel=1e-6)
    assert fit.concentration[3] == pytest.approx(fit.global_concentration, rel=1e-6)
    alone = [fit_beta_binomial(s[g == j], k[g == j]).mean[0] for j in range(3)]
    order = np.argsort(alone)
    assert np.all(np.diff(fit.mean[:3][order]) > 0)  # the groups keep their order
    # partial pooling: the groups' means spread less than those of separate fits
    assert np.ptp(special.logit(fit.mean[:3])) < np.ptp(special.logit(alone))
    # a tighter hyperprior pools harder
    tight = fit_beta_binomial(s, k, g, hyper=Hyperprior(group_sd=0.05))
    assert np.ptp(tight.mean) < 0.5 * np.ptp(fit.mean[:3])
    value = log_posterior(
        s, k, fit.mean[:3], fit.concentration[:3], g,
        global_mean=fit.global_mean, global_concentration=fit.global_concentration,
    )  # fmt: skip
    assert value == pytest.approx(fit_beta_binomial(s, k, g).log_posterior, rel=1e-9)


@pytest.mark.slow
def test_hierarchical_fit_matches_pymc_find_map():
    """The same hierarchical Beta-Binomial written in PyMC; its MAP is ours."""
    pm = pytest.importorskip("pymc")
    s, k, g = hierarchical_data()
    hyper = Hyperprior()
    c_u, c_v = hyper.centre
    with pm.Model():
        u0 = pm.Logistic("u0", mu=c_u, s=1.0)
        v0 = pm.Normal("v0", mu=c_v, sigma=hyper.log_s_sd)
        ug = pm.Normal("ug", mu=u0, sigma=hyper.group_sd, shape=3)
        vg = pm.Normal("vg", mu=v0, sigma=hyper.group_sd, shape=3)
        m, c = pm.math.sigmoid(ug), pm.math.exp(vg)
        pm.BetaBinomial("S", n=k, alpha=(m * c)[g], beta=((1 - m) * c)[g], observed=s)
        ref = pm.find_MAP(progressbar=False, seed=0)
    fit = fit_beta_binomial(s, k, g)
    want = np.concatenate([[ref["u0"], ref["v0"]], ref["ug"], ref["vg"]])
    np.testing.assert_allclose(fit.x, want, atol=2e-4)


def test_online_prior_refits_on_schedule_warm_and_round_trips():
    s, k, g = hierarchical_data()
    prior = EmpiricalBayesPrior(g.size, g, refit_every=2)
    a_before, _ = prior.alpha_beta()
    assert np.all(a_before == 1.0)
    assert prior.observe(s, k - s) is False and prior.fit is None
    assert prior.observe(s, k - s) is True
    a, b = prior.alpha_beta()
    fit = fit_beta_binomial(s, k, g)
    np.testing.assert_allclose(a, fit.alpha[g], rtol=1e-5)
    np.testing.assert_allclose(b, fit.beta[g], rtol=1e-5)
    again = EmpiricalBayesPrior.from_state_dict(prior.state_dict())
    np.testing.assert_array_equal(again.alpha_beta()[0], a)
    assert again.updates == 2 and again.refit_every == 2
    never = EmpiricalBayesPrior(5, refit_every=0)
    assert never.observe(np.ones(5), np.ones(5)) is False and never.fit is None


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (
            lambda: fit_beta_binomial([-1, 2], [4, 4]),
            ValueError,
            "successes must be finite and >= 0",
        ),
        (lambda: fit_beta_binomial([5, 2], [4, 4]), ValueError, "must not exceed trials"),
        (lambda: fit_beta_binomial([np.nan], [4]), ValueError, "successes must be finite"),
        (lambda: fit_beta_binomial([1], [np.inf]), ValueError, "trials must be finite"),
        (lambda: fit_beta_binomial([1, 2], [4]), ValueError, "equal shape"),
        (lambda: fit_beta_binomial([1, 2], [4, 4], [0, 3], n_groups=2), ValueError, r"\[0, 2\)"),
        (lambda: fit_beta_binomial([1, 2], [4, 4], [0, -1]), ValueError, "groups must lie"),
        (lambda: fit_beta_binomial([1, 2], [4, 4], [0.5, 1]), TypeError, "integer ids"),
        (lambda: fit_beta_binomial([1, 2], [4, 4], [0]), ValueError, "one id per prompt"),
        (lambda: fit_beta_binomial([1], [4], [0], hyper=None), ValueError, "needs a hyperprior"),
        (lambda: beta_binomial_loglik(1, 4, 1.0, 2.0), ValueError, r"mean must lie in \(0, 1\)"),
        (lambda: beta_binomial_loglik(1, 4, 0.5, np.nan), ValueError, "concentration"),
        (lambda: Hyperprior(log_s_sd=0.0), ValueError, "log_s_sd"),
        (lambda: EmpiricalBayesPrior(3, [0, 1]), ValueError, "one id per prompt"),
        (lambda: EmpiricalBayesPrior(3, refit_every=-1), ValueError, "refit_every"),
        (lambda: EmpiricalBayesPrior(2).refit([1, 1], [-1, 0]), ValueError, "failures"),
    ],
)
def test_bad_input_is_refused_with_a_clear_error(call, error, match):
    with pytest.raises(error, match=match):
        call()
