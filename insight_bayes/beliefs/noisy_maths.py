r"""Noisy rewards: the maths behind ``insight-noisy`` (the belief is :mod:`.noisy_belief`).

**Noisy verifier.** A verifier with false-positive rate ``eps0`` and false-negative rate
``eps1`` reports success with probability

.. math::
    p' = \varepsilon_0 + (1 - \varepsilon_0 - \varepsilon_1)\,p = \varepsilon_0 + c\,p,
    \qquad c = 1 - \varepsilon_0 - \varepsilon_1 > 0 .

With ``T`` true successes among ``K`` rollouts, the observed successes are
``S = X + Y``, ``X ~ Binomial(T, 1 - eps1)``, ``Y ~ Binomial(K - T, eps0)``, so
``P(S = s | T = t) = L[t, s]`` (:func:`noise_kernel`) does not depend on ``p``. Under
``p ~ Beta(alpha, beta)`` every quantity is a finite mixture over ``t``:

* predictive: ``P(S = s) = sum_t BB(t; K, alpha, beta) L[t, s]`` (:func:`noisy_predictive_pmf`);
* posterior: ``p | S = s ~ sum_t w_t Beta(alpha + t, beta + K - t)``,
  ``w_t ∝ BB(t) L[t, s]`` (:func:`noisy_posterior_weights`), exact;
* its moment-matched Beta (:func:`moment_matched_update`), the belief the rule keeps;
* the mutual information ``I(p; S) = H[S] - E_p[H(Binomial(K, p'))]``
  (:func:`noisy_mutual_information`), whose second term is an exact finite sum over
  ``s`` plus ``K E_p[h(p')]``; the latter is a convergent series in closed form.

Everything is float64 and in nats.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numba
import numpy as np
from numpy.typing import ArrayLike
from scipy import special, stats

from insight_bayes.beta import (
    PARALLEL_MIN_SIZE,
    _broadcast_params,
    _scalar_or_array,
    beta_binomial_pmf,
)
from insight_bayes.validation import check_int, check_real

__all__ = [
    "MIN_NOISE_RATE",
    "check_noise_rates",
    "moment_matched_update",
    "noise_kernel",
    "noisy_mutual_information",
    "noisy_posterior_moments",
    "noisy_posterior_weights",
    "noisy_predictive_pmf",
]


#: Smallest non-zero noise rate accepted. The series of :func:`noisy_mutual_information`
#: converges geometrically with ratio ``1 - eps / (1 - eps')``, so its cost grows like
#: ``1 / eps``; a rate below this is better treated as exactly 0 (a closed form).
MIN_NOISE_RATE = 1e-3

_SERIES_RTOL = 1e-14
_SERIES_MAX_TERMS = 10_000_000


# --------------------------------------------------------------------- noisy verifier
def check_noise_rates(eps0: float, eps1: float) -> tuple[float, float]:
    """Validate a verifier's false-positive ``eps0`` and false-negative ``eps1`` rates.

    Each must be 0 or in ``[MIN_NOISE_RATE, 1)``, and ``eps0 + eps1 < 1`` (otherwise
    the verifier's verdict carries no information, or is inverted).
    """
    out = []
    for value, name in ((eps0, "eps0"), (eps1, "eps1")):
        v = check_real(value, name, low=0.0, high=1.0, high_inclusive=False)
        if 0.0 < v < MIN_NOISE_RATE:
            raise ValueError(
                f"{name} must be 0 or >= {MIN_NOISE_RATE} (the information series costs "
                f"~1/{name} terms); got {v!r}. Use {name}=0 for a verifier this accurate"
            )
        out.append(v)
    if out[0] + out[1] >= 1.0:
        raise ValueError(
            f"eps0 + eps1 must be < 1 (at 1 the verdict is independent of correctness); "
            f"got eps0={out[0]!r} + eps1={out[1]!r} = {out[0] + out[1]!r}"
        )
    return out[0], out[1]


@lru_cache(maxsize=64)
def _noise_kernel_cached(k: int, eps0: float, eps1: float) -> np.ndarray:
    kernel = np.zeros((k + 1, k + 1))
    for t in range(k + 1):
        true_pos = stats.binom.pmf(np.arange(t + 1), t, 1.0 - eps1)
        false_pos = stats.binom.pmf(np.arange(k - t + 1), k - t, eps0)
        kernel[t] = np.convolve(true_pos, false_pos)
    kernel /= kernel.sum(axis=1, keepdims=True)
    kernel.flags.writeable = False
    return kernel


def noise_kernel(k: int, eps0: float, eps1: float) -> np.ndarray:
    r"""The noise kernel ``L[t, s] = P(S = s | T = t)`` of ``K`` noisy rollouts.

    .. math::
        L[t, s] = \sum_x \binom{t}{x}(1-\varepsilon_1)^x \varepsilon_1^{t-x}
                  \binom{K-t}{s-x}\varepsilon_0^{s-x}(1-\varepsilon_0)^{K-t-s+x}

    (``x`` true positives kept, ``s - x`` false positives). Rows sum to 1; the identity
    when ``eps0 = eps1 = 0``. Shape ``(K + 1, K + 1)``, read-only (cached).
    """
    k = check_int(k, "k", min_value=1)
    eps0, eps1 = check_noise_rates(eps0, eps1)
    return _noise_kernel_cached(k, eps0, eps1)


def noisy_predictive_pmf(
    k: int, alpha: ArrayLike, beta: ArrayLike, eps0: float, eps1: float
) -> np.ndarray:
    r"""Predictive ``P(S = s)`` of ``s`` reported successes in ``K`` noisy rollouts.

    .. math::
        P(S = s) = \sum_{t=0}^{K} \mathrm{BB}(t; K, \alpha, \beta)\, L[t, s]

    Shape ``broadcast(alpha, beta).shape + (K + 1,)``; the last axis sums to 1.
    """
    kernel = noise_kernel(k, eps0, eps1)
    return beta_binomial_pmf(k, alpha, beta) @ kernel


def noisy_posterior_weights(
    successes: ArrayLike,
    k: int,
    alpha: ArrayLike,
    beta: ArrayLike,
    eps0: float,
    eps1: float,
) -> np.ndarray:
    r"""Mixture weights of the exact posterior after ``s`` reported successes of ``K``.

    .. math::
        p \mid S = s \;\sim\; \sum_{t=0}^{K} w_t\,\mathrm{Beta}(\alpha + t, \beta + K - t),
        \qquad w_t = \frac{\mathrm{BB}(t; K, \alpha, \beta)\, L[t, s]}{P(S = s)}

    Parameters
    ----------
    successes : array_like of int
        Reported successes ``0 <= s <= K``; broadcast with ``alpha`` and ``beta``.
    k : int
        Rollouts ``K >= 1``.
    alpha, beta : array_like
        Prior Beta parameters, finite and > 0.
    eps0, eps1 : float
        False-positive and false-negative rates (:func:`check_noise_rates`).

    Returns
    -------
    ndarray
        Shape ``broadcast(successes, alpha, beta).shape + (K + 1,)``; sums to 1 over ``t``.
    """
    k = check_int(k, "k", min_value=1)
    kernel = noise_kernel(k, eps0, eps1)
    a, b = _broadcast_params(alpha, beta)
    s = np.asarray(successes, dtype=np.float64)
    if np.any(~np.isfinite(s)) or np.any(s != np.round(s)) or np.any((s < 0) | (s > k)):
        raise ValueError(f"successes must be whole numbers in [0, {k}]; got {s.ravel()[:3]}")
    s, a, b = np.broadcast_arrays(s.astype(np.int64), a, b)
    prior = beta_binomial_pmf(k, a, b)  # (..., K+1) over t
    weights = prior * kernel.T[s]  # kernel.T[s][..., t] = L[t, s]
    total = weights.sum(axis=-1, keepdims=True)
    return weights / total


def noisy_posterior_moments(
    successes: ArrayLike,
    k: int,
    alpha: ArrayLike,
    beta: ArrayLike,
    eps0: float,
    eps1: float,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Mean and variance of the exact mixture posterior (:func:`noisy_posterior_weights`).

    With ``N = alpha + beta + K`` and component means ``mu_t = (alpha + t) / N``:

    .. math::
        \mathbb E[p \mid s] = \sum_t w_t \mu_t, \qquad
        \mathrm{Var}[p \mid s] = \sum_t w_t \frac{\mu_t (1 - \mu_t)}{N + 1}
            + \sum_t w_t (\mu_t - \mathbb E[p \mid s])^2

    (within-component plus between-component variance: no cancellation).
    """
    weights = noisy_posterior_weights(successes, k, alpha, beta, eps0, eps1)
    a, b = _broadcast_params(alpha, beta)
    a = np.broadcast_to(a, weights.shape[:-1])[..., None]
    b = np.broadcast_to(b, weights.shape[:-1])[..., None]
    t = np.arange(k + 1, dtype=np.float64)
    total = a + b + k
    mu_t = (a + t) / total
    mean = np.sum(weights * mu_t, axis=-1)
    within = np.sum(weights * mu_t * (b + k - t) / total / (total + 1.0), axis=-1)
    between = np.sum(weights * (mu_t - mean[..., None]) ** 2, axis=-1)
    return mean, within + between


def moment_matched_update(
    successes: ArrayLike,
    k: int,
    alpha: ArrayLike,
    beta: ArrayLike,
    eps0: float,
    eps1: float,
) -> tuple[np.ndarray, np.ndarray]:
    r"""The Beta with the mean and variance of the exact noisy posterior.

    .. math::
        n' = \frac{\bar p (1 - \bar p)}{\mathrm{Var}[p \mid s]} - 1, \qquad
        \alpha' = \bar p\, n', \quad \beta' = (1 - \bar p)\, n'

    This is the approximation the noisy belief keeps (assumed-density filtering): it
    is exact when ``eps0 = eps1 = 0`` (``alpha + s, beta + K - s``) and otherwise keeps
    the first two moments of the mixture. A mixture of Betas on (0, 1) has variance
    below ``p_bar (1 - p_bar)``, so ``n' > 0``; and ``n' <= alpha + beta + K`` (noise
    never adds more evidence than a clean group).

    Returns
    -------
    (ndarray, ndarray)
        ``alpha'`` and ``beta'``, shape ``broadcast(successes, alpha, beta).shape``.
    """
    mean, var = noisy_posterior_moments(successes, k, alpha, beta, eps0, eps1)
    n_new = mean * (1.0 - mean) / var - 1.0
    return mean * n_new, (1.0 - mean) * n_new


@numba.njit(cache=True, nogil=True)
def _log_affine_series_pair(b, n, z):  # pragma: no cover - compiled
    # (E_{b,n}[ln(1 - z u)], E_{b,n+1}[ln(1 - z u)]) for u ~ Beta(b, n - b) and
    # u ~ Beta(b, n + 1 - b), 0 < z < 1: -sum_j z^j (b)_j / (j (n)_j) and the same with
    # (n + 1)_j = (n)_j (n + j) / n. The term ratio z (b + j) / (n + j) is below z, so
    # the tail after term j is below r_j z / ((j + 1)(1 - z)); stop when that is under
    # the relative tolerance (checked with multiplications only).
    inv_next = 1.0 / (n + 1.0)
    r = z * b / n
    total = r
    total_next = r * n * inv_next
    one_minus_z = 1.0 - z
    j = 1
    while j < _SERIES_MAX_TERMS:
        if r * z <= _SERIES_RTOL * total * (j + 1.0) * one_minus_z:
            break
        r *= z * (b + j) * inv_next  # inv_next = 1 / (n + j)
        j += 1
        inv_next = 1.0 / (n + j)
        term = r / j
        total += term
        total_next += term * n * inv_next
    if j >= _SERIES_MAX_TERMS:
        return np.nan, np.nan
    return -total, -total_next


@numba.njit(cache=True, nogil=True)
def _neg_binary_entropy_scalar(ai, bi, eps0, eps1):  # pragma: no cover - compiled
    # E[q ln q] + E[(1 - q) ln(1 - q)] = -E[h(q)], q = eps0 + c p, p ~ Beta(ai, bi),
    # for the non-zero rates (a zero rate's closed form is added by the caller).
    c = 1.0 - eps0 - eps1
    n = ai + bi
    m = ai / n
    acc = 0.0
    if eps0 > 0.0:  # E[q ln q] = eps0 E_{a,b}[ln q] + c m E_{a+1,b}[ln q]  (tilting by q)
        log_hi1 = math.log(1.0 - eps1)  # q = (1 - eps1)(1 - z1 (1 - p))
        here, tilted = _log_affine_series_pair(bi, n, c / (1.0 - eps1))
        acc += eps0 * (log_hi1 + here) + c * m * (log_hi1 + tilted)
    if eps1 > 0.0:  # E[(1-q) ln(1-q)] = eps1 E_{a,b}[ln(1-q)] + c (1-m) E_{a,b+1}[ln(1-q)]
        log_hi0 = math.log(1.0 - eps0)  # 1 - q = (1 - eps0)(1 - z0 p)
        here, tilted = _log_affine_series_pair(ai, n, c / (1.0 - eps0))
        acc += eps1 * (log_hi0 + here) + c * (1.0 - m) * (log_hi0 + tilted)
    return acc


@numba.njit(cache=True, nogil=True)
def _noisy_mi_scalar(ai, bi, k, kernel, log_binom, eps0, eps1, bb, pred):  # pragma: no cover
    # Beta-Binomial pmf over true successes t by its ratio recurrence, in log space
    bb[0] = 0.0
    top = 0.0
    for t in range(k):
        bb[t + 1] = bb[t] + math.log((k - t) / (t + 1.0)) + math.log(ai + t)
        bb[t + 1] -= math.log(bi + (k - 1.0 - t))
        top = max(top, bb[t + 1])
    norm = 0.0
    for t in range(k + 1):
        bb[t] = math.exp(bb[t] - top)
        norm += bb[t]
    for s in range(k + 1):
        pred[s] = 0.0
    for t in range(k + 1):
        w = bb[t] / norm
        for s in range(k + 1):
            pred[s] += w * kernel[t, s]
    out = 0.0
    for s in range(k + 1):
        if pred[s] > 0.0:
            out -= pred[s] * (math.log(pred[s]) - log_binom[s])
    return out + k * _neg_binary_entropy_scalar(ai, bi, eps0, eps1)


@numba.njit(cache=True, nogil=True)
def _noisy_mi_serial(a, b, k, kernel, log_binom, eps0, eps1, out):  # pragma: no cover
    bb = np.empty(k + 1)
    pred = np.empty(k + 1)
    for i in range(a.size):
        out[i] = _noisy_mi_scalar(a[i], b[i], k, kernel, log_binom, eps0, eps1, bb, pred)


@numba.njit(cache=True, parallel=True)
def _noisy_mi_parallel(a, b, k, kernel, log_binom, eps0, eps1, out):  # pragma: no cover
    chunk = 4096
    n_chunks = (a.size + chunk - 1) // chunk
    for ch in numba.prange(n_chunks):
        bb = np.empty(k + 1)
        pred = np.empty(k + 1)
        for i in range(ch * chunk, min(a.size, (ch + 1) * chunk)):
            out[i] = _noisy_mi_scalar(a[i], b[i], k, kernel, log_binom, eps0, eps1, bb, pred)


def noisy_mutual_information(
    alpha: ArrayLike, beta: ArrayLike, k: int, eps0: float, eps1: float
) -> np.ndarray | float:
    r"""Mutual information ``I(p; S)`` of ``K`` noisy rewards about the true rate, nats.

    .. math::
        I = H[S] - \mathbb E_p\big[H(\mathrm{Binomial}(K, p'))\big]
          = -\sum_s P(s) \ln\frac{P(s)}{\binom{K}{s}}
            - K\, \mathbb E_p[h(p')], \qquad p' = \varepsilon_0 + c\,p,

    using ``H(Binomial(K, q)) = K h(q) - E[ln binom(K, S) | q]`` and that the
    expectation of the second term over ``p`` is a sum over the predictive ``P(s)``
    (:func:`noisy_predictive_pmf`). The remaining ``E_p[q ln q]`` is, after tilting
    the Beta by ``q``, ``eps0 E_{a,b}[ln q] + c m E_{a+1,b}[ln q]`` with

    .. math::
        \mathbb E_{a,b}[\ln q] = \ln(1 - \varepsilon_1)
            - \sum_{j \ge 1} \frac{z^j}{j} \frac{(b)_j}{(a + b)_j},
        \qquad z = \frac{c}{1 - \varepsilon_1} < 1

    (Pochhammer symbols; the moments of ``1 - p``), summed until the geometric tail
    bound is below 1e-14 relative; likewise for ``1 - q``. A zero rate uses the
    digamma closed form. With ``eps0 = eps1 = 0`` this is InSight's ``I_K`` (Eq. 13).

    Accuracy: absolute about 1e-15 times ``K``; the two terms are O(K) and their
    difference O(K / n), so relative accuracy is about ``1e-15 n`` (1e-9 at
    ``n = 1e6``). Cost per candidate: a (K+1)-term predictive and four series of
    about ``ln(1e-15) / ln z`` terms at worst (about 250 at ``eps = 0.1``, fewer for
    concentrated beliefs).

    Parameters
    ----------
    alpha, beta : array_like
        Beta belief over the *true* success rate, finite and > 0; broadcast together.
    k : int
        Rollouts per prompt ``K >= 1``.
    eps0, eps1 : float
        False-positive and false-negative rates (:func:`check_noise_rates`).

    Examples
    --------
    >>> from insight_bayes.beta import mutual_information
    >>> bool(abs(noisy_mutual_information(2.0, 3.0, 4, 0.0, 0.0)
    ...          - mutual_information(2.0, 3.0, 4)) < 1e-12)
    True
    """
    k = check_int(k, "k", min_value=1)
    kernel = noise_kernel(k, eps0, eps1)
    eps0, eps1 = check_noise_rates(eps0, eps1)
    a, b = _broadcast_params(alpha, beta)
    flat_a = np.ascontiguousarray(a).ravel()
    flat_b = np.ascontiguousarray(b).ravel()
    j = np.arange(k + 1.0)
    log_binom = special.gammaln(k + 1.0) - special.gammaln(j + 1.0) - special.gammaln(k - j + 1.0)
    out = np.empty(flat_a.size)
    kernel_fn = _noisy_mi_parallel if flat_a.size >= PARALLEL_MIN_SIZE else _noisy_mi_serial
    kernel_fn(flat_a, flat_b, k, np.ascontiguousarray(kernel), log_binom, eps0, eps1, out)
    c = 1.0 - eps0 - eps1
    n = flat_a + flat_b
    if eps0 == 0.0:  # q = c p: E[q ln q] = c m (ln c + psi(a + 1) - psi(n + 1))
        out += (
            k
            * c
            * flat_a
            / n
            * (math.log(c) + special.digamma(flat_a + 1) - special.digamma(n + 1))
        )
    if eps1 == 0.0:  # 1 - q = c (1 - p)
        out += (
            k
            * c
            * flat_b
            / n
            * (math.log(c) + special.digamma(flat_b + 1) - special.digamma(n + 1))
        )
    if not np.all(np.isfinite(out)):  # pragma: no cover - guarded by MIN_NOISE_RATE
        raise FloatingPointError("the noisy information series did not converge")
    return _scalar_or_array(np.maximum(out, 0.0).reshape(a.shape))
