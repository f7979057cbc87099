r"""Scores about learning, and the realised lag behind an adaptive ``mu``.

InSight scores what a group of ``K`` rollouts teaches *us* about a prompt's rate (the
mutual information, Eq. 13). GRPO learns from a group only when its rewards differ, and
then in proportion to their standard deviation. This module holds the closed forms of
that learning signal under the belief, i.e. under the Beta-Binomial predictive
(Eq. 12) of a prompt with belief ``Beta(alpha, beta)``:

* :func:`predictive_mixed_probability`: the probability that the group is mixed,
  ``1 - B(alpha + K, beta) / B(alpha, beta) - B(alpha, beta + K) / B(alpha, beta)``;
* :func:`predictive_group_std`: the expected group standard deviation
  ``E[sqrt(S/K (1 - S/K))]``, an exact finite sum over the predictive pmf;
* :func:`signal_information_score`: the product ``I_K * E[std]`` of the two things a
  group gives (information to the selector, gradient to the learner);

and the pieces of an adaptive ``mu``:

* :class:`LagBelief`: a :class:`~insight_bayes.beliefs.beta_belief.BetaBelief` that also records how
  far the realised success rates of *revisited* prompts lay from the belief's mean just
  before their update (the realised lag of a stale belief);
* :func:`adaptive_mu`: the preferred mean belief ``mu = 1/2 - lag``, the mean at which a
  prompt's learning signal is largest once its rate has moved by ``lag``.

Known-rate counterparts live in :mod:`insight_bayes.rewards`
(:func:`~insight_bayes.rewards.informative_probability`,
:func:`~insight_bayes.rewards.expected_group_std`); the table of group standard
deviations is :func:`~insight_bayes.rewards.group_std_by_successes` (one home). Units:
probabilities and reward standard deviations (dimensionless); information in nats.
"""

from __future__ import annotations

import numba
import numpy as np
from numpy.typing import ArrayLike

from insight_bayes.beta import (
    PARALLEL_MIN_SIZE,
    _broadcast_params,
    _scalar_or_array,
    mutual_information,
)
from insight_bayes.rewards import group_std_by_successes
from insight_bayes.validation import check_int, check_real

__all__ = [
    "adaptive_mu",
    "predictive_group_std",
    "predictive_mixed_probability",
    "signal_information_score",
]


def predictive_mixed_probability(alpha: ArrayLike, beta: ArrayLike, k: int) -> np.ndarray | float:
    r"""Probability that ``K`` rollouts of a prompt with belief ``Beta(alpha, beta)`` are mixed.

    .. math::
        P(0 < S < K) = 1 - \frac{B(\alpha + K, \beta)}{B(\alpha, \beta)}
                         - \frac{B(\alpha, \beta + K)}{B(\alpha, \beta)}
                     = 1 - \prod_{j=0}^{K-1} \frac{\alpha + j}{n + j}
                         - \prod_{j=0}^{K-1} \frac{\beta + j}{n + j}

    The Beta average of :func:`insight_bayes.rewards.informative_probability`
    (``E[phi^K] = B(alpha + K, beta) / B(alpha, beta)``): the chance that GRPO gets a
    non-zero advantage from the group, the expected informative share. Evaluated in log
    space, ``ln P(S = K) = sum_j log1p(-beta / (n + j))`` (and the same with ``alpha``
    for ``S = 0``), then ``-expm1`` of the larger log minus ``exp`` of the smaller, so a
    nearly decided prompt (``P(mixed)`` near 0 at large evidence) keeps its relative
    accuracy. The absolute error is a few ulps of 1; the relative error grows only when
    both ``alpha`` and ``beta`` are far below 1, where ``P(mixed)`` itself is small
    (tested to 1e-9 relative for parameters down to 1e-3).

    Parameters
    ----------
    alpha, beta : array_like
        Beta parameters, finite and > 0; broadcast together.
    k : int
        Rollouts per group, ``K >= 1`` (``K = 1`` is never mixed: 0).

    Returns
    -------
    float or ndarray
        Probability in [0, 1), shape ``broadcast(alpha, beta).shape``. Large evidence at
        mean ``m`` tends to ``1 - m^K - (1 - m)^K``.

    Examples
    --------
    >>> round(predictive_mixed_probability(1.0, 1.0, 8), 12)  # uniform: S uniform on 0..8
    0.777777777778
    """
    k = check_int(k, "k", min_value=1)
    a, b = _broadcast_params(alpha, beta)
    if k == 1:
        return _scalar_or_array(np.zeros(a.shape))
    return _scalar_or_array(_run_kernel(_mixed_serial, _mixed_parallel, a, b, k, np.empty(0)))


