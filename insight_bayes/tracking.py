r"""Beliefs that track a moving policy: a logit random walk between visits (issue 12, 1).

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
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
from numpy.typing import ArrayLike

from insight_bayes import _special
from insight_bayes.belief import BetaBelief
from insight_bayes.beta import PARALLEL_MIN_SIZE
from insight_bayes.prior import EmpiricalBayesPrior
from insight_bayes.validation import (
    check_ids,
    check_int,
    check_positive_array,
    check_real,
    describe_bad,
)

__all__ = [
    "DEFAULT_DIFFUSION_GRID",
    "DEFAULT_JUMP_GRID",
    "DEFAULT_TREND_GRID",
    "TRACKING_FORMAT_VERSION",
    "DriftFit",
    "DriftParams",
    "TrackingBelief",
    "beta_binomial_logpmf",
    "beta_from_logit_moments",
    "logit_moments",
    "propagate_beta",
    "tetragamma",
    "trigamma",
]

#: Version tag of :meth:`TrackingBelief.state_dict`.
TRACKING_FORMAT_VERSION = 1

#: Default grid of the empirical-Bayes fit's trend (logits per step).
DEFAULT_TREND_GRID: tuple[float, ...] = tuple(np.round(np.linspace(-0.1, 0.3, 9), 10))
#: Default grid of the fit's diffusion variance (logits^2 per step).
DEFAULT_DIFFUSION_GRID: tuple[float, ...] = tuple(np.geomspace(1e-4, 1.0, 9))
#: Default grid of the fit's jump after a visit (logits).
DEFAULT_JUMP_GRID: tuple[float, ...] = (0.0, 0.15, 0.3, 0.45)

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


# ------------------------------------------------------------------- drift model
@dataclass(frozen=True)
class DriftParams:
    r"""Parameters of the logit random walk between visits.

    Attributes
    ----------
    trend : float
        Mean logit change per step ``delta`` (shared by every prompt), finite.
    diffusion : float
        Logit variance added per step ``sigma^2``, >= 0.
    jump : float
        Mean logit change right after a visit ``nu`` (memorisation), finite.
    """

    trend: float = 0.0
    diffusion: float = 0.0
    jump: float = 0.0

    def __post_init__(self) -> None:
        check_real(self.trend, "trend")
        check_real(self.diffusion, "diffusion", low=0.0)
        check_real(self.jump, "jump")

    def shift(self, elapsed: np.ndarray, visited: np.ndarray) -> np.ndarray:
        """Mean logit change ``delta * elapsed + nu * visited`` (no jump when elapsed = 0)."""
        return self.trend * elapsed + self.jump * (visited & (elapsed > 0))

    def variance(self, elapsed: np.ndarray) -> np.ndarray:
        """Added logit variance ``sigma^2 * elapsed``."""
        return self.diffusion * elapsed


def _check_grid(values: Any, name: str, *, low: float | None = None) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-d sequence, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)) or (low is not None and np.any(arr < low)):
        raise ValueError(f"{name} must be finite{'' if low is None else f' and >= {low}'}")
    if np.any(np.diff(arr) <= 0):
        raise ValueError(f"{name} must be strictly increasing, got {arr.tolist()}")
    return arr


def _parabola_peak(grid: np.ndarray, values: np.ndarray, i: int) -> float:
    """Vertex of the parabola through grid points i-1, i, i+1 (grid[i] at an edge)."""
    if i == 0 or i == grid.size - 1 or not np.all(np.isfinite(values[i - 1 : i + 2])):
        return float(grid[i])
    x0, x1, x2 = grid[i - 1 : i + 2]
    y0, y1, y2 = values[i - 1 : i + 2]
    denom = (x0 - x1) * (x0 - x2) * (x1 - x2)
    a = (x2 * (y1 - y0) + x1 * (y0 - y2) + x0 * (y2 - y1)) / denom
    b = (x2 * x2 * (y0 - y1) + x1 * x1 * (y2 - y0) + x0 * x0 * (y1 - y2)) / denom
    if a >= 0:
        return float(grid[i])
    return float(np.clip(-b / (2 * a), x0, x2))


class DriftFit:
    r"""Online empirical-Bayes fit of :class:`DriftParams` on a fixed grid.

    At every update the revisited prompts' outcomes add, at every grid point, their log
    predictive probability ``ln BB(S; K, a', b')`` under the Beta propagated from the
    last visit; older evidence is discounted by ``memory`` per update:

    .. math::
        L_t(\theta) = \rho\, L_{t-1}(\theta)
                      + \sum_{g \in \text{revisits}} \ln P(S_g \mid K_g, \theta)

    The estimate is the grid maximiser, refined by a parabola along the trend and
    log-diffusion axes. Cost per update: ``G x |grid|`` Newton solves.

    Parameters
    ----------
    trends, diffusions, jumps : sequence of float
        Strictly increasing grids (diffusions > 0 or including 0; jumps may be ``(0,)``).
    memory : float
        Discount ``rho`` in (0, 1] of past log likelihood (1: never forget).
    """

    def __init__(
        self,
        trends: Any = DEFAULT_TREND_GRID,
        diffusions: Any = DEFAULT_DIFFUSION_GRID,
        jumps: Any = DEFAULT_JUMP_GRID,
        *,
        memory: float = 0.95,
    ) -> None:
        self.trends = _check_grid(trends, "trends")
        self.diffusions = _check_grid(diffusions, "diffusions", low=0.0)
        self.jumps = _check_grid(jumps, "jumps")
        self.memory = check_real(memory, "memory", low=0.0, high=1.0, low_inclusive=False)
        self.loglik = np.zeros((self.trends.size, self.diffusions.size, self.jumps.size))
        self.observations = 0.0

    def add(
        self,
        alpha: np.ndarray,
        beta: np.ndarray,
        elapsed: np.ndarray,
        visited: np.ndarray,
        successes: np.ndarray,
        trials: np.ndarray,
    ) -> None:
        """Discount the running log likelihood and add these groups' (see class doc)."""
        step = np.zeros_like(self.loglik)
        arrays = [np.ascontiguousarray(x, dtype=np.float64) for x in (alpha, beta, elapsed)]
        if arrays[0].size:
            _grid_loglik(
                *arrays,
                np.ascontiguousarray(visited, dtype=np.bool_),
                np.ascontiguousarray(successes, dtype=np.float64),
                np.ascontiguousarray(trials, dtype=np.float64),
                self.trends,
                self.diffusions,
                self.jumps,
                step,
            )
        self.loglik = self.memory * self.loglik + step
        self.observations = self.memory * self.observations + arrays[0].size

    def estimate(self) -> DriftParams:
        """The current maximiser; zero drift before any observation."""
        if self.observations == 0:
            return DriftParams()
        i, j, q = np.unravel_index(np.argmax(self.loglik), self.loglik.shape)
        trend = _parabola_peak(self.trends, self.loglik[:, j, q], i)
        if self.diffusions[0] > 0:
            log_diff = _parabola_peak(np.log(self.diffusions), self.loglik[i, :, q], j)
            diffusion = float(np.exp(log_diff))
        else:
            diffusion = float(self.diffusions[j])
        return DriftParams(trend=trend, diffusion=diffusion, jump=float(self.jumps[q]))

    def state_dict(self) -> dict[str, Any]:
        return {
            "trends": self.trends.copy(),
            "diffusions": self.diffusions.copy(),
            "jumps": self.jumps.copy(),
            "memory": self.memory,
            "loglik": self.loglik.copy(),
            "observations": self.observations,
        }

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> DriftFit:
        fit = cls(
            np.asarray(state["trends"]),
            np.asarray(state["diffusions"]),
            np.asarray(state["jumps"]),
            memory=float(np.asarray(state["memory"])),
        )
        loglik = np.asarray(state["loglik"], dtype=np.float64)
        if loglik.shape != fit.loglik.shape or np.any(np.isnan(loglik)):
            raise ValueError(
                f"saved drift loglik must have shape {fit.loglik.shape} without NaN, "
                f"got {loglik.shape}"
            )
        fit.loglik = loglik.copy()
        fit.observations = check_real(
            float(np.asarray(state["observations"])), "observations", low=0.0
        )
        return fit


