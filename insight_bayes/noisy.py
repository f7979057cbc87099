r"""Noisy and graded rewards: the maths behind ``insight-noisy`` and ``insight-graded``.

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

**Graded rewards.** Countdown's rewards 1 / 0.1 / 0 are ``C = 3`` outcome categories.
A Dirichlet belief ``theta ~ Dir(a_1..a_C)`` over the category probabilities with
``K`` categorical rollouts has the Dirichlet-multinomial predictive and the mutual
information (:func:`dirichlet_mutual_information`)

.. math::
    I_K(\mathbf a) = H[\mathrm{Dir}(\mathbf a)]
      - \sum_{\mathbf x} P(\mathbf x)\, H[\mathrm{Dir}(\mathbf a + \mathbf x)],

an exact finite sum over the ``binom(K + C - 1, C - 1)`` compositions ``x`` of ``K``.

Everything is float64 and in nats.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numba
import numpy as np
from numpy.typing import ArrayLike
from scipy import special, stats

from insight_bayes import _special
from insight_bayes.belief import BetaBelief
from insight_bayes.beta import (
    PARALLEL_MIN_SIZE,
    _broadcast_params,
    _scalar_or_array,
    beta_binomial_pmf,
)
from insight_bayes.validation import check_ids, check_int, check_real, describe_bad

__all__ = [
    "MIN_NOISE_RATE",
    "DirichletBelief",
    "NoisyBetaBelief",
    "check_noise_rates",
    "compositions",
    "dirichlet_entropy",
    "dirichlet_multinomial_pmf",
    "dirichlet_mutual_information",
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


# --------------------------------------------------------------------- graded rewards
@lru_cache(maxsize=64)
def _compositions_cached(k: int, c: int) -> np.ndarray:
    if c == 1:
        out = np.array([[k]], dtype=np.int64)
    else:
        rows = [
            np.concatenate([np.full((sub.shape[0], 1), first), sub], axis=1)
            for first in range(k, -1, -1)
            for sub in (_compositions_cached(k - first, c - 1),)
        ]
        out = np.concatenate(rows, axis=0)
    out.flags.writeable = False
    return out


def compositions(k: int, c: int) -> np.ndarray:
    """Every way of writing ``K`` as an ordered sum of ``C`` non-negative counts.

    Shape ``(binom(K + C - 1, C - 1), C)``, int64, read-only.

    >>> compositions(2, 2).tolist()
    [[2, 0], [1, 1], [0, 2]]
    """
    k = check_int(k, "k", min_value=0)
    c = check_int(c, "c", min_value=1)
    if math.comb(k + c - 1, c - 1) > 5_000_000:
        raise ValueError(
            f"K={k} rollouts in C={c} categories have {math.comb(k + c - 1, c - 1):,} "
            "compositions; too many for the exact sum"
        )
    return _compositions_cached(k, c)


def _check_concentration(alpha: ArrayLike) -> np.ndarray:
    a = np.asarray(alpha, dtype=np.float64)
    if a.ndim < 1 or a.shape[-1] < 2:
        raise ValueError(
            f"alpha must have the categories on its last axis (at least 2), got shape {a.shape}"
        )
    bad = ~(np.isfinite(a) & (a > 0))
    if np.any(bad):
        raise ValueError(
            f"alpha must be finite and > 0 (Dirichlet concentrations); got {a[bad][:3].tolist()}"
        )
    return a


def dirichlet_entropy(alpha: ArrayLike) -> np.ndarray | float:
    r"""Differential entropy of ``Dir(alpha)`` in nats (categories on the last axis).

    .. math::
        H = \ln B(\mathbf a) + (a_0 - C)\,\psi(a_0) - \sum_j (a_j - 1)\,\psi(a_j),
        \qquad a_0 = \sum_j a_j

    With ``C = 2`` this is the Beta entropy (Eq. 11).
    """
    a = _check_concentration(alpha)
    a0 = a.sum(axis=-1)
    c = a.shape[-1]
    log_b = special.gammaln(a).sum(axis=-1) - special.gammaln(a0)
    out = log_b + (a0 - c) * special.digamma(a0) - ((a - 1.0) * special.digamma(a)).sum(axis=-1)
    return _scalar_or_array(np.asarray(out))


def dirichlet_multinomial_pmf(counts: ArrayLike, alpha: ArrayLike) -> np.ndarray | float:
    r"""Dirichlet-multinomial probability of category ``counts`` (last axis).

    .. math::
        P(\mathbf x) = \frac{K!}{\prod_j x_j!}
                       \frac{\Gamma(a_0)}{\Gamma(a_0 + K)}
                       \prod_j \frac{\Gamma(a_j + x_j)}{\Gamma(a_j)}, \qquad K = \sum_j x_j
    """
    a = _check_concentration(alpha)
    x = np.asarray(counts, dtype=np.float64)
    if np.any(~np.isfinite(x)) or np.any(x < 0) or np.any(x != np.round(x)):
        raise ValueError("counts must be non-negative whole numbers")
    x, a = np.broadcast_arrays(x, a)
    k = x.sum(axis=-1)
    a0 = a.sum(axis=-1)
    log_p = (
        special.gammaln(k + 1.0)
        - special.gammaln(x + 1.0).sum(axis=-1)
        + special.gammaln(a0)
        - special.gammaln(a0 + k)
        + (special.gammaln(a + x) - special.gammaln(a)).sum(axis=-1)
    )
    return _scalar_or_array(np.exp(log_p))


@numba.njit(cache=True, nogil=True)
def _dirichlet_mi_scalar(conc, k, row):  # pragma: no cover - compiled
    # sum_j sum_s BB(s; K, a_j, a_0 - a_j) A(a_j, s) - A(a_0, K), A of _special
    a0 = 0.0
    for j in range(conc.size):
        a0 += conc[j]
    acc_all = 0.0
    for j in range(conc.size):
        a = conc[j]
        b = a0 - a
        _special.fill_information_row(a, k, row)
        weight = 1.0
        total = 1.0
        acc = row[0]
        for s in range(k):
            weight *= (k - s) * (a + s) / ((s + 1.0) * (b + (k - 1 - s)))
            total += weight
            acc += weight * row[s + 1]
            if total > 1e200:
                weight /= total
                acc /= total
                total = 1.0
        acc_all += acc / total
    value = acc_all - _special.information_total(a0, k)
    return value if value > 0.0 else 0.0


@numba.njit(cache=True, nogil=True)
def _dirichlet_mi_serial(conc, k, out):  # pragma: no cover - compiled
    row = np.empty(k + 1)
    for i in range(conc.shape[0]):
        out[i] = _dirichlet_mi_scalar(conc[i], k, row)


@numba.njit(cache=True, parallel=True)
def _dirichlet_mi_parallel(conc, k, out):  # pragma: no cover - compiled
    chunk = 4096
    n_chunks = (conc.shape[0] + chunk - 1) // chunk
    for ch in numba.prange(n_chunks):
        row = np.empty(k + 1)
        for i in range(ch * chunk, min(conc.shape[0], (ch + 1) * chunk)):
            out[i] = _dirichlet_mi_scalar(conc[i], k, row)


def dirichlet_mutual_information(alpha: ArrayLike, k: int) -> np.ndarray | float:
    r"""Mutual information between ``K`` categorical rollouts and their probabilities, nats.

    .. math::
        I_K(\mathbf a) = H[\mathrm{Dir}(\mathbf a)]
            - \sum_{\mathbf x:\ \sum_j x_j = K} P(\mathbf x)\,
              H[\mathrm{Dir}(\mathbf a + \mathbf x)]

    a finite sum over the compositions ``x`` of ``K`` (:func:`compositions`) with
    Dirichlet-multinomial weights. Every posterior has total ``a_0 + K`` and
    ``E_x[psi(a_j + x_j)] - psi(a_j) = psi(a_0 + K) - psi(a_0)`` (both sides are
    ``E[ln theta_j]`` plus constants), so the sum collapses onto the marginal of each
    count, ``x_j ~ BetaBinomial(K, a_j, a_0 - a_j)``, in the cancellation-free form of
    Eq. 13 (:func:`insight_bayes.beta.mutual_information`):

    .. math::
        I_K(\mathbf a) = \sum_{j=1}^{C} \sum_{s=0}^{K}
              \mathrm{BB}(s; K, a_j, a_0 - a_j)\, A(a_j, s) - A(a_0, K),
        \qquad A(x, s) = s\,\psi(x + s) - \ln\frac{\Gamma(x + s)}{\Gamma(x)}

    ``C (K + 1)`` terms instead of ``binom(K + C - 1, C - 1)`` posterior entropies;
    each ``A`` is a sum of positive increments (no cancellation), so the relative
    accuracy is that of InSight's ``I_K``. For ``C = 2`` it is ``I_K(alpha, beta)``.
    Compiled; cost about ``C / 2`` times InSight's information term.

    Parameters
    ----------
    alpha : array_like, shape (..., C)
        Dirichlet concentrations, finite and > 0, categories on the last axis.
    k : int
        Rollouts ``K >= 1``.

    Returns
    -------
    float or ndarray
        Shape ``alpha.shape[:-1]``.
    """
    k = check_int(k, "k", min_value=1)
    a = _check_concentration(alpha)
    flat = np.ascontiguousarray(a.reshape(-1, a.shape[-1]))
    out = np.empty(flat.shape[0])
    kernel = _dirichlet_mi_parallel if flat.shape[0] >= PARALLEL_MIN_SIZE else _dirichlet_mi_serial
    kernel(flat, k, out)
    return _scalar_or_array(out.reshape(a.shape[:-1]))


# --------------------------------------------------------------------- noisy belief
class NoisyBetaBelief(BetaBelief):
    r"""Beta beliefs over the *true* success rates, updated through a noisy verifier.

    The reported successes ``S`` of ``K`` rollouts follow ``Binomial(K, p')`` with
    ``p' = eps0 + (1 - eps0 - eps1) p``. The exact posterior is a mixture of ``K + 1``
    Betas (:func:`noisy_posterior_weights`); the belief keeps its moment-matched Beta
    (:func:`moment_matched_update`), after the discount of Eq. 6. With
    ``eps0 = eps1 = 0`` it is :class:`~insight_bayes.belief.BetaBelief` exactly.

    Parameters
    ----------
    n_prompts : int
        Pool size.
    eps0, eps1 : float
        The verifier's false-positive and false-negative rates (known; see
        :func:`check_noise_rates`).
    alpha0, beta0, discount : float
        As for :class:`~insight_bayes.belief.BetaBelief`.
    """

    def __init__(
        self,
        n_prompts: int,
        *,
        eps0: float,
        eps1: float,
        alpha0: float = 1.0,
        beta0: float = 1.0,
        discount: float = 1.0,
    ) -> None:
        super().__init__(n_prompts, alpha0=alpha0, beta0=beta0, discount=discount)
        self.eps0, self.eps1 = check_noise_rates(eps0, eps1)

    def __repr__(self) -> str:
        return (
            super()
            .__repr__()
            .replace("BetaBelief(", f"NoisyBetaBelief(eps0={self.eps0}, eps1={self.eps1}, ", 1)
        )

    def update(
        self,
        ids: ArrayLike,
        successes: ArrayLike,
        trials: ArrayLike,
        *,
        discount: float | None = None,
        fractional: bool = False,
    ) -> None:
        """Discount (Eq. 6), then the moment-matched noisy update of each listed prompt.

        Rows of the same id are one group (their reported successes and trials are
        summed, which is exact: the likelihood depends on the sums only). Reported
        successes must be whole numbers (``fractional=True`` is refused: a noisy
        verifier's verdict is binary). Atomic: on any error nothing changes.
        """
        if fractional:
            raise ValueError(
                "a noisy-verifier belief needs binary verdicts (whole successes); "
                "use reward_mode='binary'"
            )
        ids_arr = check_ids(ids, "ids", self.n_prompts)
        # validate everything with the parent's rules on a scratch copy (atomic)
        scratch = BetaBelief(self.n_prompts)
        scratch.update(ids_arr, successes, trials, discount=discount)
        lam = self.discount if discount is None else float(discount)
        if ids_arr.size == 0:
            return
        s = np.asarray(successes, dtype=np.float64)
        t = np.asarray(trials, dtype=np.float64)
        unique, inverse = np.unique(ids_arr, return_inverse=True)
        s_sum = np.bincount(inverse, weights=s, minlength=unique.size)
        t_sum = np.bincount(inverse, weights=t, minlength=unique.size)
        a = lam * self._alpha[unique] + (1.0 - lam) * self.alpha0
        b = lam * self._beta[unique] + (1.0 - lam) * self.beta0
        new_a, new_b = a.copy(), b.copy()
        for k in np.unique(t_sum):
            if k == 0:
                continue
            rows = t_sum == k
            new_a[rows], new_b[rows] = moment_matched_update(
                s_sum[rows], int(k), a[rows], b[rows], self.eps0, self.eps1
            )
        if not (
            np.all(np.isfinite(new_a) & (new_a > 0)) and np.all(np.isfinite(new_b) & (new_b > 0))
        ):
            raise FloatingPointError("the moment-matched update left the Beta family")
        self._alpha[unique] = new_a
        self._beta[unique] = new_b

    def copy(self) -> NoisyBetaBelief:
        other = NoisyBetaBelief(1, eps0=self.eps0, eps1=self.eps1)
        other.alpha0, other.beta0, other.discount = self.alpha0, self.beta0, self.discount
        other._alpha = self._alpha.copy()
        other._beta = self._beta.copy()
        return other

    def state_dict(self) -> dict[str, Any]:
        """The parent's state plus ``eps0`` and ``eps1``."""
        return {**super().state_dict(), "eps0": self.eps0, "eps1": self.eps1}

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> NoisyBetaBelief:
        """Rebuild from :meth:`state_dict`; the noise rates must be in the state."""
        if "eps0" not in state or "eps1" not in state:
            raise ValueError("a noisy belief's state needs eps0 and eps1")
        plain = BetaBelief.from_state_dict(state)
        out = cls(
            plain.n_prompts,
            eps0=float(np.asarray(state["eps0"])),
            eps1=float(np.asarray(state["eps1"])),
            alpha0=plain.alpha0,
            beta0=plain.beta0,
            discount=plain.discount,
        )
        out._alpha, out._beta = plain._alpha, plain._beta
        return out

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Replace the state in place. A state without noise rates (a plain
        :class:`~insight_bayes.belief.BetaBelief` state, as
        :class:`~insight_bayes.integrations.OnlineSelector` round-trips it) keeps this
        belief's rates; one with other rates is refused."""
        if "eps0" in state or "eps1" in state:
            other = NoisyBetaBelief.from_state_dict(state)
            if (other.eps0, other.eps1) != (self.eps0, self.eps1):
                raise ValueError(
                    f"state has eps0={other.eps0}, eps1={other.eps1} but this belief has "
                    f"eps0={self.eps0}, eps1={self.eps1}"
                )
        plain = BetaBelief.from_state_dict(state)
        self.alpha0, self.beta0, self.discount = plain.alpha0, plain.beta0, plain.discount
        self._alpha, self._beta = plain._alpha, plain._beta


# --------------------------------------------------------------------- graded belief
class DirichletBelief(BetaBelief):
    r"""Dirichlet beliefs over the reward categories of every prompt (graded rewards).

    Categories, in order: **correct** (reward ``>= correct_reward``), **format**
    (reward ``== format_reward``: wrong but well formed) and **other** (reward 0).
    Prompt ``i`` has ``theta_i ~ Dir(c_i1, c_i2, c_i3)``; ``K`` graded rollouts add their
    category counts (conjugate, exact), after the discount of Eq. 6 toward the prior.

    The prior is ``(alpha0, beta0 / 2, beta0 / 2)``, so by the aggregation property the
    binary view ``(alpha, beta) = (c_1, c_2 + c_3)`` (what ``alpha``, ``beta``,
    ``mean`` return) is exactly the Beta belief that binarising at
    ``correct_reward`` would give: InSight's weight sees the same mean belief.

    Binary evidence (:meth:`update`) cannot say which wrong category a failure was,
    and is refused: feed rewards with :meth:`update_from_rewards` (the selection loop
    and :class:`~insight_bayes.integrations.OnlineSelector` do so for a belief that has
    this method).

    Parameters
    ----------
    n_prompts : int
        Pool size.
    correct_reward, format_reward : float
        Reward values of a correct and of a wrong but well-formed answer
        (Countdown: 1 and 0.1), ``0 < format_reward < correct_reward``.
    alpha0, beta0, discount : float
        As for :class:`~insight_bayes.belief.BetaBelief`.
    """

    categories = ("correct", "format", "other")

    def __init__(
        self,
        n_prompts: int,
        *,
        correct_reward: float = 1.0,
        format_reward: float = 0.1,
        alpha0: float = 1.0,
        beta0: float = 1.0,
        discount: float = 1.0,
    ) -> None:
        super().__init__(n_prompts, alpha0=alpha0, beta0=beta0, discount=discount)
        self.correct_reward = check_real(
            correct_reward, "correct_reward", low=0.0, low_inclusive=False
        )
        self.format_reward = check_real(
            format_reward, "format_reward", low=0.0, high=self.correct_reward, low_inclusive=False,
            high_inclusive=False,
        )  # fmt: skip
        self._counts = np.tile(self.prior_concentration, (self.n_prompts, 1))
        self._sync()

    @property
    def prior_concentration(self) -> np.ndarray:
        return np.array([self.alpha0, self.beta0 / 2.0, self.beta0 / 2.0])

    @property
    def concentration(self) -> np.ndarray:
        """Dirichlet parameters, shape ``(N, 3)`` (read-only view)."""
        view = self._counts.view()
        view.flags.writeable = False
        return view

    def _sync(self) -> None:
        self._alpha = self._counts[:, 0].copy()
        self._beta = self._counts[:, 1] + self._counts[:, 2]

    def categorize(self, rewards: ArrayLike) -> np.ndarray:
        """Category index (0 correct, 1 format, 2 other) of each reward; refuses others."""
        r = np.asarray(rewards, dtype=np.float64)
        cat = np.full(r.shape, -1, dtype=np.int64)
        cat[np.isclose(r, 0.0, rtol=0.0, atol=1e-9)] = 2
        cat[np.isclose(r, self.format_reward, rtol=0.0, atol=1e-9)] = 1
        cat[r >= self.correct_reward] = 0
        if np.any(cat < 0):
            raise ValueError(
                f"graded rewards must be 0, {self.format_reward} or >= {self.correct_reward}; "
                f"got {describe_bad(r[cat < 0])}"
            )
        return cat

    def update(self, ids, successes, trials, *, discount=None, fractional=False) -> None:
        raise ValueError(
            "a DirichletBelief needs the graded rewards, not binary counts: call "
            "update_from_rewards(ids, rewards)"
        )

    def update_from_rewards(
        self, ids: ArrayLike, rewards: ArrayLike, *, discount: float | None = None
    ) -> None:
        r"""Discount (Eq. 6) and add each group's category counts (conjugate, exact).

        .. math::
            \mathbf c' = \lambda \mathbf c + (1 - \lambda)\mathbf c_0 + \mathbf x

        Parameters
        ----------
        ids : array_like of int, shape (G,)
            Prompt ids; repeated ids are one step's evidence (counts summed, one discount).
        rewards : array_like, shape (G, K)
            Graded rewards of each group. Atomic: on any error nothing changes.
        """
        ids_arr = check_ids(ids, "ids", self.n_prompts)
        r = np.asarray(rewards, dtype=np.float64)
        if r.ndim != 2 or r.shape[0] != ids_arr.size:
            raise ValueError(f"rewards must have shape (len(ids), K), got {r.shape}")
        lam = (
            self.discount
            if discount is None
            else check_real(discount, "discount", low=0.0, high=1.0)
        )
        cat = self.categorize(r)
        if ids_arr.size == 0:
            return
        counts = np.stack([(cat == j).sum(axis=1) for j in range(3)], axis=1).astype(np.float64)
        unique, inverse = np.unique(ids_arr, return_inverse=True)
        summed = np.zeros((unique.size, 3))
        np.add.at(summed, inverse, counts)
        self._counts[unique] = (
            lam * self._counts[unique] + (1.0 - lam) * self.prior_concentration + summed
        )
        self._alpha[unique] = self._counts[unique, 0]
        self._beta[unique] = self._counts[unique, 1] + self._counts[unique, 2]

    def grow(self, n_new: int) -> np.ndarray:
        out = super().grow(n_new)
        self._counts = np.concatenate(
            [self._counts, np.tile(self.prior_concentration, (out.size, 1))]
        )
        return out

    def copy(self) -> DirichletBelief:
        other = DirichletBelief(
            1, correct_reward=self.correct_reward, format_reward=self.format_reward,
            alpha0=self.alpha0, beta0=self.beta0, discount=self.discount,
        )  # fmt: skip
        other._counts = self._counts.copy()
        other._sync()
        return other

    def state_dict(self) -> dict[str, Any]:
        """The binary view's state plus the category concentrations and reward values."""
        return {
            **super().state_dict(),
            "concentration": self._counts.copy(),
            "correct_reward": self.correct_reward,
            "format_reward": self.format_reward,
        }

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> DirichletBelief:
        if "concentration" not in state:
            raise ValueError("a Dirichlet belief's state needs its concentration (N, 3)")
        plain = BetaBelief.from_state_dict(state)
        counts = np.asarray(state["concentration"], dtype=np.float64)
        if counts.shape != (plain.n_prompts, 3) or not np.all(np.isfinite(counts) & (counts > 0)):
            raise ValueError(f"saved concentration must be ({plain.n_prompts}, 3), finite, > 0")
        out = cls(
            plain.n_prompts,
            correct_reward=float(np.asarray(state["correct_reward"])),
            format_reward=float(np.asarray(state["format_reward"])),
            alpha0=plain.alpha0,
            beta0=plain.beta0,
            discount=plain.discount,
        )
        out._counts = counts.copy()
        out._sync()
        return out

    def load_state_dict(self, state: dict[str, Any]) -> None:
        other = DirichletBelief.from_state_dict(state)
        if (other.correct_reward, other.format_reward) != (self.correct_reward, self.format_reward):
            raise ValueError("state has other reward values than this belief")
        self.alpha0, self.beta0, self.discount = other.alpha0, other.beta0, other.discount
        self._counts = other._counts
        self._sync()
