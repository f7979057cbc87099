"""Closed forms of the Beta-Binomial model behind InSight (paper Eq. 8 and 11-14).

A prompt's success rate ``phi`` has the belief ``Beta(alpha, beta)``; ``K`` rollouts
give ``S | phi ~ Binomial(K, phi)``. Everything here broadcasts over numpy arrays, works
in float64 and reports information in nats (natural logarithms).

Notation: ``n = alpha + beta`` (evidence), ``m = alpha / n`` (mean belief).

All functions validate their input: ``alpha`` and ``beta`` must be finite and > 0,
``k`` a positive integer; anything else raises ``ValueError``/``TypeError`` naming the
argument. None of them returns NaN.
"""

from __future__ import annotations

import numba
import numpy as np
from numpy.typing import ArrayLike

from insight_bayes import _special
from insight_bayes.validation import check_int, check_positive_array

__all__ = [
    "beta_binomial_pmf",
    "beta_entropy",
    "expected_variance_reduction",
    "mutual_information",
    "mutual_information_asymptotic",
]

#: Inputs at least this large are scored on all cores; smaller ones serially (cheaper
#: than waking threads, and safe in forked worker processes).
PARALLEL_MIN_SIZE = 200_000


def _broadcast_params(alpha: ArrayLike, beta: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    a = check_positive_array(alpha, "alpha")
    b = check_positive_array(beta, "beta")
    try:
        return np.broadcast_arrays(a, b)
    except ValueError as exc:
        raise ValueError(
            f"alpha and beta must broadcast together, got shapes {a.shape} and {b.shape}"
        ) from exc


def _scalar_or_array(out: np.ndarray) -> np.ndarray | float:
    return float(out) if out.ndim == 0 else out


@numba.njit(cache=True, nogil=True)
def _beta_entropy_flat(a, b, out):  # pragma: no cover - compiled
    # compiled on first use (not at import): numba.vectorize with signatures compiles eagerly
    for i in range(a.size):
        out[i] = _special.beta_entropy_scalar(a[i], b[i])


def beta_entropy(alpha: ArrayLike, beta: ArrayLike) -> np.ndarray | float:
    r"""Differential entropy of ``Beta(alpha, beta)`` in nats (Eq. 11).

    .. math::
        H(\alpha, \beta) = \ln B(\alpha, \beta) - (\alpha - 1)\psi(\alpha)
                           - (\beta - 1)\psi(\beta) + (\alpha + \beta - 2)\psi(\alpha + \beta)

    Evaluated in a Stirling-reduced form (see :mod:`insight_bayes._special`) that keeps
    full relative accuracy when ``alpha`` and ``beta`` are large, where the textbook
    form loses about ``log10(n)`` digits. Near the zero crossings of ``H`` (it is 0 at
    ``alpha = beta = 1``) the accuracy is absolute, about 1e-14 nats.

    Parameters
    ----------
    alpha, beta : array_like
        Beta parameters, finite and > 0; broadcast together.

    Returns
    -------
    float or ndarray
        Entropy in nats, shape ``broadcast(alpha, beta).shape``.

    Examples
    --------
    >>> round(beta_entropy(1.0, 1.0), 12)  # the uniform density
    0.0
    """
    a, b = _broadcast_params(alpha, beta)
    out = np.empty(a.shape, dtype=np.float64)
    _beta_entropy_flat(
        np.ascontiguousarray(a).ravel(), np.ascontiguousarray(b).ravel(), out.ravel()
    )
    return _scalar_or_array(out)


def beta_binomial_pmf(k: int, alpha: ArrayLike, beta: ArrayLike) -> np.ndarray:
    r"""Beta-Binomial predictive probabilities of ``S`` successes in ``k`` rollouts (Eq. 12).

    .. math::
        P(S = s) = \binom{K}{s} \frac{B(\alpha + s, \beta + K - s)}{B(\alpha, \beta)},
        \qquad s = 0, \dots, K

    Built in log space from the ratio recurrence
    ``P(s+1)/P(s) = (K-s)(alpha+s) / ((s+1)(beta+K-1-s))`` and normalised with a
    log-sum-exp, so tiny probabilities keep their relative accuracy and nothing
    overflows at large evidence.

    Parameters
    ----------
    k : int
        Number of rollouts ``K >= 1``.
    alpha, beta : array_like
        Beta parameters, finite and > 0; broadcast together.

    Returns
    -------
    ndarray
        Shape ``broadcast(alpha, beta).shape + (k + 1,)``; the last axis is ``s = 0..K``
        and sums to 1.

    Examples
    --------
    >>> beta_binomial_pmf(2, 1.0, 1.0).round(6)  # uniform prior: S is uniform
    array([0.333333, 0.333333, 0.333333])
    """
    k = check_int(k, "k", min_value=1)
    a, b = _broadcast_params(alpha, beta)
    s = np.arange(k, dtype=np.float64)
    a_ = a[..., None]
    b_ = b[..., None]
    log_ratio = np.log((k - s) / (s + 1.0)) + np.log(a_ + s) - np.log(b_ + (k - 1.0 - s))
    log_weight = np.concatenate([np.zeros(a.shape + (1,)), np.cumsum(log_ratio, axis=-1)], axis=-1)
    log_weight -= log_weight.max(axis=-1, keepdims=True)
    weight = np.exp(log_weight)
    return weight / weight.sum(axis=-1, keepdims=True)


@numba.njit(cache=True, nogil=True)
def _mi_serial(a, b, k, out):  # pragma: no cover - compiled
    row_a = np.empty(k + 1)
    row_b = np.empty(k + 1)
    for i in range(a.size):
        out[i] = _special.mutual_information_scalar(a[i], b[i], k, row_a, row_b)


@numba.njit(cache=True, parallel=True)
def _mi_parallel(a, b, k, out):  # pragma: no cover - compiled
    chunk = 4096
    n_chunks = (a.size + chunk - 1) // chunk
    for c in numba.prange(n_chunks):
        row_a = np.empty(k + 1)
        row_b = np.empty(k + 1)
        for i in range(c * chunk, min(a.size, (c + 1) * chunk)):
            out[i] = _special.mutual_information_scalar(a[i], b[i], k, row_a, row_b)


def mutual_information(alpha: ArrayLike, beta: ArrayLike, k: int) -> np.ndarray | float:
    r"""Mutual information between ``k`` rollout rewards and the success rate (Eq. 13), nats.

    .. math::
        I_K(\alpha, \beta) = H(\alpha, \beta) - \sum_{s=0}^{K} P(S = s)\,
                             H(\alpha + s, \beta + K - s)

    The textbook form above subtracts nearly equal entropies and loses most of its
    digits at large evidence (0.4% error at ``alpha = beta = 1e6``). We use the
    equivalent form (from ``I = E[ln p(S | phi)] - E[ln p(S)]``)

    .. math::
        I_K = \sum_s P(S = s)\,[A(\alpha, s) + A(\beta, K - s)] - A(\alpha + \beta, K),
        \quad A(x, s) = s\,\psi(x + s) - \ln\frac{\Gamma(x + s)}{\Gamma(x)}

    where each ``A`` is a sum of positive increments computed without cancellation;
    the result has a relative error below 1e-11 for parameters in [1e-3, 1e7] and
    ``K <= 64`` (tested against 50-digit arithmetic).

    Parameters
    ----------
    alpha, beta : array_like
        Beta parameters, finite and > 0; broadcast together.
    k : int
        Number of rollouts ``K >= 1``.

    Returns
    -------
    float or ndarray
        ``I_K`` in nats, shape ``broadcast(alpha, beta).shape``. Large evidence gives
        ``I_K ~ 0.5 ln(1 + K / (n + 1))`` (Proposition 5.1).

    Examples
    --------
    >>> round(mutual_information(1.0, 1.0, 1), 6)  # ln 2 - 1/2
    0.193147
    """
    k = check_int(k, "k", min_value=1)
    a, b = _broadcast_params(alpha, beta)
    flat_a = np.ascontiguousarray(a).ravel()
    flat_b = np.ascontiguousarray(b).ravel()
    out = np.empty(flat_a.size, dtype=np.float64)
    kernel = _mi_parallel if flat_a.size >= PARALLEL_MIN_SIZE else _mi_serial
    kernel(flat_a, flat_b, k, out)
    return _scalar_or_array(out.reshape(a.shape))


def mutual_information_asymptotic(alpha: ArrayLike, beta: ArrayLike, k: int) -> np.ndarray | float:
    r"""Large-evidence approximation of ``I_K`` (Proposition 5.1 and its K-rollout form).

    .. math::
        I_K(\alpha, \beta) \approx \tfrac12 \ln\!\left(1 + \frac{K}{n + 1}\right),
        \qquad I_1 \approx \frac{1}{2 (n + 1)}

    It depends on the evidence ``n = alpha + beta`` only; its relative error is
    O(1/n) when both parameters are large. Nats.
    """
    k = check_int(k, "k", min_value=1)
    a, b = _broadcast_params(alpha, beta)
    return _scalar_or_array(0.5 * np.log1p(k / (a + b + 1.0)))


def expected_variance_reduction(
    alpha: ArrayLike, beta: ArrayLike, k: int = 1
) -> np.ndarray | float:
    r"""Expected drop of the posterior variance of ``phi`` after ``k`` rollouts (Eq. 7-8).

    .. math::
        \Delta V_K = \mathrm{Var}(\phi) - \mathbb{E}_S[\mathrm{Var}(\phi \mid S)]
                   = m (1 - m) \frac{K}{(n + 1)(n + K)}

    For ``K = 1`` this is the paper's Eq. 8, ``alpha beta / (n^2 (n + 1)^2)``: a
    difficulty factor ``m (1 - m)`` times an evidence factor ``1 / (n + 1)^2``. The
    K-rollout form follows from the law of total variance. Units: success rate squared.
    """
    k = check_int(k, "k", min_value=1)
    a, b = _broadcast_params(alpha, beta)
    n = a + b
    out = (a / n) * (b / n) * (k / ((n + 1.0) * (n + k)))
    return _scalar_or_array(out)
