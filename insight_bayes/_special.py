"""Scalar special-function pieces, compiled with numba, used by :mod:`insight_bayes.beta`.

The Beta entropy and the Beta-Binomial mutual information are differences of large,
nearly equal log-gamma and digamma terms when the evidence ``alpha + beta`` is large.
To keep every digit we split each function into its Stirling form plus a small
remainder that is computed without cancellation:

    ln Gamma(x) = (x - 1/2) ln x - x + ln(2 pi) / 2 + r(x)
    psi(x)      = ln x - 1/(2x) - q(x)

For ``x >= SERIES_THRESHOLD`` the remainders come from their asymptotic (Bernoulli)
series, truncated where the next term is below 1e-15 relative; below the threshold
``r`` comes from ``math.lgamma`` and ``q`` from the digamma recurrence
``psi(x) = psi(x + N) - sum_{i<N} 1/(x + i)`` shifted into the series range.
"""

from __future__ import annotations

import math

import numba

SERIES_THRESHOLD = 10.0
HALF_LOG_TWO_PI = 0.5 * math.log(2.0 * math.pi)

# q(x) = sum_k B_2k / (2k x^2k); r(x) = sum_k B_2k / (2k (2k - 1) x^(2k - 1)).
_Q1, _Q2, _Q3, _Q4 = 1.0 / 12.0, 1.0 / 120.0, 1.0 / 252.0, 1.0 / 240.0
_Q5, _Q6, _Q7, _Q8 = 1.0 / 132.0, 691.0 / 32760.0, 1.0 / 12.0, 3617.0 / 8160.0
_R1, _R2, _R3, _R4 = 1.0 / 12.0, 1.0 / 360.0, 1.0 / 1260.0, 1.0 / 1680.0
_R5, _R6, _R7, _R8 = 1.0 / 1188.0, 691.0 / 360360.0, 1.0 / 156.0, 3617.0 / 122400.0

_jit = numba.njit(cache=True, nogil=True, fastmath=False)


@_jit
def q_series(x: float) -> float:
    """Asymptotic series of ``q(x) = ln x - 1/(2x) - psi(x)``; accurate for x >= 10."""
    z = 1.0 / (x * x)
    return z * (
        _Q1 - z * (_Q2 - z * (_Q3 - z * (_Q4 - z * (_Q5 - z * (_Q6 - z * (_Q7 - z * _Q8))))))
    )


@_jit
def q_remainder(x: float) -> float:
    """``q(x) = ln x - 1/(2x) - psi(x)`` for any x > 0, without cancellation at large x."""
    if x >= SERIES_THRESHOLD:
        return q_series(x)
    shift = math.ceil(SERIES_THRESHOLD - x)
    harmonic = 0.0
    for i in range(shift):
        harmonic += 1.0 / (x + i)
    y = x + shift
    return q_series(y) - math.log1p(shift / x) - 0.5 / x + 0.5 / y + harmonic


@_jit
def digamma(x: float) -> float:
    """Digamma function psi(x) for x > 0 (absolute error about 1e-15)."""
    return math.log(x) - 0.5 / x - q_remainder(x)


@_jit
def stirling_remainder(x: float) -> float:
    """``r(x) = ln Gamma(x) - (x - 1/2) ln x + x - ln(2 pi)/2`` for any x > 0."""
    if x >= SERIES_THRESHOLD:
        z = 1.0 / (x * x)
        return (
            _R1 - z * (_R2 - z * (_R3 - z * (_R4 - z * (_R5 - z * (_R6 - z * (_R7 - z * _R8))))))
        ) / x
    return math.lgamma(x) - (x - 0.5) * math.log(x) + x - HALF_LOG_TWO_PI


