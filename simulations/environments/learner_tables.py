"""The learning pool's per-group quantities: the GRPO logit gradient of a group and the
measured tables (a quantity as a function of the success rate, scaled to other ``K``).

Used by :class:`~simulations.environments.learning.LearningPool` and its
:class:`~simulations.environments.learning.LearningConfig`; the learner's equations are
described in :mod:`simulations.environments.learning`.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logit

from insight_bayes.rewards import group_advantages

__all__ = ["grpo_logit_gradient", "rate_table"]


def grpo_logit_gradient(
    rewards: np.ndarray, correct: np.ndarray, rates: np.ndarray, eps: float = 1e-6
) -> np.ndarray:
    """Per-group policy-gradient estimate with respect to the prompt's logit.

    ``g = (1/K) sum_k A_k (c_k - phi)``, ``A_k = (r_k - mean r) / (std r + eps)``.

    Parameters
    ----------
    rewards : ndarray, shape (G, K)
        Observed (possibly noisy or graded) rewards.
    correct : ndarray of bool, shape (G, K)
        Whether each rollout was actually correct.
    rates : ndarray, shape (G,)
        Success rates ``phi`` at which the rollouts were drawn.
    eps : float
        Stabiliser of the standard deviation.

    Returns
    -------
    ndarray, shape (G,)
        Zero for groups whose rewards are all equal.
    """
    adv = group_advantages(rewards, eps)
    score = np.asarray(correct, dtype=np.float64) - np.asarray(rates)[:, None]
    return (adv * score).mean(axis=1)


def _check_table(table: tuple[tuple[float, float], ...], name: str) -> None:
    """Refuse a rate table that is not increasing rates in (0, 1) with values > 0."""
    if not table:
        return
    arr = np.asarray(table, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"{name} must be (rate, value) pairs")
    rates, values = arr.T
    if np.any(rates <= 0) or np.any(rates >= 1) or np.any(np.diff(rates) <= 0):
        raise ValueError(f"{name} rates must increase strictly inside (0, 1)")
    if np.any(values <= 0) or not np.all(np.isfinite(values)):
        raise ValueError(f"{name} values must be finite and > 0")


def rate_table(
    rates: np.ndarray,
    table: tuple[tuple[float, float], ...],
    k: int = 8,
    reference_k: int = 8,
    exponent: float = 0.0,
) -> np.ndarray:
    """A measured ``(rate, value)`` table at success rates ``rates`` and ``K = k``.

    ``value(phi, K) = exp(interp(logit phi; logit rates, log values)) (k_ref / K)^a``:
    log-linear on the logit of the rate between the table's points, flat beyond its
    ends (the measured learner's tables, see the module docstring).

    Parameters
    ----------
    rates : array_like
        Success rates in [0, 1].
    table : tuple of (float, float)
        Measured ``(rate, value)`` pairs at ``reference_k``; empty: ones.
    k, reference_k : int
        Rollouts per group, and the table's.
    exponent : float
        ``a`` of the ``K`` scaling.
    """
    rates = np.asarray(rates, dtype=np.float64)
    if not table:
        return np.ones_like(rates)
    points = np.asarray(table, dtype=np.float64)
    x = logit(np.clip(rates, 1e-6, 1 - 1e-6))
    log_v = np.interp(x, logit(points[:, 0]), np.log(points[:, 1]))
    return np.exp(log_v) * (reference_k / k) ** exponent
