r"""Does a chosen prompt's predicted information explain the learning that followed?

The expected variance reduction of a Beta belief (Eq. 8) factors into a *difficulty*
term and an *evidence* term,

.. math::

    \Delta V = m (1 - m) \cdot \frac{1}{(n + 1)^2}, \qquad m = \frac{\alpha}{n},\
    n = \alpha + \beta,

so :func:`information_terms` gives ``difficulty = m (1 - m)`` and
``evidence = 1 / (n + 1)`` (large when little is known). :func:`fit_information_regression`
regresses a realised gain ``y`` (for instance a prompt's success-rate change at its next
visit, or the held-out gain of the step that trained on it) on these terms:

.. math::

    y_i \sim \mathcal N\big(b_0 + \textstyle\sum_j b_j x_{ij},\ \sigma^2\big),

fitted on standardised predictors ``z_ij = (x_ij - mean_j) / sd_j`` and a standardised
outcome ``(y - mean(y)) / sd(y)`` with weakly informative priors (coefficients and
intercept ``N(0, 2)``, noise ``HalfNormal(2)``), and reported on the outcome's scale:
``coef`` per unit of the predictor (``b_j = sd(y) b^z_j / sd_j``) and ``coef_std`` per
standard deviation of the predictor (``sd(y) b^z_j``, comparable between terms).
Convergence is checked as in :mod:`insight_bayes.models.speedup_fit` (r-hat, bulk/tail ESS,
divergences).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import arviz as az
import numpy as np
import pandas as pd
import pymc as pm
from numpy.typing import ArrayLike

from insight_bayes.models.diagnostics import check_convergence
from insight_bayes.validation import check_int, check_real

__all__ = ["RegressionFit", "fit_information_regression", "information_terms"]


def information_terms(alpha: ArrayLike, beta: ArrayLike) -> dict[str, np.ndarray]:
    """The two factors of Eq. 8 for Beta beliefs.

    Parameters
    ----------
    alpha, beta : array_like, shape (N,)
        Belief parameters (> 0) before the choice.

    Returns
    -------
    dict
        ``difficulty = m (1 - m)`` (in [0, 0.25]) and ``evidence = 1 / (n + 1)`` (in
        (0, 1)), arrays of shape (N,).
    """
    a = np.asarray(alpha, dtype=np.float64)
    b = np.asarray(beta, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"alpha and beta must have one shape, got {a.shape} and {b.shape}")
    if np.any(~np.isfinite(a) | ~np.isfinite(b) | (a <= 0) | (b <= 0)):
        raise ValueError("alpha and beta must be finite and > 0")
    n = a + b
    m = a / n
    return {"difficulty": m * (1.0 - m), "evidence": 1.0 / (n + 1.0)}


@dataclass
class RegressionFit:
    """Result of :func:`fit_information_regression`.

    Attributes
    ----------
    idata : arviz.InferenceData
        Posterior of the standardised ``intercept_z``, ``beta_z[term]``, ``sigma_z`` and
        the deterministic ``coef[term]`` (per unit), ``coef_std[term]`` (per SD of the
        term), ``intercept`` and ``sigma`` (outcome scale).
    summary : DataFrame
        One row per term and ``intercept``/``sigma``: ``mean, sd, hdi_low, hdi_high,
        coef_std`` (per SD of the predictor), ``p_positive``, ``r_hat``, ``ess_bulk``.
    diagnostics : dict
        As :func:`insight_bayes.models.speedup_fit.check_convergence`.
    converged : bool
    n_obs : int
    """

    idata: Any
    summary: pd.DataFrame
    diagnostics: dict[str, Any] = field(default_factory=dict)
    converged: bool = True
    n_obs: int = 0


def fit_information_regression(
    data: pd.DataFrame,
    outcome: str,
    predictors: Sequence[str] = ("difficulty", "evidence"),
    *,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 2,
    cores: int = 1,
    hdi_prob: float = 0.94,
    rng: int = 0,
    on_fail: Literal["warn", "raise", "ignore"] = "warn",
    progressbar: bool = False,
) -> RegressionFit:
    """Bayesian linear regression of ``data[outcome]`` on ``data[predictors]``.

    Parameters
    ----------
    data : DataFrame
        One row per observation; rows with a missing value are dropped.
    outcome : str
        Column of the realised gain.
    predictors : sequence of str
        Columns of the explanatory terms (e.g. from :func:`information_terms`).
    draws, tune, chains, cores : int
        NUTS settings.
    hdi_prob : float
        Mass of the reported highest-density intervals.
    rng : int or numpy.random.Generator
        Seed of the sampler.
    on_fail : {"warn", "raise", "ignore"}
        What a failed convergence check does.
    progressbar : bool
        PyMC's progress bar.

    Returns
    -------
    RegressionFit
    """
    predictors = list(predictors)
    if not predictors:
        raise ValueError("predictors must name at least one column")
    missing = sorted({outcome, *predictors} - set(data.columns))
    if missing:
        raise ValueError(f"data lacks column(s) {missing}")
    draws = check_int(draws, "draws", min_value=10)
    tune = check_int(tune, "tune", min_value=0)
    chains = check_int(chains, "chains", min_value=1)
    check_real(hdi_prob, "hdi_prob", low=0.0, high=1.0, low_inclusive=False)
    df = data[[outcome, *predictors]].dropna()
    if len(df) < len(predictors) + 2:
        raise ValueError(
            f"need at least {len(predictors) + 2} complete rows, got {len(df)} "
            f"(outcome {outcome!r})"
        )
    y = df[outcome].to_numpy(np.float64)
    x = df[predictors].to_numpy(np.float64)
    x_mean, x_sd = x.mean(axis=0), x.std(axis=0)
    flat = [p for p, s in zip(predictors, x_sd, strict=True) if not s > 0]
    if flat:
        raise ValueError(f"predictor(s) {flat} do not vary; they cannot be estimated")
    z = (x - x_mean) / x_sd
    y_mean, y_sd = float(y.mean()), float(y.std()) or 1.0
    y_z = (y - y_mean) / y_sd
    with pm.Model(coords={"term": predictors}) as model:
        intercept_z = pm.Normal("intercept_z", 0.0, 2.0)
        beta_z = pm.Normal("beta_z", 0.0, 2.0, dims="term")
        sigma_z = pm.HalfNormal("sigma_z", 2.0)
        pm.Deterministic("coef", beta_z * y_sd / x_sd, dims="term")
        pm.Deterministic("coef_std", beta_z * y_sd, dims="term")
        pm.Deterministic(
            "intercept", y_mean + y_sd * (intercept_z - pm.math.sum(beta_z * x_mean / x_sd))
        )
        pm.Deterministic("sigma", sigma_z * y_sd)
        pm.Normal("y", intercept_z + pm.math.dot(z, beta_z), sigma_z, observed=y_z)
        idata = pm.sample(
            draws=draws,
            tune=tune,
            chains=chains,
            cores=cores,
            random_seed=rng,
            progressbar=progressbar,
            compute_convergence_checks=False,
        )
    del model
    ess_min = min(400.0, 0.25 * chains * draws)
    diagnostics = check_convergence(
        idata, ["intercept_z", "beta_z", "sigma_z"], ess_min=ess_min, on_fail=on_fail
    )
    return RegressionFit(
        idata=idata,
        summary=_summarise(idata, predictors, hdi_prob),
        diagnostics=diagnostics,
        converged=not diagnostics["problems"],
        n_obs=len(df),
    )


def _summarise(idata: Any, predictors: list[str], hdi_prob: float) -> pd.DataFrame:
    post = idata.posterior
    rows = []
    rhat = az.rhat(idata, var_names=["beta_z", "sigma_z", "intercept_z"])
    ess = az.ess(idata, var_names=["beta_z", "sigma_z", "intercept_z"])

    def row(name: str, values: np.ndarray, coef_std: float, r: float, e: float) -> dict:
        lo, hi = az.hdi(values, hdi_prob=hdi_prob)
        return {
            "term": name,
            "mean": float(values.mean()),
            "sd": float(values.std()),
            "hdi_low": float(lo),
            "hdi_high": float(hi),
            "coef_std": coef_std,
            "p_positive": float(np.mean(values > 0)),
            "r_hat": r,
            "ess_bulk": e,
        }

    rows.append(
        row(
            "intercept",
            post["intercept"].values.ravel(),
            np.nan,
            float(rhat["intercept_z"]),
            float(ess["intercept_z"]),
        )
    )
    for term in predictors:
        rows.append(
            row(
                term,
                post["coef"].sel(term=term).values.ravel(),
                float(post["coef_std"].sel(term=term).values.mean()),
                float(rhat["beta_z"].sel(term=term)),
                float(ess["beta_z"].sel(term=term)),
            )
        )
    rows.append(
        row("sigma", post["sigma"].values.ravel(), np.nan, float(rhat["sigma_z"]),
            float(ess["sigma_z"]))
    )  # fmt: skip
    return pd.DataFrame(rows)
