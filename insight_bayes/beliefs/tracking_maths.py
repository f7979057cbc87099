r"""Beliefs that track a moving policy: a logit random walk between visits.

InSight's Beta belief treats a prompt's success rate as fixed; during training it moves
(the learner's shared abilities rise, and a visited prompt is memorised). Here the rate's
logit ``x = logit(phi)`` follows a random walk between visits:

.. math::
    x(t + \Delta) = x(t) + \nu\,[\text{visited at } t] + \delta \Delta
                    + \sqrt{\sigma^2 \Delta}\;\varepsilon, \qquad \varepsilon \sim N(0, 1)

with a population trend ``delta`` per step, a jump ``nu`` right after each visit
(memorisation) and a diffusion variance ``sigma^2`` per step (idiosyncratic drift).

**Propagation (moment matching in logit space).** If ``phi ~ Beta(a, b)`` its logit has
the exact moments ``E[x] = psi(a) - psi(b)`` and ``Var[x] = psi_1(a) + psi_1(b)``
(digamma and trigamma). After the walk the logit has mean ``E[x] + shift`` and variance
``Var[x] + added``; we return the ``Beta(a', b')`` whose logit has exactly these two
moments, found by a safeguarded Newton solve in ``(ln a', ln b')``. The approximation is
that the propagated rate is again Beta (its logit's first two moments are exact; higher
moments are not): :func:`propagate_beta`, tested against Monte Carlo of the walk.

**Empirical Bayes.** :class:`DriftFit` keeps, on a fixed grid of ``(delta, sigma^2,
nu)``, the exponentially discounted sum of the log predictive likelihoods of every
revisited prompt's new outcomes (Beta-Binomial under the propagated Beta of its last
visit) and reports the maximiser (refined by a parabola along each axis). Cost per
update: (revisited prompts) x (grid points) Newton solves, independent of the pool size.

**The clock.** :class:`TrackingBelief` advances its clock by one at every
:meth:`TrackingBelief.update` call (one loop step: choose, roll out, learn, update). A
prompt updated at clock ``c`` describes its rate at that step's rollouts; at the next
selection one learner step has passed (``Delta = 1``).
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numpy.typing import ArrayLike

from insight_bayes import _special
from insight_bayes.beta import PARALLEL_MIN_SIZE
from insight_bayes.validation import (
    check_positive_array,
    describe_bad,
)

__all__ = [
    "beta_binomial_logpmf",
    "beta_from_logit_moments",
    "logit_moments",
    "propagate_beta",
    "tetragamma",
    "trigamma",
]


_jit = numba.njit(cache=True, nogil=True)
_SHIFT_TO = 10.0
_NEWTON_MAX_ITER = 200
_NEWTON_STEP_TOL = 1e-6
_LOGIT_CAP = 40.0


# --------------------------------------------------------------------------- kernels
@_jit
def _trigamma(x):  # pragma: no cover - compiled
    acc = 0.0
    while x < _SHIFT_TO:
        acc += 1.0 / (x * x)
        x += 1.0
    z = 1.0 / x
    z2 = z * z
    series = z * (
        1.0
        + z
        * (
            0.5
            + z
            * (
                1.0 / 6.0
                - z2 * (1.0 / 30.0 - z2 * (1.0 / 42.0 - z2 * (1.0 / 30.0 - z2 * (5.0 / 66.0))))
            )
        )
    )
    return acc + series


@_jit
def _tetragamma(x):  # pragma: no cover - compiled
    acc = 0.0
    while x < _SHIFT_TO:
        acc -= 2.0 / (x * x * x)
        x += 1.0
    z = 1.0 / x
    z2 = z * z
    series = -z2 * (
        1.0
        + z
        + z2 * (0.5 - z2 * (1.0 / 6.0 - z2 * (1.0 / 6.0 - z2 * (3.0 / 10.0 - z2 * (5.0 / 6.0)))))
    )
    return acc + series


@_jit
def _polygammas(x):  # pragma: no cover - compiled
    """(psi(x), psi_1(x), psi_2(x)) sharing one recurrence to x >= 10."""
    d0 = 0.0
    d1 = 0.0
    d2 = 0.0
    y = x
    while y < _SHIFT_TO:
        inv = 1.0 / y
        d0 -= inv
        d1 += inv * inv
        d2 -= 2.0 * inv * inv * inv
        y += 1.0
    return d0 + _special.digamma(y), d1 + _trigamma(y), d2 + _tetragamma(y)


@_jit
def _bridge(mean, var):  # pragma: no cover - compiled
    """Closed-form start from psi(x) ~ ln(x - 1/2), psi_1(x) ~ 1/(x - 1/2) (exact as n -> inf):
    ``a = 1/2 + (1 + e^mean) / var``, ``b = 1/2 + (1 + e^-mean) / var``."""
    e = math.exp(min(max(mean, -700.0), 700.0))
    return 0.5 + (1.0 + e) / var, 0.5 + (1.0 + 1.0 / e) / var


@_jit
def _newton(mean, var, u, w, out):  # pragma: no cover - compiled
    """Solve psi(a) - psi(b) = mean, psi_1(a) + psi_1(b) = var in (u, w) = (ln a, ln b)."""
    log_var = math.log(var)
    for _ in range(_NEWTON_MAX_ITER):
        a, b = math.exp(u), math.exp(w)
        p0a, p1a, p2a = _polygammas(a)
        p0b, p1b, p2b = _polygammas(b)
        total = p1a + p1b
        f1 = p0a - p0b - mean
        f2 = math.log(total) - log_var
        j11, j12 = a * p1a, -b * p1b
        j21, j22 = a * p2a / total, b * p2b / total
        det = j11 * j22 - j12 * j21
        du = (f1 * j22 - f2 * j12) / det
        dw = (j11 * f2 - j21 * f1) / det
        step = max(abs(du), abs(dw))
        if step > 2.0:  # safeguard: at most a factor e^2 per iteration
            du *= 2.0 / step
            dw *= 2.0 / step
        u -= du
        w -= dw
        if step < _NEWTON_STEP_TOL:  # quadratic convergence: the error is now ~ step^2
            out[0], out[1] = math.exp(u), math.exp(w)
            return True
    out[0], out[1] = math.nan, math.nan
    return False


@_jit
def _solve(mean, var, out):  # pragma: no cover - compiled
    """Beta(a, b) with logit moments (mean, var); out[0], out[1] = a, b; returns ok."""
    a0, b0 = _bridge(mean, var)
    return _newton(mean, var, math.log(a0), math.log(b0), out)


@_jit
def _solve_flat(mean, var, out_a, out_b):  # pragma: no cover - compiled
    pair = np.empty(2)
    for i in range(mean.size):
        _solve(mean[i], var[i], pair)
        out_a[i], out_b[i] = pair[0], pair[1]


@_jit
def _logit_moments_flat(a, b, out_mean, out_var):  # pragma: no cover - compiled
    for i in range(a.size):
        p0a, p1a, _ = _polygammas(a[i])
        p0b, p1b, _ = _polygammas(b[i])
        out_mean[i], out_var[i] = p0a - p0b, p1a + p1b


@_jit
def _propagate_one(a, b, shift, added, out):  # pragma: no cover - compiled
    if shift == 0.0 and added == 0.0:
        out[0], out[1] = a, b
        return True
    p0a, p1a, _ = _polygammas(a)
    p0b, p1b, _ = _polygammas(b)
    return _propagate_from(a, b, p0a - p0b, p1a + p1b, shift, added, out)


@_jit
def _propagate_from(a, b, mean0, var0, shift, added, out):  # pragma: no cover - compiled
    """As _propagate_one, with the stored Beta's logit moments already known."""
    if shift == 0.0 and added == 0.0:
        out[0], out[1] = a, b
        return True
    # a logit beyond +-_LOGIT_CAP is a rate within 1e-17 of 0 or 1: clip (no overflow)
    mean = min(max(mean0 + shift, -_LOGIT_CAP), _LOGIT_CAP)
    var = var0 + added
    # warm start: the stored Beta scaled by the closed form's change (exact at no drift)
    ba0, bb0 = _bridge(mean0, var0)
    ba1, bb1 = _bridge(mean, var)
    return _newton(mean, var, math.log(a * ba1 / ba0), math.log(b * bb1 / bb0), out)