def predictive_group_std(alpha: ArrayLike, beta: ArrayLike, k: int) -> np.ndarray | float:
    r"""Expected standard deviation of ``K`` binary rewards under the belief ``Beta(alpha, beta)``.

    .. math::
        \mathbb{E}[\operatorname{std}(r)] = \sum_{s=0}^{K} P(S = s)\,
            \sqrt{\tfrac{s}{K}\left(1 - \tfrac{s}{K}\right)},
        \qquad P(S = s) = \binom{K}{s} \frac{B(\alpha + s, \beta + K - s)}{B(\alpha, \beta)}

    The expected GRPO learning signal of the prompt (the policy-gradient component along
    its logit is ``std(r)`` for clean binary rewards, see
    :func:`insight_bayes.rewards.expected_group_std`), averaged over the belief instead
    of evaluated at a known rate. The standard deviation is the package's population std
    (:data:`insight_bayes.rewards.ADVANTAGE_DDOF`), taken from
    :func:`~insight_bayes.rewards.group_std_by_successes`; the pmf is that of
    :func:`insight_bayes.beta.beta_binomial_pmf` (Eq. 12), built by the same log-space
    ratio recurrence in a compiled loop (tested equal to it), so nothing of shape
    ``(N, K + 1)`` is allocated. An exact finite sum of ``K + 1`` non-negative terms: no
    cancellation.

    Parameters
    ----------
    alpha, beta : array_like
        Beta parameters, finite and > 0; broadcast together.
    k : int
        Rollouts per group, ``K >= 1``.

    Returns
    -------
    float or ndarray
        Expected std in [0, 1/2], shape ``broadcast(alpha, beta).shape``.

    Examples
    --------
    >>> round(predictive_group_std(1.0, 1.0, 2), 12)  # S uniform on {0, 1, 2}: (1/2) / 3
    0.166666666667
    """
    k = check_int(k, "k", min_value=1)
    a, b = _broadcast_params(alpha, beta)
    table = group_std_by_successes(k)
    return _scalar_or_array(_run_kernel(_std_serial, _std_parallel, a, b, k, table))


def signal_information_score(alpha: ArrayLike, beta: ArrayLike, k: int) -> np.ndarray | float:
    r"""Information times expected learning signal: ``I_K(alpha, beta) E[std(r)]``, nats.

    .. math::
        A_{\text{signal}}(\tau) = I_K(\alpha_\tau, \beta_\tau)\;
            \mathbb{E}_{S \sim \text{BetaBin}(K, \alpha_\tau, \beta_\tau)}
            \left[\sqrt{\tfrac{S}{K}\left(1 - \tfrac{S}{K}\right)}\right]

    InSight's Eq. 16 with the difficulty weight ``w(m) = m (1 - m) exp(-eta (m - mu)^2)``
    replaced by the quantity it stands in for: the learner's expected signal from the
    group, averaged over the belief rather than read at the mean (no ``mu``, no ``eta``).
    At large evidence ``E[std] -> E_Binomial(K, m)[std]``, a function of ``m`` that, like
    ``m (1 - m)``, vanishes at 0 and 1 and peaks at 1/2.

    Parameters
    ----------
    alpha, beta : array_like
        Beta parameters, finite and > 0; broadcast together.
    k : int
        Rollouts per group, ``K >= 1``.

    Returns
    -------
    float or ndarray
        Score in nats (the std is dimensionless), shape ``broadcast(alpha, beta).shape``.
    """
    k = check_int(k, "k", min_value=1)
    a, b = _broadcast_params(alpha, beta)
    info = np.asarray(mutual_information(a, b, k))
    return _scalar_or_array(info * np.asarray(predictive_group_std(a, b, k)))


