"""Belief calibration against the simulator's true success rates (``belief/...`` metrics)."""

from __future__ import annotations

import numpy as np
from scipy import special

from insight_bayes.beliefs.beta_belief import BetaBelief

__all__ = ["belief_calibration"]


def belief_calibration(
    belief: BetaBelief,
    rates: np.ndarray,
    ids: np.ndarray,
    *,
    level: float = 0.9,
    subset: np.ndarray | None = None,
    chosen_rates: np.ndarray | None = None,
) -> dict[str, float]:
    """Calibration of ``Beta(alpha, beta)`` beliefs against true rates ``rates``.

    Parameters
    ----------
    belief : BetaBelief
        Beliefs over the whole pool (after this step's update).
    rates : ndarray, shape (N,) or (len(subset),)
        Success rates the beliefs try to estimate (as seen through the verifier); for
        the prompts of ``subset`` only when it is given.
    ids : ndarray of int, shape (M,)
        Prompts chosen this step.
    level : float
        Central credible level for the coverage metric.
    subset : ndarray of int, optional
        Prompts over which the pool-wide metrics are computed (a fixed random sample
        of a very large pool); the whole pool by default.
    chosen_rates : ndarray, shape (M,), optional
        Rates of the chosen prompts; default ``rates[ids]`` (only without ``subset``).

    Returns
    -------
    dict
        ``belief/mae_pool``: mean ``|m_i - phi_i|`` over the pool;
        ``belief/mae_chosen``: the same over the chosen prompts;
        ``belief/coverage_chosen``: share of chosen prompts whose true rate lies in the
        central ``level`` credible interval of their belief (``level`` when calibrated);
        ``belief/mean_evidence``: mean ``alpha + beta`` over the pool (or subset).
    """
    if chosen_rates is None:
        if subset is not None:
            raise ValueError("chosen_rates must be given together with subset")
        chosen_rates = rates[ids]
    alpha, beta = belief.alpha, belief.beta
    if subset is not None:
        alpha, beta = alpha[subset], beta[subset]
    out = {
        "belief/mae_pool": float(np.abs(alpha / (alpha + beta) - rates).mean()),
        "belief/mean_evidence": float((alpha + beta).mean()),
    }
    if ids.size:
        a, b = belief.alpha[ids], belief.beta[ids]
        tail = (1.0 - level) / 2.0
        lo = special.betaincinv(a, b, tail)
        hi = special.betaincinv(a, b, 1.0 - tail)
        r = chosen_rates
        out["belief/mae_chosen"] = float(np.abs(a / (a + b) - r).mean())
        out["belief/coverage_chosen"] = float(((r >= lo) & (r <= hi)).mean())
    return out