@_jit
def _propagate_serial(a, b, shift, added, out_a, out_b):  # pragma: no cover - compiled
    pair = np.empty(2)
    for i in range(a.size):
        _propagate_one(a[i], b[i], shift[i], added[i], pair)
        out_a[i], out_b[i] = pair[0], pair[1]


@_jit
def _propagate_id(
    i, a, b, m0, v0, last, visited, clock, trend, diffusion, jump, pair
):  # pragma: no cover
    elapsed = float(clock - last[i])
    shift = trend * elapsed + (jump if visited[i] and elapsed > 0 else 0.0)
    return _propagate_from(a[i], b[i], m0[i], v0[i], shift, diffusion * elapsed, pair)


@_jit
def _propagate_ids_serial(
    ids, a, b, m0, v0, last, visited, clock, trend, diffusion, jump, out_a, out_b
):  # pragma: no cover
    pair = np.empty(2)
    for j in range(ids.size):
        _propagate_id(ids[j], a, b, m0, v0, last, visited, clock, trend, diffusion, jump, pair)
        out_a[j], out_b[j] = pair[0], pair[1]


@numba.njit(cache=True, parallel=True)
def _propagate_ids_parallel(
    ids, a, b, m0, v0, last, visited, clock, trend, diffusion, jump, out_a, out_b
):  # pragma: no cover
    chunk = 4096
    n_chunks = (ids.size + chunk - 1) // chunk
    for c in numba.prange(n_chunks):
        pair = np.empty(2)
        for j in range(c * chunk, min(ids.size, (c + 1) * chunk)):
            _propagate_id(ids[j], a, b, m0, v0, last, visited, clock, trend, diffusion, jump, pair)
            out_a[j], out_b[j] = pair[0], pair[1]


