"""Closed forms of insight_bayes.beta against independent routes to the same numbers."""

from __future__ import annotations

import math

import mp_reference as ref
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, special, stats

from insight_bayes import (
    beta_binomial_pmf,
    beta_entropy,
    expected_variance_reduction,
    mutual_information,
    mutual_information_asymptotic,
)

# Parameters spread log-uniformly over the accuracy contract: alpha, beta in [1e-3, 1e7].
_rng = np.random.default_rng(20260301)
GRID = [
    (float(a), float(b), int(k))
    for a, b, k in zip(
        10.0 ** _rng.uniform(-3, 7, 24),
        10.0 ** _rng.uniform(-3, 7, 24),
        _rng.choice([1, 2, 3, 8, 16, 64], 24),
        strict=True,
    )
]
CORNERS = [
    (a, b, k)
    for a in (1e-3, 1.0, 9.999, 10.0, 1e7)
    for b in (1e-3, 0.5, 10.0, 1e6, 1e7)
    for k in (1, 64)
]


@pytest.mark.parametrize(("a", "b", "k"), GRID + CORNERS)
def test_mutual_information_matches_50_digit_reference(a, b, k):
    expected = float(ref.mutual_information(a, b, k))
    got = mutual_information(a, b, k)
    assert got == pytest.approx(expected, rel=1e-8, abs=0.0)


@pytest.mark.parametrize(("a", "b", "k"), GRID[:12] + CORNERS[::4])
def test_beta_entropy_matches_50_digit_reference(a, b, k):
    expected = float(ref.entropy(a, b))
    # Relative accuracy, except near the entropy's zero crossings where it is absolute.
    assert beta_entropy(a, b) == pytest.approx(expected, rel=1e-8, abs=1e-13)


@pytest.mark.parametrize(("a", "b", "k"), GRID[:12] + [(1e-3, 1e7, 64), (1e7, 1e-3, 64)])
def test_beta_binomial_pmf_matches_50_digit_reference(a, b, k):
    expected = np.array([float(p) for p in ref.pmf(k, a, b)])
    got = beta_binomial_pmf(k, a, b)
    assert got.shape == (k + 1,)
    # Every probability representable in float64 to relative 1e-8.
    np.testing.assert_allclose(got, expected, rtol=1e-8, atol=1e-300)


def test_pmf_agrees_with_scipy_betabinom_and_sums_to_one():
    a = np.array([[0.3], [2.0], [50.0]])
    b = np.array([0.7, 5.0, 400.0])
    got = beta_binomial_pmf(8, a, b)
    assert got.shape == (3, 3, 9)
    expected = stats.betabinom.pmf(np.arange(9), 8, a[..., None], b[None, :, None])
    np.testing.assert_allclose(got, expected, rtol=1e-10)
    np.testing.assert_allclose(got.sum(-1), 1.0, rtol=1e-14)


def _binary_entropy(p):
    return special.entr(p) + special.entr(1.0 - p)


def _mi_symmetric_route(a: float, b: float, k: int) -> float:
    """I = H[S] - E_phi[H(Binomial(K, phi))]: entropy of the predictive minus quadrature."""
    p_s = stats.betabinom.pmf(np.arange(k + 1), k, a, b)
    h_s = float(special.entr(p_s).sum())

    def binom_entropy(phi: float) -> float:
        return float(stats.binom(k, phi).entropy())

    expected_h, _ = integrate.quad(
        lambda phi: stats.beta.pdf(phi, a, b) * binom_entropy(phi), 0.0, 1.0, limit=200
    )
    return h_s - expected_h


@pytest.mark.parametrize(
    ("a", "b", "k"), [(1.0, 1.0, 4), (2.5, 7.0, 8), (12.0, 3.0, 3), (40.0, 60.0, 16)]
)
def test_mutual_information_equals_symmetric_form(a, b, k):
    assert mutual_information(a, b, k) == pytest.approx(_mi_symmetric_route(a, b, k), rel=1e-7)


@pytest.mark.parametrize(("a", "b"), [(1.0, 1.0), (3.0, 9.0), (0.7, 0.4), (25.0, 30.0)])
def test_k1_is_binary_entropy_gap(a, b):
    m = a / (a + b)
    expected_h, _ = integrate.quad(lambda p: stats.beta.pdf(p, a, b) * _binary_entropy(p), 0, 1)
    assert mutual_information(a, b, 1) == pytest.approx(_binary_entropy(m) - expected_h, rel=1e-8)


def test_uniform_prior_one_rollout_is_ln2_minus_half():
    assert mutual_information(1.0, 1.0, 1) == pytest.approx(math.log(2) - 0.5, rel=1e-14)


@pytest.mark.parametrize("k", [1, 8, 64])
@pytest.mark.parametrize("n", [1e3, 1e5, 1e7])
def test_large_evidence_asymptotics(k, n):
    a, b = 0.3 * n, 0.7 * n
    approx = mutual_information_asymptotic(a, b, k)
    # Proposition 5.1: the ratio tends to 1 with an O(K/n) error.
    assert mutual_information(a, b, k) / approx == pytest.approx(1.0, abs=10.0 * k / n)
    if k == 1:
        assert approx == pytest.approx(1.0 / (2.0 * (n + 1.0)), rel=1.0 / n)


def test_mutual_information_monte_carlo():
    rng = np.random.default_rng(7)
    a, b, k, draws = 2.0, 3.0, 8, 400_000
    phi = rng.beta(a, b, draws)
    s = rng.binomial(k, phi)
    log_lik = stats.binom.logpmf(s, k, phi)
    log_pred = stats.betabinom.logpmf(s, k, a, b)
    sample = log_lik - log_pred
    estimate, se = sample.mean(), sample.std() / math.sqrt(draws)
    assert abs(mutual_information(a, b, k) - estimate) < 4 * se


