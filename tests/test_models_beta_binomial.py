"""The PyMC route to the mutual information and the NUTS posterior of one prompt."""

from __future__ import annotations

import pytest
from scipy import stats

from insight_bayes import mutual_information
from insight_bayes.models.beta_binomial import (
    monte_carlo_mutual_information,
    posterior_success_rate,
)


@pytest.mark.parametrize(("a", "b", "k"), [(1.0, 1.0, 1), (2.0, 3.0, 8), (0.5, 4.0, 16)])
def test_pymc_monte_carlo_agrees_with_closed_form(a, b, k):
    est = monte_carlo_mutual_information(a, b, k, draws=20_000, rng=1)
    assert abs(est.estimate - mutual_information(a, b, k)) < 4 * est.standard_error
    # the draws behind it come from the model they claim: phi ~ Beta(a, b)
    phi = est.draws.prior["phi"].values.ravel()
    assert stats.kstest(phi, stats.beta(a, b).cdf).pvalue > 1e-3


def test_nuts_posterior_matches_conjugate_update():
    idata = posterior_success_rate(2.0, 3.0, 8, 5, draws=1000, chains=2, rng=2)
    post = idata.posterior["phi"].values.ravel()
    exact_mean, exact_sd = 7 / 13, (7 * 6 / (13**2 * 14)) ** 0.5
    assert abs(post.mean() - exact_mean) < 0.02
    assert abs(post.std() - exact_sd) < 0.02


def test_bad_input():
    with pytest.raises(ValueError, match="successes must be <= 8"):
        posterior_success_rate(1.0, 1.0, 8, 9)
    with pytest.raises(ValueError, match="alpha must be > 0"):
        monte_carlo_mutual_information(0.0, 1.0, 8)
