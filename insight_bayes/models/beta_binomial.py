"""The Beta-Binomial model of one prompt in PyMC: a Monte Carlo route to Eq. 13.

The closed-form mutual information of :func:`insight_bayes.beta.mutual_information` is
checked here by simulation from the generative model

    phi ~ Beta(alpha, beta),   S | phi ~ Binomial(K, phi)

with PyMC's own samplers and log-densities (no code shared with the closed form):
``I(S; phi) = E[ln p(S | phi) - ln p(S)]``, estimated from prior-predictive draws.
"""

from __future__ import annotations

from dataclasses import dataclass

import arviz as az
import numpy as np
import pymc as pm

from insight_bayes.models.diagnostics import check_convergence
from insight_bayes.validation import check_int, check_real

__all__ = ["MonteCarloEstimate", "monte_carlo_mutual_information", "posterior_success_rate"]


@dataclass(frozen=True)
class MonteCarloEstimate:
    """A Monte Carlo estimate with its standard error (nats) and the draws behind it."""

    estimate: float
    standard_error: float
    draws: az.InferenceData


def _beta_binomial_model(
    alpha: float, beta: float, k: int, observed: int | None = None
) -> pm.Model:
    with pm.Model() as model:
        phi = pm.Beta("phi", alpha=alpha, beta=beta)
        pm.Binomial("s", n=k, p=phi, observed=observed)
    return model


def monte_carlo_mutual_information(
    alpha: float, beta: float, k: int, *, draws: int = 20_000, rng: int = 0
) -> MonteCarloEstimate:
    r"""Estimate ``I_K(alpha, beta)`` (Eq. 13) from PyMC prior-predictive draws, nats.

    .. math::
        \hat I = \frac{1}{D} \sum_d \left[\ln \mathrm{Bin}(s_d; K, \phi_d)
                 - \ln \mathrm{BetaBin}(s_d; K, \alpha, \beta)\right]

    Returns the estimate, its standard error ``sd / sqrt(D)`` and the draws as ArviZ
    ``InferenceData`` (group ``prior`` with ``phi`` and ``s``). ``rng`` (an int seed or a
    ``numpy.random.Generator``) seeds PyMC's sampler.
    """
    alpha = check_real(alpha, "alpha", low=0.0, low_inclusive=False)
    beta = check_real(beta, "beta", low=0.0, low_inclusive=False)
    k = check_int(k, "k", min_value=1)
    draws = check_int(draws, "draws", min_value=100)
    with _beta_binomial_model(alpha, beta, k):
        idata = pm.sample_prior_predictive(draws=draws, random_seed=rng)
    phi = idata.prior["phi"].values.ravel()
    s = idata.prior["s"].values.ravel()
    log_lik = pm.logp(pm.Binomial.dist(n=k, p=phi), s).eval()
    log_pred = pm.logp(pm.BetaBinomial.dist(n=k, alpha=alpha, beta=beta), s).eval()
    sample = np.asarray(log_lik - log_pred, dtype=np.float64)
    return MonteCarloEstimate(
        estimate=float(sample.mean()),
        standard_error=float(sample.std(ddof=1) / np.sqrt(sample.size)),
        draws=idata,
    )


def posterior_success_rate(
    alpha: float,
    beta: float,
    k: int,
    successes: int,
    *,
    draws: int = 1000,
    chains: int = 2,
    rng: int = 0,
    progressbar: bool = False,
) -> az.InferenceData:
    """NUTS posterior of ``phi`` after ``successes`` of ``k`` rollouts (exact: Beta(a+S, b+K-S)).

    ``rng`` (an int seed or a ``numpy.random.Generator``) seeds the sampler. Convergence
    is checked, not just reported: raises
    :class:`~insight_bayes.models.diagnostics.ConvergenceError` if r-hat exceeds 1.01,
    the effective sample size is below 100 per chain, or any transition diverged.
    """
    k = check_int(k, "k", min_value=1)
    successes = check_int(successes, "successes", min_value=0, max_value=k)
    with _beta_binomial_model(alpha, beta, k, observed=successes):
        idata = pm.sample(
            draws=draws, tune=500, chains=chains, cores=1, random_seed=rng, progressbar=progressbar
        )
    check_convergence(idata, ["phi"], ess_min=100.0 * chains, on_fail="raise")
    return idata