def adaptive_mu(lag: float) -> float:
    r"""The preferred mean belief once rates have moved by ``lag``: ``mu = 1/2 - lag``.

    .. math::
        \mu = \operatorname{clip}\left(\tfrac12 - \hat\delta,\; 0,\; 1\right)

    If a chosen prompt's true rate at training time is its belief's mean plus a shift
    ``delta`` (the realised lag of a stale belief, :attr:`LagBelief.lag`), its expected
    learning signal ``E[std(r)]`` and its mixed probability ``1 - p^K - (1 - p)^K`` at
    ``p = m + delta`` are both largest at ``p = 1/2``, i.e. at mean belief
    ``m = 1/2 - delta``. The paper's hand-set ``mu = 0.3`` is this rule for a lag of
    0.2 (rates rising between visits); with no lag it is the plain variance filter's 1/2.

    Parameters
    ----------
    lag : float
        Realised ``E[S/K - m]`` of revisited prompts, in [-1, 1].

    Returns
    -------
    float
        ``mu`` in [0, 1].

    Examples
    --------
    >>> adaptive_mu(0.2)
    0.3
    """
    lag = check_real(lag, "lag", low=-1.0, high=1.0)
    return float(np.clip(round(0.5 - lag, 15), 0.0, 1.0))


def _run_kernel(serial, parallel, a: np.ndarray, b: np.ndarray, k: int, table: np.ndarray):
    flat_a = np.ascontiguousarray(a, dtype=np.float64).ravel()
    flat_b = np.ascontiguousarray(b, dtype=np.float64).ravel()
    out = np.empty(flat_a.size, dtype=np.float64)
    kernel = parallel if flat_a.size >= PARALLEL_MIN_SIZE else serial
    kernel(flat_a, flat_b, k, table, out)
    return out.reshape(a.shape)


@numba.njit(cache=True, nogil=True)
def _mixed_scalar(a, b, k):  # pragma: no cover - compiled
    # ln P(S = K) = sum_j log1p(-b / (n + j)); ln P(S = 0) likewise with a
    n = a + b
    log_success = 0.0
    log_failure = 0.0
    for j in range(k):
        log_success += np.log1p(-b / (n + j))
        log_failure += np.log1p(-a / (n + j))
    larger = max(log_success, log_failure)
    smaller = min(log_success, log_failure)
    # rounding can leave -1 ulp where both tails are ~1/2 (alpha, beta << 1)
    return max(-np.expm1(larger) - np.exp(smaller), 0.0)


@numba.njit(cache=True, nogil=True)
def _mixed_serial(a, b, k, table, out):  # pragma: no cover - compiled
    for i in range(a.size):
        out[i] = 0.0 if k == 1 else _mixed_scalar(a[i], b[i], k)


@numba.njit(cache=True, parallel=True)
def _mixed_parallel(a, b, k, table, out):  # pragma: no cover - compiled
    for i in numba.prange(a.size):
        out[i] = 0.0 if k == 1 else _mixed_scalar(a[i], b[i], k)


@numba.njit(cache=True, nogil=True)
def _std_scalar(a, b, k, table, log_weight):  # pragma: no cover - compiled
    # Beta-Binomial pmf from the ratio recurrence of beta_binomial_pmf, in log space:
    # P(s+1)/P(s) = (K - s)(a + s) / ((s + 1)(b + K - 1 - s))
    log_weight[0] = 0.0
    top = 0.0
    for s in range(k):
        log_weight[s + 1] = (
            log_weight[s]
            + np.log((k - s) / (s + 1.0))
            + (np.log(a + s) - np.log(b + (k - 1.0 - s)))
        )
        top = max(top, log_weight[s + 1])
    total = 0.0
    signal = 0.0
    for s in range(k + 1):
        w = np.exp(log_weight[s] - top)
        total += w
        signal += w * table[s]
    return signal / total


@numba.njit(cache=True, nogil=True)
def _std_serial(a, b, k, table, out):  # pragma: no cover - compiled
    log_weight = np.empty(k + 1)
    for i in range(a.size):
        out[i] = _std_scalar(a[i], b[i], k, table, log_weight)


@numba.njit(cache=True, parallel=True)
def _std_parallel(a, b, k, table, out):  # pragma: no cover - compiled
    chunk = 4096
    n_chunks = (a.size + chunk - 1) // chunk
    for c in numba.prange(n_chunks):
        log_weight = np.empty(k + 1)
        for i in range(c * chunk, min(a.size, (c + 1) * chunk)):
            out[i] = _std_scalar(a[i], b[i], k, table, log_weight)
