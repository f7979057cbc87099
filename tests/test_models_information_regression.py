"""The information regression recovers known coefficients and refuses bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from insight_bayes.models.information_regression import (
    fit_information_regression,
    information_terms,
)


def test_information_terms_are_the_factors_of_eq8():
    a, b = np.array([1.0, 3.0, 10.0]), np.array([1.0, 1.0, 30.0])
    t = information_terms(a, b)
    m = a / (a + b)
    # Eq. 8 by its definition: dV = Var(prior) - E[Var(posterior)] for one Bernoulli draw.
    var = lambda x, y: x * y / ((x + y) ** 2 * (x + y + 1))  # noqa: E731
    dv = var(a, b) - (m * var(a + 1, b) + (1 - m) * var(a, b + 1))
    np.testing.assert_allclose(t["difficulty"] * t["evidence"] ** 2, dv, rtol=1e-12)
    with pytest.raises(ValueError, match="alpha and beta must be finite and > 0"):
        information_terms([0.0], [1.0])


def test_recovers_known_coefficients():
    rng = np.random.default_rng(7)
    n = 400
    df = pd.DataFrame(
        {"difficulty": rng.uniform(0, 0.25, n), "evidence": rng.uniform(0.02, 0.5, n)}
    )
    df["gain"] = 0.1 + 2.0 * df["difficulty"] - 0.5 * df["evidence"] + rng.normal(0, 0.05, n)
    fit = fit_information_regression(df, "gain", draws=400, tune=400, chains=2)
    s = fit.summary.set_index("term")
    assert fit.converged and fit.n_obs == n
    for term, true in (("intercept", 0.1), ("difficulty", 2.0), ("evidence", -0.5)):
        assert s.loc[term, "hdi_low"] < true < s.loc[term, "hdi_high"], (term, s.loc[term])
    assert abs(s.loc["difficulty", "mean"] - 2.0) < 0.15
    assert abs(s.loc["sigma", "mean"] - 0.05) < 0.01
    # per-SD effect = per-unit effect x SD of the term
    sd = df["difficulty"].std(ddof=0)
    assert s.loc["difficulty", "coef_std"] == pytest.approx(
        s.loc["difficulty", "mean"] * sd, rel=1e-6
    )
    assert s.loc["difficulty", "p_positive"] > 0.99 and s.loc["evidence", "p_positive"] < 0.01


def test_bad_input_is_refused():
    df = pd.DataFrame({"y": [1.0, 2.0, 3.0, 4.0], "difficulty": [0.1, 0.2, 0.1, 0.2]})
    with pytest.raises(ValueError, match="lacks column"):
        fit_information_regression(df, "y", ["evidence"])
    with pytest.raises(ValueError, match="do not vary"):
        fit_information_regression(df.assign(difficulty=0.1), "y", ["difficulty"])
    with pytest.raises(ValueError, match="complete rows"):
        fit_information_regression(df.head(2), "y", ["difficulty"])