@numba.njit(cache=True, parallel=True)
def _propagate_parallel(a, b, shift, added, out_a, out_b):  # pragma: no cover - compiled
    chunk = 4096
    n_chunks = (a.size + chunk - 1) // chunk
    for c in numba.prange(n_chunks):
        pair = np.empty(2)
        for i in range(c * chunk, min(a.size, (c + 1) * chunk)):
            _propagate_one(a[i], b[i], shift[i], added[i], pair)
            out_a[i], out_b[i] = pair[0], pair[1]


@_jit
def _bb_logpmf(s, k, a, b):  # pragma: no cover - compiled
    return (
        math.lgamma(k + 1.0)
        - math.lgamma(s + 1.0)
        - math.lgamma(k - s + 1.0)
        + math.lgamma(a + s)
        + math.lgamma(b + k - s)
        - math.lgamma(a + b + k)
        - math.lgamma(a)
        - math.lgamma(b)
        + math.lgamma(a + b)
    )


@_jit
def _bb_logpmf_flat(s, k, a, b, out):  # pragma: no cover - compiled
    for i in range(a.size):
        out[i] = _bb_logpmf(s[i], k[i], a[i], b[i])


@_jit
def _grid_loglik(a, b, elapsed, visited, s, k, trends, diffusions, jumps, out):  # pragma: no cover
    """out[i, j, l] = sum_g log BB(s_g; k_g, propagate(a_g, b_g | trend_i, diff_j, jump_l))."""
    pair = np.empty(2)
    for g in range(a.size):
        p0a, p1a, _ = _polygammas(a[g])
        p0b, p1b, _ = _polygammas(b[g])
        mean0, var0 = p0a - p0b, p1a + p1b
        for i in range(trends.size):
            for j in range(diffusions.size):
                for q in range(jumps.size):
                    shift = trends[i] * elapsed[g] + (jumps[q] if visited[g] else 0.0)
                    added = diffusions[j] * elapsed[g]
                    if _propagate_from(a[g], b[g], mean0, var0, shift, added, pair):
                        out[i, j, q] += _bb_logpmf(s[g], k[g], pair[0], pair[1])
                    else:
                        out[i, j, q] = -math.inf