@_jit
def beta_entropy_scalar(a: float, b: float) -> float:
    """Differential entropy of Beta(a, b) in nats (Eq. 11), in the Stirling-reduced form.

    Substituting the two splittings above into
    ``H = ln B(a, b) - (a-1) psi(a) - (b-1) psi(b) + (n-2) psi(n)`` with n = a + b gives

        H = ln(2 pi)/2 + 1/2 + [ln(a/n) + ln(b/n) - ln n] / 2 - 1/(2a) - 1/(2b) + 1/n
            + r(a) + r(b) - r(n) + (a-1) q(a) + (b-1) q(b) - (n-2) q(n)

    whose terms are all O(1) or smaller: no cancellation when a and b are large.
    """
    n = a + b
    logs = 0.5 * (math.log(a / n) + math.log(b / n) - math.log(n))
    rational = 0.5 - 0.5 / a - 0.5 / b + 1.0 / n
    rem = stirling_remainder(a) + stirling_remainder(b) - stirling_remainder(n)
    qs = (a - 1.0) * q_remainder(a) + (b - 1.0) * q_remainder(b) - (n - 2.0) * q_remainder(n)
    return HALF_LOG_TWO_PI + logs + rational + rem + qs


@_jit
def fill_information_row(x: float, k: int, out) -> None:
    """Fill ``out[s] = A(x, s) = s psi(x + s) - ln[Gamma(x + s) / Gamma(x)]`` for s = 0..k.

    ``A`` is the per-parameter piece of the mutual information (see
    :func:`insight_bayes.beta.mutual_information`). Its increments
    ``A(x, s+1) - A(x, s) = s/(x+s) + psi(x+s+1) - ln(x+s)`` are positive, so for
    large ``x`` we sum them (each from the q-series, no logarithm); for small ``x`` we
    use ``s psi(x+s) - sum_{j<s} ln(x+j)``, whose two parts are of the same modest size.
    """
    out[0] = 0.0
    if x >= SERIES_THRESHOLD:
        acc = 0.0
        for j in range(k):
            y = x + j
            acc += (j + 0.5) / y - q_series(y)
            out[j + 1] = acc
        return
    psi = digamma(x)
    log_sum = 0.0
    for s in range(1, k + 1):
        y = x + (s - 1)
        psi += 1.0 / y
        log_sum += math.log(y)
        out[s] = s * psi - log_sum


@_jit
def information_total(x: float, k: int) -> float:
    """``A(x, k)`` alone (see :func:`fill_information_row`), with one logarithm."""
    if x >= SERIES_THRESHOLD:
        acc = 0.0
        for j in range(k):
            y = x + j
            acc += (j + 0.5) / y - q_series(y)
        return acc
    psi = digamma(x)
    log_sum = 0.0
    prod = 1.0
    for j in range(k):
        y = x + j
        psi += 1.0 / y
        prod *= y
        if prod > 1e250:
            log_sum += math.log(prod)
            prod = 1.0
    log_sum += math.log(prod)
    return k * psi - log_sum


@_jit
def mutual_information_scalar(a: float, b: float, k: int, row_a, row_b) -> float:
    """I_K(a, b) in nats (Eq. 13) in the cancellation-free form

        I_K = sum_s P(S = s) [A(a, s) + A(b, K - s)] - A(a + b, K),

    with P the Beta-Binomial pmf (Eq. 12) built by its ratio recurrence
    ``P(s+1)/P(s) = (K-s)(a+s) / ((s+1)(b+K-1-s))`` and rescaled against overflow.
    ``row_a`` and ``row_b`` are work arrays of length ``k + 1``.
    """
    fill_information_row(a, k, row_a)
    fill_information_row(b, k, row_b)
    weight = 1.0
    total = 1.0
    acc = row_a[0] + row_b[k]
    for s in range(k):
        weight *= (k - s) * (a + s) / ((s + 1.0) * (b + (k - 1 - s)))
        total += weight
        acc += weight * (row_a[s + 1] + row_b[k - 1 - s])
        if total > 1e200:
            weight /= total
            acc /= total
            total = 1.0
    value = acc / total - information_total(a + b, k)
    return value if value > 0.0 else 0.0
