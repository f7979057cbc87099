r"""An empirical-Bayes Beta prior learned from the pool's own counts.

The fixed prior ``Beta(1, 1)`` of Eq. 3 says an unseen prompt is a coin flip. Here the
prior is fitted, online, to every count seen so far by maximising the Beta-Binomial
marginal likelihood: with prompt ``i`` observed ``S_i`` successes and ``F_i`` failures,

.. math::
    \ln p(S_i, F_i \mid a, b) = \ln B(a + S_i, b + F_i) - \ln B(a, b)
    \quad (+ \text{the binomial coefficient, free of } a, b)

(``B`` the Beta function; evaluated as differences of ``betaln``, float64). Counts may
be fractional (discounted by Eq. 6); the formula is the same.

**Parametrisation and units.** ``a = m s``, ``b = (1 - m) s`` with the prior mean ``m``
in (0, 1) (a success rate) and the concentration ``s > 0`` (pseudo-rollouts; the
fixed ``Beta(1, 1)`` has ``s = 2``). The optimiser works in ``u = logit m`` and
``v = ln s``, where the regulariser below is smooth and the bounds never bind in
practice (``|u| <= 25``, ``-9.2 <= v <= 18.4``).

**Regulariser (a weak hyperprior, MAP).** With centre ``Beta(alpha0, beta0)``
(default ``Beta(1, 1)``), ``c_u = logit(alpha0 / (alpha0 + beta0))`` and
``c_v = ln(alpha0 + beta0)``:

.. math::
    u \sim \operatorname{Logistic}(c_u, 1), \qquad v \sim N(c_v, \sigma_v^2),
    \quad \sigma_v = 2.5

A standard logistic density on ``u`` is the uniform density on ``m`` (for the default
centre), so the mean's regulariser is ``ln m + ln(1 - m)``: one pseudo-success and one
pseudo-failure's worth, whatever the pool size. It keeps the answer proper and finite
where the likelihood alone has no maximum (no counts: the answer is the centre exactly;
all counts zero successes: ``m`` small but > 0; one observed prompt: ``s`` finite).

**Per group (hierarchical, partial pooling).** Where prompts carry an integer group id
``g_i`` in ``[0, G)`` (a digit tier, a topic), each group has its own ``(u_g, v_g)``,
shrunk toward shared hyper-means ``(u_0, v_0)``:

.. math::
    u_g \sim N(u_0, \tau^2), \quad v_g \sim N(v_0, \tau^2), \quad
    u_0 \sim \operatorname{Logistic}(c_u, 1), \quad v_0 \sim N(c_v, \sigma_v^2)

and all ``2 G + 2`` parameters are the joint MAP (mode of the posterior density in
these coordinates), with ``tau = 1`` (logits and log pseudo-rollouts) fixed. A group
with no counts gets ``(u_0, v_0)``; a group with many counts is close to its own
Beta-Binomial fit.

**Cost.** Rows with equal ``(group, S, F)`` are merged (integer counts merge a pool of
thousands into tens of rows); L-BFGS-B with the analytic gradient, warm-started from
the previous fit. :class:`EmpiricalBayesPrior` refits every ``refit_every`` updates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import optimize, special

from insight_bayes.validation import check_int, check_real, describe_bad

__all__ = ["Hyperprior", "PriorFit", "beta_binomial_loglik", "fit_beta_binomial", "log_posterior"]


_U_BOUND = 25.0
_V_BOUNDS = (math.log(1e-4), math.log(1e8))


@dataclass(frozen=True)
class Hyperprior:
    """The weak regulariser of the fit (see the module notes).

    Attributes
    ----------
    alpha0, beta0 : float, default 1.0
        Centre ``Beta(alpha0, beta0)``: the answer when there are no counts.
    log_s_sd : float, default 2.5
        ``sigma_v``, standard deviation of ``ln s`` (log pseudo-rollouts) around
        ``ln(alpha0 + beta0)``.
    group_sd : float, default 1.0
        ``tau``, standard deviation of a group's ``(logit m_g, ln s_g)`` around the
        hyper-means (hierarchical fit only).
    """

    alpha0: float = 1.0
    beta0: float = 1.0
    log_s_sd: float = 2.5
    group_sd: float = 1.0

    def __post_init__(self) -> None:
        check_real(self.alpha0, "alpha0", low=0.0, low_inclusive=False)
        check_real(self.beta0, "beta0", low=0.0, low_inclusive=False)
        check_real(self.log_s_sd, "log_s_sd", low=0.0, low_inclusive=False)
        check_real(self.group_sd, "group_sd", low=0.0, low_inclusive=False)

    @property
    def centre(self) -> tuple[float, float]:
        """``(c_u, c_v) = (logit(alpha0 / (alpha0 + beta0)), ln(alpha0 + beta0))``."""
        return (
            math.log(self.alpha0) - math.log(self.beta0),
            math.log(self.alpha0 + self.beta0),
        )


@dataclass(frozen=True)
class PriorFit:
    """The fitted prior: per group ``Beta(a_g, b_g)`` and the shared hyper-means.

    Attributes
    ----------
    mean, concentration : ndarray, shape (G,)
        ``m_g`` (success rate) and ``s_g`` (pseudo-rollouts); ``a_g = m_g s_g``.
    global_mean, global_concentration : float
        The hyper-means ``(sigmoid(u_0), exp(v_0))`` (hierarchical), or the one group's.
    log_posterior : float
        The maximised objective (nats): log marginal likelihood plus log hyperprior,
        without the binomial coefficients.
    converged : bool
        Whether the optimiser reported convergence.
    x : ndarray
        The optimiser's coordinates (``[u, v]`` or ``[u_0, v_0, u_1..u_G, v_1..v_G]``),
        the warm start of the next fit.
    """

    mean: np.ndarray
    concentration: np.ndarray
    global_mean: float
    global_concentration: float
    log_posterior: float
    converged: bool
    x: np.ndarray

    @property
    def alpha(self) -> np.ndarray:
        return self.mean * self.concentration

    @property
    def beta(self) -> np.ndarray:
        # (1 - m) s via sigmoid(-u), exact for m near 1
        return special.expit(-special.logit(self.mean)) * self.concentration


# ------------------------------------------------------------------------ checks
def _check_counts(successes: ArrayLike, trials: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(successes, dtype=np.float64)
    t = np.asarray(trials, dtype=np.float64)
    if s.ndim != 1 or s.shape != t.shape:
        raise ValueError(
            f"successes and trials must be 1-d of equal shape, got {s.shape} and {t.shape}"
        )
    for name, arr in (("successes", s), ("trials", t)):
        ok = np.isfinite(arr) & (arr >= 0)
        if not np.all(ok):
            raise ValueError(f"{name} must be finite and >= 0; got {describe_bad(arr[~ok])}")
    bad = s > t * (1 + 1e-12)
    if np.any(bad):
        raise ValueError(
            f"successes must not exceed trials; got successes {s[bad][:3].tolist()} "
            f"for trials {t[bad][:3].tolist()}"
        )
    return s, np.maximum(t - s, 0.0)


def _check_groups(
    groups: ArrayLike | None, size: int, n_groups: int | None
) -> tuple[np.ndarray, int]:
    if groups is None:
        return np.zeros(size, dtype=np.int64), 1
    g = np.asarray(groups)
    if g.ndim != 1 or g.size != size:
        raise ValueError(f"groups must be 1-d with one id per prompt ({size}), got shape {g.shape}")
    if g.size and not np.issubdtype(g.dtype, np.integer):
        if not np.issubdtype(g.dtype, np.floating) or not np.all(np.isfinite(g)):
            raise TypeError(f"groups must hold integer ids, got dtype {g.dtype}")
        if np.any(g != np.round(g)):
            raise TypeError(
                f"groups must hold integer ids; got {describe_bad(g[g != np.round(g)])}"
            )
    g = g.astype(np.int64)
    top = int(g.max()) + 1 if g.size else 1
    n = top if n_groups is None else check_int(n_groups, "n_groups", min_value=1)
    bad = (g < 0) | (g >= n)
    if np.any(bad):
        raise ValueError(f"groups must lie in [0, {n}) (n_groups); got {g[bad][:3].tolist()}")
    return g, n


# ------------------------------------------------------------------------- maths
def beta_binomial_loglik(
    successes: ArrayLike, trials: ArrayLike, mean: ArrayLike, concentration: ArrayLike
) -> np.ndarray:
    r"""Beta-Binomial log marginal likelihood of each prompt's counts, in nats.

    ``ln B(m s + S, (1 - m) s + F) - ln B(m s, (1 - m) s)`` with ``F = K - S``: the log
    probability of the observed sequence of ``K`` rollouts under ``phi ~ Beta(m s,
    (1 - m) s)`` (add ``ln C(K, S)`` for the count's probability). Broadcasts.

    Parameters
    ----------
    successes, trials : array_like
        ``0 <= S <= K``, finite (fractional counts allowed).
    mean : array_like
        Prior mean ``m`` in (0, 1).
    concentration : array_like
        Prior concentration ``s > 0`` (pseudo-rollouts).
    """
    s_arr, t_arr = np.broadcast_arrays(
        np.asarray(successes, dtype=np.float64), np.asarray(trials, dtype=np.float64)
    )
    S, F = _check_counts(s_arr.ravel(), t_arr.ravel())
    S, F = S.reshape(s_arr.shape), F.reshape(s_arr.shape)
    m = np.asarray(mean, dtype=np.float64)
    c = np.asarray(concentration, dtype=np.float64)
    if not np.all((m > 0) & (m < 1)):
        raise ValueError(f"mean must lie in (0, 1); got {describe_bad(m[~((m > 0) & (m < 1))])}")
    if not np.all(np.isfinite(c) & (c > 0)):
        raise ValueError(f"concentration must be finite and > 0; got {describe_bad(c[~(c > 0)])}")
    a, b = m * c, (1.0 - m) * c
    return special.betaln(a + S, b + F) - special.betaln(a, b)


def _rows(u: np.ndarray, v: np.ndarray, S: np.ndarray, F: np.ndarray):
    """Per-row log likelihood and its gradient in (u, v)."""
    m = special.expit(u)
    c = np.exp(v)
    a, b = m * c, special.expit(-u) * c
    ll = special.betaln(a + S, b + F) - special.betaln(a, b)
    d_a = special.digamma(a + S) - special.digamma(a)
    d_b = special.digamma(b + F) - special.digamma(b)
    d_ab = special.digamma(c + S + F) - special.digamma(c)
    grad_u = a * (1.0 - m) * (d_a - d_b)  # da/du = s m (1 - m), db/du = -s m (1 - m)
    grad_v = a * (d_a - d_ab) + b * (d_b - d_ab)  # da/dv = a, db/dv = b
    return ll, grad_u, grad_v


def _hyper_terms(u: float, v: float, hyper: Hyperprior) -> tuple[float, float, float]:
    """Log hyperprior density (logistic on u, normal on v; constants dropped) and gradient."""
    c_u, c_v = hyper.centre
    x = u - c_u
    # ln sigmoid(x) + ln sigmoid(-x), stably
    logp = -np.logaddexp(0.0, -x) - np.logaddexp(0.0, x)
    logp -= 0.5 * ((v - c_v) / hyper.log_s_sd) ** 2
    return float(logp), float(1.0 - 2.0 * special.expit(x)), float(-(v - c_v) / hyper.log_s_sd**2)


def _objective(x, g, S, F, w, n_groups, hierarchical, hyper):
    """Negative log posterior and its gradient (see :func:`log_posterior`)."""
    if hierarchical:
        u0, v0 = x[0], x[1]
        ug, vg = x[2 : 2 + n_groups], x[2 + n_groups :]
    else:
        ug, vg = x[:1], x[1:2]
    ll, gu, gv = _rows(ug[g], vg[g], S, F)
    total = float(np.dot(w, ll))
    grad_ug = np.bincount(g, weights=w * gu, minlength=ug.size)
    grad_vg = np.bincount(g, weights=w * gv, minlength=ug.size)
    if hierarchical:
        tau2 = hyper.group_sd**2
        du, dv = ug - u0, vg - v0
        total -= 0.5 * float(np.dot(du, du) + np.dot(dv, dv)) / tau2
        grad_ug = grad_ug - du / tau2
        grad_vg = grad_vg - dv / tau2
        hp, hu, hv = _hyper_terms(u0, v0, hyper)
        total += hp
        grad = np.concatenate([[hu + du.sum() / tau2, hv + dv.sum() / tau2], grad_ug, grad_vg])
    else:
        if hyper is not None:
            hp, hu, hv = _hyper_terms(ug[0], vg[0], hyper)
            total += hp
            grad_ug = grad_ug + hu
            grad_vg = grad_vg + hv
        grad = np.concatenate([grad_ug, grad_vg])
    return -total, -grad


def _compress(g: np.ndarray, S: np.ndarray, F: np.ndarray):
    """Rows with trials, equal (group, S, F) merged: (groups, S, F, multiplicities)."""
    keep = (S + F) > 0
    g, S, F = g[keep], S[keep], F[keep]
    order = np.lexsort((F, S, g))
    g, S, F = g[order], S[order], F[order]
    first = np.ones(g.size, dtype=bool)
    first[1:] = (g[1:] != g[:-1]) | (S[1:] != S[:-1]) | (F[1:] != F[:-1])
    starts = np.flatnonzero(first)
    counts = np.diff(np.append(starts, g.size)).astype(np.float64)
    return g[starts], S[starts], F[starts], counts


def log_posterior(
    successes: ArrayLike,
    trials: ArrayLike,
    mean: ArrayLike,
    concentration: ArrayLike,
    groups: ArrayLike | None = None,
    *,
    hyper: Hyperprior | None = Hyperprior(),
    global_mean: float | None = None,
    global_concentration: float | None = None,
) -> float:
    r"""The objective :func:`fit_beta_binomial` maximises, in nats (binomial coefficients dropped).

    Without ``groups``: ``sum_i ln p(S_i, F_i | m, s)`` (:func:`beta_binomial_loglik`)
    plus the log hyperprior of ``(logit m, ln s)`` (none when ``hyper`` is ``None``:
    the plain log marginal likelihood). With ``groups``: ``mean`` and ``concentration``
    are per group (shape ``(G,)``), ``global_mean`` and ``global_concentration`` the
    hyper-means, and the normal terms of the groups around them are added (module notes).
    """
    S, F = _check_counts(successes, trials)
    hierarchical = groups is not None
    m = np.atleast_1d(np.asarray(mean, dtype=np.float64))
    c = np.atleast_1d(np.asarray(concentration, dtype=np.float64))
    g, n_groups = _check_groups(groups, S.size, m.size if hierarchical else 1)
    x = [special.logit(m), np.log(c)]
    if hierarchical:
        if hyper is None or global_mean is None or global_concentration is None:
            raise ValueError(
                "a grouped log posterior needs hyper, global_mean and global_concentration"
            )
        x = [[special.logit(global_mean), math.log(global_concentration)], *x]
    value, _ = _objective(
        np.concatenate(x), g, S, F, np.ones(S.size), n_groups, hierarchical, hyper
    )
    return -value


def fit_beta_binomial(
    successes: ArrayLike,
    trials: ArrayLike,
    groups: ArrayLike | None = None,
    *,
    n_groups: int | None = None,
    hyper: Hyperprior | None = Hyperprior(),
    start: ArrayLike | None = None,
    max_iter: int = 500,
) -> PriorFit:
    r"""Fit the empirical-Bayes Beta prior to per-prompt counts (MAP, module notes).

    Parameters
    ----------
    successes, trials : array_like, shape (N,)
        Each prompt's successes ``S_i`` and rollouts ``K_i`` (finite, ``0 <= S <= K``;
        fractional counts allowed). Prompts with ``K_i = 0`` carry no evidence.
    groups : array_like of int, shape (N,), optional
        Group id of each prompt in ``[0, n_groups)``: a hierarchical fit with partial
        pooling. ``None``: one global prior.
    n_groups : int, optional
        Number of groups ``G`` (default ``max(groups) + 1``); groups without prompts get
        the hyper-means.
    hyper : Hyperprior or None
        The regulariser. ``None`` (global fit only) maximises the plain marginal
        likelihood, which has no finite maximum for some data (no counts, a single
        prompt, under-dispersed counts): the answer then sits at a bound.
    start : array_like, optional
        Warm start, the ``x`` of an earlier :class:`PriorFit` of the same shape.
    max_iter : int
        Optimiser iterations.

    Returns
    -------
    PriorFit
    """
    S, F = _check_counts(successes, trials)
    g, n = _check_groups(groups, S.size, n_groups)
    hierarchical = groups is not None
    if hierarchical and hyper is None:
        raise ValueError(
            "a grouped (hierarchical) fit needs a hyperprior (hyper=None is global only)"
        )
    size = 2 * n + 2 if hierarchical else 2
    gc, Sc, Fc, w = _compress(g, S, F)
    if start is not None:
        x0 = np.asarray(start, dtype=np.float64)
        if x0.shape != (size,) or not np.all(np.isfinite(x0)):
            raise ValueError(f"start must be {size} finite coordinates, got shape {x0.shape}")
    else:
        c_u, c_v = hyper.centre if hyper is not None else (0.0, math.log(2.0))
        x0 = np.array([c_u, c_v] if not hierarchical else [c_u, c_v] + [c_u] * n + [c_v] * n)
    u_bounds, v_bounds = (-_U_BOUND, _U_BOUND), _V_BOUNDS
    if hierarchical:
        bounds = [u_bounds, v_bounds] + [u_bounds] * n + [v_bounds] * n
    else:
        bounds = [u_bounds, v_bounds]
    x0 = np.clip(x0, [b[0] for b in bounds], [b[1] for b in bounds])
    res = optimize.minimize(
        _objective,
        x0,
        args=(gc, Sc, Fc, w, n, hierarchical, hyper),
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={
            "maxiter": check_int(max_iter, "max_iter", min_value=1),
            "ftol": 1e-14,
            "gtol": 1e-9,
        },
    )
    x = np.asarray(res.x, dtype=np.float64)
    if not np.all(np.isfinite(x)) or not np.isfinite(res.fun):
        raise ArithmeticError(f"the prior fit did not give a finite answer: {res.message}")
    if hierarchical:
        ug, vg, u0, v0 = x[2 : 2 + n], x[2 + n :], x[0], x[1]
    else:
        ug, vg, u0, v0 = x[:1], x[1:2], x[0], x[1]
    return PriorFit(
        mean=special.expit(ug),
        concentration=np.exp(vg),
        global_mean=float(special.expit(u0)),
        global_concentration=float(np.exp(v0)),
        log_posterior=float(-res.fun),
        converged=bool(res.success),
        x=x,
    )