# --------------------------------------------------------------------- public maths
def _pair(alpha: ArrayLike, beta: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    a = check_positive_array(alpha, "alpha")
    b = check_positive_array(beta, "beta")
    return np.broadcast_arrays(a, b)


def trigamma(x: ArrayLike) -> np.ndarray:
    r"""Trigamma ``psi_1(x) = d^2 ln Gamma(x) / dx^2`` for x > 0 (recurrence, then the
    asymptotic series at x >= 10; relative error about 1e-14)."""
    arr = check_positive_array(x, "x")
    return np.vectorize(_trigamma, otypes=[np.float64])(arr)


def tetragamma(x: ArrayLike) -> np.ndarray:
    r"""Tetragamma ``psi_2(x) = d^3 ln Gamma(x) / dx^3`` for x > 0 (as :func:`trigamma`)."""
    arr = check_positive_array(x, "x")
    return np.vectorize(_tetragamma, otypes=[np.float64])(arr)


def logit_moments(alpha: ArrayLike, beta: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    r"""Exact mean and variance of ``logit(phi)`` for ``phi ~ Beta(alpha, beta)``.

    .. math::
        E[\operatorname{logit}\phi] = \psi(\alpha) - \psi(\beta), \qquad
        \operatorname{Var}[\operatorname{logit}\phi] = \psi_1(\alpha) + \psi_1(\beta)

    (``ln phi`` and ``ln(1 - phi)`` are the sufficient statistics of the Beta family.)
    """
    from scipy import special

    a, b = _pair(alpha, beta)
    return special.digamma(a) - special.digamma(b), special.polygamma(1, a) + special.polygamma(
        1, b
    )


def beta_from_logit_moments(mean: ArrayLike, var: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    r"""The ``Beta(a, b)`` whose logit has mean ``mean`` and variance ``var`` (exactly).

    Solves ``psi(a) - psi(b) = mean`` and ``psi_1(a) + psi_1(b) = var`` by Newton's method
    in ``(ln a, ln b)`` (steps capped at 2 in log space), started from the closed form
    ``a = 1/2 + (1 + e^mean) / var``, ``b = 1/2 + (1 + e^-mean) / var`` (from
    ``psi(x) ~ ln(x - 1/2)``, ``psi_1(x) ~ 1/(x - 1/2)``). Raises ``ArithmeticError`` if a
    solve does not converge (never a silent NaN).
    """
    m = np.asarray(mean, dtype=np.float64)
    v = check_positive_array(var, "var")
    if not np.all(np.isfinite(m)):
        raise ValueError(f"mean must be finite; got {describe_bad(m[~np.isfinite(m)])}")
    m, v = np.broadcast_arrays(m, v)
    out_a = np.empty(m.size)
    out_b = np.empty(m.size)
    _solve_flat(np.ascontiguousarray(m).ravel(), np.ascontiguousarray(v).ravel(), out_a, out_b)
    _check_solved(out_a, out_b)
    return out_a.reshape(m.shape), out_b.reshape(m.shape)


def _check_solved(a: np.ndarray, b: np.ndarray) -> None:
    bad = ~(np.isfinite(a) & np.isfinite(b) & (a > 0) & (b > 0))
    if np.any(bad):
        raise ArithmeticError(
            f"moment matching did not converge for {int(bad.sum())} of {a.size} beliefs"
        )


def propagate_beta(
    alpha: ArrayLike, beta: ArrayLike, shift: ArrayLike, added_variance: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    r"""Propagate ``Beta(alpha, beta)`` through a logit shift plus Gaussian noise.

    .. math::
        x' = \operatorname{logit}\phi + \text{shift} + \sqrt{v}\,\varepsilon
        \;\Rightarrow\; \phi' \approx \operatorname{Beta}(a', b'),\quad
        \psi(a') - \psi(b') = \psi(\alpha) - \psi(\beta) + \text{shift},\quad
        \psi_1(a') + \psi_1(b') = \psi_1(\alpha) + \psi_1(\beta) + v

    The logit's first two moments are exact; the Beta form is the approximation.
    Elements with ``shift = 0`` and ``v = 0`` are returned unchanged; a propagated logit
    mean beyond +-40 (a rate within 1e-17 of 0 or 1) is clipped there.

    Parameters
    ----------
    alpha, beta : array_like
        Beliefs at the last visit, finite and > 0.
    shift : array_like
        Mean logit change (trend x elapsed steps + jump), finite.
    added_variance : array_like
        Logit variance added (diffusion x elapsed steps), finite and >= 0.

    Returns
    -------
    (ndarray, ndarray)
        ``a', b'`` of the broadcast shape.
    """
    a, b = _pair(alpha, beta)
    sh = np.asarray(shift, dtype=np.float64)
    add = np.asarray(added_variance, dtype=np.float64)
    if not np.all(np.isfinite(sh)):
        raise ValueError(f"shift must be finite; got {describe_bad(sh[~np.isfinite(sh)])}")
    if not np.all(np.isfinite(add) & (add >= 0)):
        raise ValueError(f"added_variance must be finite and >= 0; got {describe_bad(add)}")
    a, b, sh, add = np.broadcast_arrays(a, b, sh, add)
    shape = a.shape
    flat = [np.ascontiguousarray(x, dtype=np.float64).ravel() for x in (a, b, sh, add)]
    out_a = np.empty(flat[0].size)
    out_b = np.empty(flat[0].size)
    kernel = _propagate_parallel if out_a.size >= PARALLEL_MIN_SIZE else _propagate_serial
    kernel(*flat, out_a, out_b)
    _check_solved(out_a, out_b)
    return out_a.reshape(shape), out_b.reshape(shape)


def _stored_moments(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = np.empty(a.size)
    var = np.empty(a.size)
    _logit_moments_flat(np.ascontiguousarray(a), np.ascontiguousarray(b), mean, var)
    return mean, var


def beta_binomial_logpmf(
    successes: ArrayLike, trials: ArrayLike, alpha: ArrayLike, beta: ArrayLike
) -> np.ndarray:
    r"""Log Beta-Binomial predictive probability of ``S`` successes in ``K`` (Eq. 12).

    .. math::
        \ln P(S) = \ln\binom{K}{S} + \ln B(\alpha + S, \beta + K - S) - \ln B(\alpha, \beta)

    Non-integer ``S`` (fractional counts) use the Gamma-function form of the binomial.
    """
    a, b = _pair(alpha, beta)
    s = np.asarray(successes, dtype=np.float64)
    k = np.asarray(trials, dtype=np.float64)
    if not np.all(np.isfinite(s) & np.isfinite(k) & (s >= 0) & (s <= k)):
        raise ValueError("successes and trials must be finite with 0 <= successes <= trials")
    s, k, a, b = np.broadcast_arrays(s, k, a, b)
    out = np.empty(a.size)
    _bb_logpmf_flat(*(np.ascontiguousarray(x).ravel() for x in (s, k, a, b)), out)
    return out.reshape(a.shape)
