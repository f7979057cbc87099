"""York's errors-in-variables line and the predicted-vs-realised agreement table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from insight_bayes.analysis.agreement import (
    agreement_stats,
    log_se_from_interval,
    prediction_table,
    york_fit,
)


def test_york_with_equal_errors_is_orthogonal_regression():
    rng = np.random.default_rng(0)
    x = rng.normal(size=30)
    y = 0.7 * x + 0.3 + rng.normal(scale=0.4, size=30)
    fit = york_fit(x, y, np.full(30, 0.2), np.full(30, 0.2))
    # Deming regression with error-variance ratio 1, closed form (an independent route)
    sxx, syy = np.var(x), np.var(y)
    sxy = np.mean((x - x.mean()) * (y - y.mean()))
    b = (syy - sxx + np.sqrt((syy - sxx) ** 2 + 4 * sxy**2)) / (2 * sxy)
    assert fit["slope"] == pytest.approx(b, rel=1e-9)
    assert fit["intercept"] == pytest.approx(y.mean() - b * x.mean(), rel=1e-9)


def test_york_with_exact_x_is_weighted_least_squares():
    rng = np.random.default_rng(1)
    x = np.linspace(0, 1, 12)
    sy = rng.uniform(0.05, 0.3, size=12)
    y = 2.0 - 1.5 * x + rng.normal(scale=sy)
    fit = york_fit(x, y, np.full(12, 1e-9), sy)
    w = 1 / sy**2
    design = np.column_stack([np.ones_like(x), x])
    cov = np.linalg.inv(design.T @ (w[:, None] * design))
    a, b = cov @ design.T @ (w * y)
    assert fit["slope"] == pytest.approx(b, rel=1e-7)
    assert fit["intercept"] == pytest.approx(a, rel=1e-7)
    assert fit["slope_se"] == pytest.approx(np.sqrt(cov[1, 1]), rel=1e-6)


def test_york_slope_covers_the_truth_under_errors_in_both_coordinates():
    """Monte Carlo: York's 95% interval covers the true slope about 95% of the time,
    where ordinary least squares is biased toward zero (regression dilution)."""
    rng = np.random.default_rng(2)
    covered, ols = 0, []
    for _ in range(300):
        truth = rng.normal(size=20)
        sx, sy = np.full(20, 0.5), np.full(20, 0.3)
        x, y = truth + rng.normal(scale=sx), 1.0 * truth + rng.normal(scale=sy)
        fit = york_fit(x, y, sx, sy)
        covered += abs(fit["slope"] - 1.0) <= 1.96 * fit["slope_se"]
        ols.append(np.polyfit(x, y, 1)[0])
    assert 0.9 <= covered / 300 <= 0.99
    assert np.mean(ols) < 0.9  # dilution: what York corrects


def test_york_refuses_bad_input():
    with pytest.raises(ValueError, match="at least 3"):
        york_fit([1, 2], [1, 2], [1, 1], [1, 1])
    with pytest.raises(ValueError, match="> 0"):
        york_fit([1, 2, 3], [1, 2, 3], [1, 0, 1], [1, 1, 1])
    with pytest.raises(ValueError, match="finite"):
        york_fit([1, np.nan, 3], [1, 2, 3], [1, 1, 1], [1, 1, 1])
    with pytest.raises(ValueError, match="does not vary"):
        york_fit([1, 1, 1], [1, 2, 3], [1, 1, 1], [1, 1, 1])


def test_log_se_from_a_95_interval():
    z = 1.959963984540054  # the standard normal's 97.5% quantile
    se = log_se_from_interval(np.exp(0.2 - 0.5 * z), np.exp(0.2 + 0.5 * z))
    assert se == pytest.approx(0.5, rel=1e-12)
    with pytest.raises(ValueError):
        log_se_from_interval(0.0, 1.0)


def _curve(values, low, high, fraction=0.5):
    return pd.DataFrame({
        "study": ["a", "a", "b", "b"], "rule": ["random", "x", "x", "y"],
        "fraction": fraction, "speedup": values, "ci_low": low, "ci_high": high,
    })  # fmt: skip


def test_prediction_table_and_agreement_of_a_perfect_prediction():
    values = [1.0, 1.2, 1.5, 0.9]
    low = [1.0, 1.1, 1.3, 0.8]
    high = [1.0, 1.3, 1.7, 1.0]
    table = prediction_table(_curve(values, low, high), _curve(values, low, high))
    assert list(table["rule"]) == ["x", "x", "y"]  # the baseline is left out
    stats = agreement_stats(table)
    assert stats.loc[0, "spearman_rho"] == pytest.approx(1.0)
    assert stats.loc[0, "slope"] == pytest.approx(1.0, abs=1e-9)
    assert stats.loc[0, "intercept"] == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(ValueError, match="lacks columns"):
        prediction_table(_curve(values, low, high).drop(columns="ci_low"), table)
