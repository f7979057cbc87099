r"""Hierarchical, censored model of steps-to-target and each rule's speed-up.

For run ``(r, s)`` (rule ``r``, seed ``s``) the steps to reach the accuracy target are
log-normal with a rule effect and a seed effect (every rule meets the same pool at a
given seed, so seeds are shared random effects):

.. math::

    \log T_{rs} \sim \mathcal N(\mu + \delta_r + u_s,\ \sigma^2), \qquad
    \delta_r = \tau z_r,\ z_r \sim \mathcal N(0, 1),\ \tau \sim \mathrm{HalfNormal}(0.5),

    u_s = \omega v_s,\ v_s \sim \mathcal N(0, 1),\ \omega \sim \mathrm{HalfNormal}(0.5),
    \qquad \mu \sim \mathcal N(\log \bar T, 1),\ \sigma \sim \mathrm{HalfNormal}(0.5).

A run that never reached the target within its horizon ``H`` contributes
``P(T > H)`` (right censoring, :class:`pymc.Censored`). The speed-up of rule ``r``
versus the baseline ``b`` is the ratio of median steps,
``exp(delta_b - delta_r)`` (> 1: ``r`` is faster). The rule effects are partially
pooled: with few seeds, extreme speed-ups are shrunk toward the average rule.

Convergence is checked, not just printed: every free parameter's r-hat must be at most
``rhat_max`` (1.01) and its bulk and tail effective sample sizes at least ``ess_min``;
otherwise :class:`ConvergenceWarning` is issued (or :class:`ConvergenceError` raised
with ``on_fail="raise"``), naming the worst parameters.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Literal

import arviz as az
import numpy as np
import pandas as pd
import pymc as pm

from insight_bayes.models.diagnostics import ConvergenceError, ConvergenceWarning, check_convergence
from insight_bayes.validation import check_int, check_real

__all__ = [
    "ConvergenceError",
    "ConvergenceWarning",
    "SpeedupFit",
    "check_convergence",
    "fit_speedup",
]

log = logging.getLogger(__name__)


@dataclass
class SpeedupFit:
    """Result of :func:`fit_speedup`.

    Attributes
    ----------
    idata : arviz.InferenceData
        Posterior with variables ``mu, sigma, tau, omega, delta[rule], u[seed],
        log_speedup[rule], speedup[rule]`` and sample statistics.
    summary : DataFrame
        Per rule: posterior mean and median speed-up, HDI bounds, ``p_faster``
        (posterior probability of a speed-up > 1), r-hat and ESS of ``log_speedup``.
    diagnostics : dict
        ``max_rhat``, ``min_ess_bulk``, ``min_ess_tail``, ``divergences``, ``problems``
        (messages; empty when converged).
    converged : bool
    """

    idata: Any
    summary: pd.DataFrame
    diagnostics: dict[str, Any] = field(default_factory=dict)
    converged: bool = True


def fit_speedup(
    reached: pd.DataFrame,
    *,
    baseline: str = "random",
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    cores: int = 1,
    target_accept: float = 0.95,
    hdi_prob: float = 0.94,
    rng: int = 0,
    rhat_max: float = 1.01,
    ess_min: float | None = None,
    on_fail: Literal["warn", "raise", "ignore"] = "warn",
    progressbar: bool = False,
) -> SpeedupFit:
    """Posterior of each rule's speed-up versus ``baseline`` from steps-to-target data.

    Parameters
    ----------
    reached : DataFrame
        Columns ``rule, seed, steps_to_target, censored`` and ``horizon`` (as from
        :func:`insight_bayes.results.steps_to_target`), one scenario.
    baseline : str
        Reference rule (Random).
    draws, tune, chains, cores : int
        NUTS settings.
    target_accept : float
        NUTS target acceptance, in (0, 1).
    hdi_prob : float
        Mass of the reported highest-density intervals.
    rng : int or numpy.random.Generator
        Seed of the sampler.
    rhat_max : float
        Largest acceptable r-hat (1.01).
    ess_min : float, optional
        Smallest acceptable bulk and tail ESS; default ``min(400, 0.25 chains draws)``.
    on_fail : {"warn", "raise", "ignore"}
        What a failed convergence check does.
    progressbar : bool
        PyMC's progress bar.

    Returns
    -------
    SpeedupFit
    """
    needed = {"rule", "seed", "steps_to_target", "censored", "horizon"}
    missing = needed - set(reached.columns)
    if missing:
        raise ValueError(f"reached lacks column(s) {sorted(missing)}")
    if "scenario" in reached.columns and reached["scenario"].nunique() > 1:
        raise ValueError(
            f"reached holds {reached['scenario'].nunique()} scenarios; fit one scenario at a time"
        )
    draws = check_int(draws, "draws", min_value=10)
    tune = check_int(tune, "tune", min_value=0)
    chains = check_int(chains, "chains", min_value=1)
    check_real(target_accept, "target_accept", low=0.0, high=1.0, low_inclusive=False)
    check_real(hdi_prob, "hdi_prob", low=0.0, high=1.0, low_inclusive=False)
    t = reached["steps_to_target"].to_numpy(dtype=float)
    if np.any(~np.isfinite(t) | (t <= 0)):
        raise ValueError("steps_to_target must be finite and > 0")
    rules = list(pd.unique(reached["rule"]))
    if baseline not in rules:
        raise ValueError(f"baseline rule {baseline!r} is not among the rules {rules}")
    rules = [baseline] + [r for r in rules if r != baseline]
    seeds = sorted(pd.unique(reached["seed"]))
    rule_idx = pd.Categorical(reached["rule"], categories=rules).codes
    seed_idx = pd.Categorical(reached["seed"], categories=seeds).codes
    censored = reached["censored"].to_numpy(dtype=bool)
    upper = np.where(censored, reached["horizon"].to_numpy(dtype=float), np.inf)
    observed = np.where(censored, upper, t)
    log_center = float(np.log(t).mean())
    coords = {"rule": rules, "seed": seeds}
    with pm.Model(coords=coords) as model:
        mu = pm.Normal("mu", log_center, 1.0)
        sigma = pm.HalfNormal("sigma", 0.5)
        tau = pm.HalfNormal("tau", 0.5)
        omega = pm.HalfNormal("omega", 0.5)
        z = pm.Normal("z", 0.0, 1.0, dims="rule")
        v = pm.Normal("v", 0.0, 1.0, dims="seed")
        delta = pm.Deterministic("delta", tau * z, dims="rule")
        u = pm.Deterministic("u", omega * v, dims="seed")
        log_speedup = pm.Deterministic("log_speedup", delta[0] - delta, dims="rule")
        pm.Deterministic("speedup", pm.math.exp(log_speedup), dims="rule")
        pm.Censored(
            "steps",
            pm.LogNormal.dist(mu=mu + delta[rule_idx] + u[seed_idx], sigma=sigma),
            lower=None,
            upper=upper,
            observed=observed,
        )
        idata = pm.sample(
            draws=draws,
            tune=tune,
            chains=chains,
            cores=cores,
            target_accept=target_accept,
            random_seed=rng,
            progressbar=progressbar,
            compute_convergence_checks=False,
        )
    del model
    ess_min = min(400.0, 0.25 * chains * draws) if ess_min is None else float(ess_min)
    diagnostics = check_convergence(
        idata,
        ["mu", "sigma", "tau", "omega", "z", "v"],
        rhat_max=rhat_max,
        ess_min=ess_min,
        on_fail=on_fail,
    )
    summary = _summarise(idata, rules, baseline, hdi_prob)
    return SpeedupFit(
        idata=idata,
        summary=summary,
        diagnostics=diagnostics,
        converged=not diagnostics["problems"],
    )


def _summarise(idata: Any, rules: list[str], baseline: str, hdi_prob: float) -> pd.DataFrame:
    post = idata.posterior
    speed = post["speedup"]
    hdi = az.hdi(idata, var_names=["speedup"], hdi_prob=hdi_prob)["speedup"]
    others = [r for r in rules if r != baseline]
    log_sp = post[["log_speedup"]].sel(rule=others)
    rhat = az.rhat(log_sp)["log_speedup"]
    ess = az.ess(log_sp)["log_speedup"]
    rows = []
    for rule in rules:
        s = speed.sel(rule=rule).values.ravel()
        rows.append(
            {
                "rule": rule,
                "speedup_mean": float(s.mean()),
                "speedup_median": float(np.median(s)),
                "hdi_low": float(hdi.sel(rule=rule, hdi="lower")),
                "hdi_high": float(hdi.sel(rule=rule, hdi="higher")),
                "hdi_prob": hdi_prob,
                "p_faster": float(np.mean(s > 1.0)) if rule != baseline else np.nan,
                "r_hat": float(rhat.sel(rule=rule)) if rule != baseline else np.nan,
                "ess_bulk": float(ess.sel(rule=rule)) if rule != baseline else np.nan,
            }
        )
    return pd.DataFrame(rows)
