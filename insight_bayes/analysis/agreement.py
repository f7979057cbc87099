r"""Predicted against realised speed-ups: rank correlation and an errors-in-variables slope.

The simulator's predicted speed-ups and the harness's realised ones both carry
sampling error, so an ordinary least-squares slope of one on the other is biased toward
zero (regression dilution). :func:`york_fit` is the straight-line fit with errors in
both coordinates (York et al. 2004, *Am. J. Phys.* 72, 367), applied to log speed-ups
with standard errors read off each bootstrap interval (:func:`log_se_from_interval`).
A calibrated simulator has slope 1 and intercept 0 on the log scale.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

__all__ = ["agreement_stats", "log_se_from_interval", "prediction_table", "york_fit"]


def york_fit(
    x: ArrayLike,
    y: ArrayLike,
    sx: ArrayLike,
    sy: ArrayLike,
    *,
    tol: float = 1e-12,
    max_iter: int = 200,
) -> dict[str, float]:
    r"""Straight line ``y = a + b x`` with independent Gaussian errors in ``x`` and ``y``.

    York's iteration (York et al. 2004, Section III, uncorrelated errors): with weights
    :math:`\omega_x = 1/s_x^2`, :math:`\omega_y = 1/s_y^2`,

    .. math::
        W_i = \frac{\omega_{x,i}\omega_{y,i}}{\omega_{x,i} + b^2 \omega_{y,i}}, \quad
        \beta_i = W_i\Big(\frac{U_i}{\omega_{y,i}} + \frac{b V_i}{\omega_{x,i}}\Big), \quad
        b \leftarrow \frac{\sum W_i \beta_i V_i}{\sum W_i \beta_i U_i},

    with :math:`U = x - \bar X`, :math:`V = y - \bar Y` about the ``W``-weighted means,
    until ``b`` settles; :math:`\sigma_b^2 = 1/\sum W_i u_i^2` with
    :math:`u_i = \bar X + \beta_i - \bar x` (Eq. 13 of the paper). ``mswd`` is the reduced
    chi-square :math:`\sum W_i (V_i - b U_i)^2 / (n - 2)`; the ``*_scaled`` errors are
    multiplied by :math:`\sqrt{\max(1, \mathrm{mswd})}` (scatter beyond the stated
    errors widens the interval, never narrows it).

    Parameters
    ----------
    x, y : array_like, shape (n,)
        Coordinates, ``n >= 3``, finite.
    sx, sy : array_like, shape (n,)
        Their standard errors, finite and > 0.
    tol : float
        Relative change of ``b`` that stops the iteration.
    max_iter : int
        Iteration cap (a ``ValueError`` if it is reached).

    Returns
    -------
    dict
        ``slope, intercept, slope_se, intercept_se, mswd, slope_se_scaled,
        intercept_se_scaled, n``.

    Examples
    --------
    >>> fit = york_fit([0, 1, 2, 3], [1, 3, 5, 7], [0.1] * 4, [0.1] * 4)
    >>> round(fit["slope"], 6), round(fit["intercept"], 6)
    (2.0, 1.0)
    """
    arrays = [np.asarray(v, dtype=np.float64) for v in (x, y, sx, sy)]
    x, y, sx, sy = np.broadcast_arrays(*arrays)
    if x.ndim != 1 or x.size < 3:
        raise ValueError(f"need at least 3 points in 1-D arrays, got shape {x.shape}")
    if not all(np.all(np.isfinite(v)) for v in (x, y, sx, sy)):
        raise ValueError("x, y, sx and sy must be finite")
    if np.any(sx <= 0) or np.any(sy <= 0):
        raise ValueError("standard errors sx and sy must be > 0")
    if np.ptp(x) == 0:
        raise ValueError("x does not vary: no slope can be fitted")
    wx, wy = 1.0 / sx**2, 1.0 / sy**2
    b = float(np.polyfit(x, y, 1)[0])  # ordinary least squares to start
    for _ in range(max_iter):
        w = wx * wy / (wx + b**2 * wy)
        xbar, ybar = np.sum(w * x) / w.sum(), np.sum(w * y) / w.sum()
        u, v = x - xbar, y - ybar
        beta = w * (u / wy + b * v / wx)
        b_new = float(np.sum(w * beta * v) / np.sum(w * beta * u))
        if abs(b_new - b) <= tol * max(1.0, abs(b_new)):
            b = b_new
            break
        b = b_new
    else:
        raise ValueError(f"York's iteration did not converge in {max_iter} steps")
    w = wx * wy / (wx + b**2 * wy)
    xbar, ybar = np.sum(w * x) / w.sum(), np.sum(w * y) / w.sum()
    u, v = x - xbar, y - ybar
    beta = w * (u / wy + b * v / wx)
    a = ybar - b * xbar
    adjusted = xbar + beta
    mean_adj = np.sum(w * adjusted) / w.sum()
    var_b = 1.0 / np.sum(w * (adjusted - mean_adj) ** 2)
    var_a = 1.0 / w.sum() + mean_adj**2 * var_b
    mswd = float(np.sum(w * (v - b * u) ** 2) / (x.size - 2))
    scale = np.sqrt(max(1.0, mswd))
    return {
        "slope": b,
        "intercept": float(a),
        "slope_se": float(np.sqrt(var_b)),
        "intercept_se": float(np.sqrt(var_a)),
        "mswd": mswd,
        "slope_se_scaled": float(np.sqrt(var_b) * scale),
        "intercept_se_scaled": float(np.sqrt(var_a) * scale),
        "n": float(x.size),
    }


def log_se_from_interval(low: ArrayLike, high: ArrayLike, level: float = 0.95) -> np.ndarray:
    r"""Standard error of a log ratio from its two-sided interval: ``(log hi - log lo) / (2 z)``.

    ``z`` is the standard normal quantile of ``(1 + level) / 2`` (1.96 at 95%). An
    interval of zero width (a rule that is its own baseline) gives 0.
    """
    from scipy import stats

    lo, hi = np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)
    if np.any(lo <= 0) or np.any(hi < lo):
        raise ValueError("interval bounds must satisfy 0 < low <= high")
    return (np.log(hi) - np.log(lo)) / (2.0 * stats.norm.ppf(0.5 + level / 2.0))


def prediction_table(
    predicted: pd.DataFrame, realised: pd.DataFrame, *, baseline: str = "random"
) -> pd.DataFrame:
    """Join predicted and realised speed-up curves on ``(study, rule, fraction)``.

    Parameters
    ----------
    predicted, realised : DataFrame
        Speed-up curves (``study, rule, fraction, speedup, ci_low, ci_high``), e.g. the
        calibrated simulator's and the harness study's ``speedup_curve.csv``.

    Returns
    -------
    DataFrame
        ``study, rule, fraction, predicted, predicted_low, predicted_high, realised,
        realised_low, realised_high`` for every rule but ``baseline``.
    """
    keys = ["study", "rule", "fraction"]
    cols = ["speedup", "ci_low", "ci_high"]
    for name, df in (("predicted", predicted), ("realised", realised)):
        missing = [c for c in keys + cols if c not in df]
        if missing:
            raise ValueError(f"{name} table lacks columns {missing}")
    p = predicted[keys + cols].rename(
        columns={"speedup": "predicted", "ci_low": "predicted_low", "ci_high": "predicted_high"}
    )
    r = realised[keys + cols].rename(
        columns={"speedup": "realised", "ci_low": "realised_low", "ci_high": "realised_high"}
    )
    p = p.assign(fraction=p["fraction"].round(6))
    r = r.assign(fraction=r["fraction"].round(6))
    table = p.merge(r, on=keys, how="inner")
    return table[table["rule"] != baseline].sort_values(keys).reset_index(drop=True)


def agreement_stats(table: pd.DataFrame, fractions: Sequence[float] | None = None) -> pd.DataFrame:
    """Spearman's rho and York's slope of log realised on log predicted speed-ups.

    One row per fraction of :func:`prediction_table`'s ``table`` (all fractions by
    default): ``fraction, n, spearman_rho, spearman_p, slope, slope_low, slope_high,
    intercept, mswd``. The slope's 95% interval uses York's error scaled by
    ``sqrt(max(1, mswd))``; a censored or degenerate point (an interval of zero width on
    either axis) is left out of the slope.
    """
    from scipy import stats

    rows = []
    chosen = sorted(table["fraction"].unique()) if fractions is None else list(fractions)
    for fraction in chosen:
        t = table[np.isclose(table["fraction"], fraction)]
        row: dict[str, float] = {"fraction": float(fraction), "n": float(len(t))}
        if len(t) >= 3 and t["predicted"].nunique() > 1 and t["realised"].nunique() > 1:
            rho = stats.spearmanr(t["predicted"], t["realised"])
            row |= {"spearman_rho": float(rho.statistic), "spearman_p": float(rho.pvalue)}
        sx = log_se_from_interval(t["predicted_low"], t["predicted_high"])
        sy = log_se_from_interval(t["realised_low"], t["realised_high"])
        ok = (sx > 0) & (sy > 0)
        if ok.sum() >= 3 and np.ptp(np.log(t["predicted"].to_numpy()[ok])) > 0:
            fit = york_fit(
                np.log(t["predicted"].to_numpy()[ok]),
                np.log(t["realised"].to_numpy()[ok]),
                sx[ok],
                sy[ok],
            )
            half = 1.96 * fit["slope_se_scaled"]
            row |= {
                "n_slope": float(ok.sum()),
                "slope": fit["slope"],
                "slope_low": fit["slope"] - half,
                "slope_high": fit["slope"] + half,
                "intercept": fit["intercept"],
                "mswd": fit["mswd"],
            }
        rows.append(row)
    return pd.DataFrame(rows)