# --------------------------------------------------------------------- the belief
class TrackingBelief(BetaBelief):
    r"""Beta beliefs whose success rates drift between visits (logit random walk).

    The stored ``Beta(alpha_i, beta_i)`` is the belief at prompt ``i``'s last visit
    (the prior at clock 0 for unseen prompts). ``alpha`` and ``beta`` are the
    beliefs propagated to the current clock with :func:`propagate_beta` under the
    current :class:`DriftParams` (so scores and calibration read current beliefs), and
    :meth:`current` propagates only the prompts asked for.

    **The clock** advances by one at every :meth:`update` call (one loop step). An
    update first propagates the updated prompts to the clock (the time of their
    rollouts), adds the revisited ones' predictive log likelihoods to the drift fit,
    applies the discounted conjugate update (Eq. 6) to the propagated Beta, stamps
    the visit and advances the clock; the drift estimate is then refreshed.

    Parameters
    ----------
    n_prompts : int
        Pool size.
    alpha0, beta0, discount : float
        As for :class:`~insight_bayes.belief.BetaBelief`.
    drift : DriftParams, optional
        Fixed drift; ``None`` (default) fits it online with ``fit``.
    fit : DriftFit, optional
        The empirical-Bayes fit (default grids) used when ``drift`` is ``None``.
    prior : EmpiricalBayesPrior, optional
        A prior learned from the pool's counts (:mod:`insight_bayes.prior`). It sets the
        stored Beta of every prompt not yet visited (re-stamped at the current clock
        after each refit, since it describes the pool as of now) and the target Eq. 6's
        discount forgets toward; a visited prompt's belief has moved on by propagation,
        so a later refit does not rewrite it.
    """

    def __init__(
        self,
        n_prompts: int,
        *,
        alpha0: float = 1.0,
        beta0: float = 1.0,
        discount: float = 1.0,
        drift: DriftParams | None = None,
        fit: DriftFit | None = None,
        prior: EmpiricalBayesPrior | None = None,
    ) -> None:
        super().__init__(n_prompts, alpha0=alpha0, beta0=beta0, discount=discount, prior=prior)
        if drift is not None and not isinstance(drift, DriftParams):
            raise TypeError(f"drift must be DriftParams or None, got {type(drift).__name__}")
        if drift is not None and fit is not None:
            raise ValueError("give either a fixed drift or a fit, not both")
        self.fixed_drift = drift
        self.fit = None if drift is not None else (fit if fit is not None else DriftFit())
        self.drift = drift if drift is not None else self.fit.estimate()
        self.clock = 0
        self._last = np.zeros(n_prompts, dtype=np.int64)
        self._visited = np.zeros(n_prompts, dtype=bool)
        self._cache: tuple[np.ndarray, np.ndarray] | None = None
        self._refresh_moments()

    def _refresh_moments(self, ids: np.ndarray | None = None) -> None:
        """Logit moments of the stored Betas (computed at update, reused by every score)."""
        if ids is None:
            self._m0, self._v0 = _stored_moments(self._alpha, self._beta)
        else:
            self._m0[ids], self._v0[ids] = _stored_moments(self._alpha[ids], self._beta[ids])

    # ------------------------------------------------------------------ views
    def current(self, ids: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """Beliefs of ``ids`` propagated to the current clock, ``(alpha', beta')``."""
        ids_arr = check_ids(ids, "ids", self.n_prompts)
        if self._cache is not None:
            return self._cache[0][ids_arr], self._cache[1][ids_arr]
        d = self.drift
        out_a = np.empty(ids_arr.size)
        out_b = np.empty(ids_arr.size)
        big = ids_arr.size >= PARALLEL_MIN_SIZE
        kernel = _propagate_ids_parallel if big else _propagate_ids_serial
        kernel(
            ids_arr, self._alpha, self._beta, self._m0, self._v0, self._last, self._visited,
            self.clock, d.trend, d.diffusion, d.jump, out_a, out_b,
        )  # fmt: skip
        _check_solved(out_a, out_b)
        return out_a, out_b

    def _pool(self) -> tuple[np.ndarray, np.ndarray]:
        if self._cache is None:
            self._cache = self.current(np.arange(self.n_prompts))
        return self._cache

    @property
    def alpha(self) -> np.ndarray:
        view = self._pool()[0].view()
        view.flags.writeable = False
        return view

    @property
    def beta(self) -> np.ndarray:
        view = self._pool()[1].view()
        view.flags.writeable = False
        return view

    @property
    def stored_alpha(self) -> np.ndarray:
        """Belief parameters at each prompt's last visit (read-only)."""
        view = self._alpha.view()
        view.flags.writeable = False
        return view

    @property
    def stored_beta(self) -> np.ndarray:
        view = self._beta.view()
        view.flags.writeable = False
        return view

    @property
    def last_visit(self) -> np.ndarray:
        """Clock of each prompt's last update (0 and not visited for unseen prompts)."""
        return self._last.copy()

    @property
    def mean(self) -> np.ndarray:
        a, b = self._pool()
        return a / (a + b)

    @property
    def evidence(self) -> np.ndarray:
        a, b = self._pool()
        return a + b

    def __repr__(self) -> str:
        d = self.drift
        return (
            f"TrackingBelief(n_prompts={self.n_prompts}, clock={self.clock}, "
            f"trend={d.trend:.3g}, diffusion={d.diffusion:.3g}, jump={d.jump:.3g}, "
            f"{'fixed' if self.fit is None else 'fitted'})"
        )

    # ----------------------------------------------------------------- update
    def update(
        self,
        ids: ArrayLike,
        successes: ArrayLike,
        trials: ArrayLike,
        *,
        discount: float | None = None,
        fractional: bool = False,
    ) -> None:
        """Propagate, fit, update (Eq. 6 on the propagated Beta), stamp; clock += 1.

        Validation is that of :meth:`BetaBelief.update`; on any error nothing changes
        (the clock included). Arguments as there.
        """
        ids_arr = check_ids(ids, "ids", self.n_prompts)
        unique = np.unique(ids_arr)
        cur_a, cur_b = self.current(unique)
        saved = (self._alpha[unique].copy(), self._beta[unique].copy(), self._cache)
        self._alpha[unique], self._beta[unique] = cur_a, cur_b
        self._cache = None
        try:
            super().update(ids_arr, successes, trials, discount=discount, fractional=fractional)
        except Exception:
            self._alpha[unique], self._beta[unique], self._cache = saved
            raise
        if self.fit is not None:
            s = np.asarray(successes, dtype=np.float64)
            t = np.asarray(trials, dtype=np.float64)
            _, inverse = np.unique(ids_arr, return_inverse=True)
            s_sum = np.bincount(inverse, weights=s, minlength=unique.size)
            t_sum = np.bincount(inverse, weights=t, minlength=unique.size)
            again = self._visited[unique] & (t_sum > 0)
            self.fit.add(
                saved[0][again],
                saved[1][again],
                (self.clock - self._last[unique][again]).astype(np.float64),
                self._visited[unique][again],
                s_sum[again],
                t_sum[again],
            )
        self._refresh_moments(unique)
        self._last[unique] = self.clock
        self._visited[unique] = True
        self.clock += 1
        if self.fit is not None:
            self.drift = self.fit.estimate()
        if self.__dict__.pop("_prior_refitted", False):
            fresh = np.flatnonzero(~self._visited)
            self._alpha[fresh], self._beta[fresh] = self.prior.alpha_beta(fresh)
            self._last[fresh] = self.clock
            self._refresh_moments(fresh)
        self._cache = None

    def _prior_moved(self) -> None:
        """After a refit of the learned prior: unvisited prompts take it at the end of
        :meth:`update` (visited ones keep their propagated beliefs)."""
        self._prior_refitted = True

    # ------------------------------------------------------------ pool growth
    def grow(self, n_new: int, *, groups: ArrayLike | None = None) -> np.ndarray:
        """Append ``n_new`` prompts at the prior, as of the current clock."""
        new = super().grow(n_new, groups=groups)
        self._last = np.concatenate([self._last, np.full(new.size, self.clock, dtype=np.int64)])
        self._visited = np.concatenate([self._visited, np.zeros(new.size, dtype=bool)])
        self._cache = None
        self._refresh_moments()
        return new

    def copy(self) -> TrackingBelief:
        return TrackingBelief.from_state_dict(self.state_dict())

    # ------------------------------------------------------------ persistence
    def state_dict(self) -> dict[str, Any]:
        """Plain-data state: the base fields (stored, last-visit Betas) plus the clock,
        visits, drift and fit (``tracking_*`` keys)."""
        state = super().state_dict()
        state.update(
            {
                "tracking_format_version": TRACKING_FORMAT_VERSION,
                "tracking_clock": self.clock,
                "tracking_last": self._last.copy(),
                "tracking_visited": self._visited.copy(),
                "tracking_drift": [self.drift.trend, self.drift.diffusion, self.drift.jump],
                "tracking_fixed": self.fit is None,
            }
        )
        if self.fit is not None:
            state.update({f"tracking_fit_{k}": v for k, v in self.fit.state_dict().items()})
        return state

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> TrackingBelief:
        """Rebuild from :meth:`state_dict`; refuses a plain BetaBelief state with a reason."""
        if "tracking_format_version" not in state:
            raise ValueError(
                "this state has no tracking fields (clock, last visits, drift fit): it was "
                "written by a plain BetaBelief, or a caller dropped the tracking_* keys"
            )
        version = int(np.asarray(state["tracking_format_version"]))
        if version != TRACKING_FORMAT_VERSION:
            raise ValueError(
                f"tracking format_version {version} is not supported "
                f"(expected {TRACKING_FORMAT_VERSION})"
            )
        base = BetaBelief.from_state_dict(state)
        trend, diffusion, jump = (float(x) for x in np.asarray(state["tracking_drift"]))
        drift = DriftParams(trend=trend, diffusion=diffusion, jump=jump)
        fixed = bool(np.asarray(state["tracking_fixed"]))
        fit = None
        if not fixed:
            prefix = "tracking_fit_"
            fit = DriftFit.from_state_dict(
                {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
            )
        out = cls(
            base.n_prompts,
            alpha0=base.alpha0,
            beta0=base.beta0,
            discount=base.discount,
            drift=drift if fixed else None,
            fit=fit,
            prior=base.prior,
        )
        out.drift = drift
        out._alpha, out._beta = base._alpha, base._beta
        if base.prior is not None:
            out._successes, out._failures = base._successes, base._failures
        out.clock = check_int(int(np.asarray(state["tracking_clock"])), "clock", min_value=0)
        last = np.asarray(state["tracking_last"], dtype=np.int64)
        visited = np.asarray(state["tracking_visited"], dtype=bool)
        if last.shape != (base.n_prompts,) or visited.shape != (base.n_prompts,):
            raise ValueError(f"saved last visits must have shape ({base.n_prompts},)")
        if np.any(last < 0) or np.any(last > out.clock):
            raise ValueError(f"saved last visits must lie in [0, clock={out.clock}]")
        out._last, out._visited = last.copy(), visited.copy()
        out._refresh_moments()
        return out

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Replace this belief's state in place (validated first)."""
        other = TrackingBelief.from_state_dict(state)
        self.__dict__.update(other.__dict__)