@pytest.mark.parametrize(
    ("a", "b", "k"), [(1.0, 1.0, 1), (2.0, 5.0, 1), (2.0, 5.0, 8), (1e4, 3e4, 16)]
)
def test_expected_variance_reduction_against_posterior_variances(a, b, k):
    n = a + b
    prior_var = a * b / (n**2 * (n + 1))
    s = np.arange(k + 1)
    post_a, post_b = a + s, b + k - s
    post_var = post_a * post_b / ((n + k) ** 2 * (n + k + 1))
    direct = prior_var - float((stats.betabinom.pmf(s, k, a, b) * post_var).sum())
    assert expected_variance_reduction(a, b, k) == pytest.approx(direct, rel=1e-9)
    if k == 1:  # Eq. 8 as printed in the paper.
        assert expected_variance_reduction(a, b) == pytest.approx(a * b / (n**2 * (n + 1) ** 2))


def test_broadcasting_and_shapes():
    a = np.array([1.0, 2.0, 3.0])[:, None]
    b = np.array([1.0, 4.0])
    out = mutual_information(a, b, 8)
    assert out.shape == (3, 2)
    assert out[1, 1] == pytest.approx(mutual_information(2.0, 4.0, 8), rel=1e-15)
    assert isinstance(mutual_information(1.0, 1.0, 8), float)
    assert beta_entropy(a, b).shape == (3, 2)


def test_parallel_kernel_equals_serial():
    rng = np.random.default_rng(3)
    a = 10.0 ** rng.uniform(-2, 5, 250_000)
    b = 10.0 ** rng.uniform(-2, 5, 250_000)
    big = mutual_information(a, b, 8)
    small = np.concatenate(
        [
            mutual_information(a[i : i + 50_000], b[i : i + 50_000], 8)
            for i in range(0, a.size, 50_000)
        ]
    )
    np.testing.assert_array_equal(big, small)


# ------------------------------------------------------------------- properties

positive = st.floats(min_value=1e-3, max_value=1e6, allow_nan=False, allow_infinity=False)


@settings(max_examples=200, deadline=None)
@given(a=positive, b=positive, k=st.integers(1, 32))
def test_mi_is_symmetric_nonnegative_and_bounded(a, b, k):
    i_ab = mutual_information(a, b, k)
    assert i_ab == pytest.approx(mutual_information(b, a, k), rel=1e-10, abs=1e-300)
    # 0 <= I(S; phi) <= H(S) <= ln(K + 1)
    assert 0.0 <= i_ab <= math.log(k + 1) + 1e-12


@settings(max_examples=150, deadline=None)
@given(a=positive, b=positive, k=st.integers(1, 31))
def test_mi_grows_with_k(a, b, k):
    assert mutual_information(a, b, k + 1) > mutual_information(a, b, k)


at_least_prior = st.floats(min_value=1.0, max_value=1e6, allow_nan=False, allow_infinity=False)


@settings(max_examples=150, deadline=None)
@given(a=at_least_prior, b=at_least_prior, k=st.integers(1, 32), scale=st.floats(1.01, 100.0))
def test_mi_shrinks_with_evidence_at_fixed_mean(a, b, k, scale):
    # Holds for beliefs at least as concentrated as the uniform prior. Below it, it can
    # fail for real: I_4(1, 1/128) = 0.07298 < I_4(2, 1/64) = 0.07502 at 60 digits.
    assert mutual_information(scale * a, scale * b, k) < mutual_information(a, b, k)


@settings(max_examples=150, deadline=None)
@given(a=positive, b=positive)
def test_entropy_symmetric_and_evr_factorises(a, b):
    assert beta_entropy(a, b) == pytest.approx(beta_entropy(b, a), rel=1e-12, abs=1e-14)
    n, m = a + b, a / (a + b)
    assert expected_variance_reduction(a, b) == pytest.approx(m * (1 - m) / (n + 1) ** 2, rel=1e-12)


# ------------------------------------------------------------------- bad input


@pytest.mark.parametrize("bad", [0.0, -1.0, np.nan, np.inf, -np.inf])
@pytest.mark.parametrize(
    "func",
    [
        lambda a, b: mutual_information(a, b, 8),
        beta_entropy,
        lambda a, b: beta_binomial_pmf(8, a, b),
        expected_variance_reduction,
        lambda a, b: mutual_information_asymptotic(a, b, 8),
    ],
)
def test_bad_parameters_raise_naming_argument(func, bad):
    with pytest.raises(ValueError, match="alpha"):
        func(np.array([1.0, bad]), 1.0)
    with pytest.raises(ValueError, match="beta"):
        func(1.0, bad)


@pytest.mark.parametrize("k", [0, -3])
def test_k_below_one_raises(k):
    with pytest.raises(ValueError, match="k must be >= 1"):
        mutual_information(1.0, 1.0, k)


@pytest.mark.parametrize("k", [2.0, 1.5, "8", True, None])
def test_non_integer_k_raises(k):
    with pytest.raises(TypeError, match="k must be an integer"):
        mutual_information(1.0, 1.0, k)


def test_shape_mismatch_raises():
    with pytest.raises(ValueError, match="broadcast"):
        mutual_information(np.ones(3), np.ones(4), 8)


def test_non_numeric_raises_type_error():
    with pytest.raises(TypeError, match="alpha must be numeric"):
        beta_entropy("a lot", 1.0)
