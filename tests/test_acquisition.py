"""Acquisition scores: the weight (Eq. 15), the WMI score (Eq. 16) and baseline scores."""

from __future__ import annotations

import math

import numpy as np
import pytest

from insight_bayes import (
    difficulty_weight,
    distance_score,
    inverse_evidence_score,
    mutual_information,
    wmi_score,
)


@pytest.mark.parametrize(
    ("m", "mu", "eta"), [(0.3, 0.3, 3.0), (0.5, 0.3, 3.0), (0.9, 0.1, 10.0), (0.2, 0.7, 0.0)]
)
def test_difficulty_weight_by_hand(m, mu, eta):
    assert difficulty_weight(m, mu, eta) == pytest.approx(
        m * (1 - m) * math.exp(-eta * (m - mu) ** 2)
    )


def test_weight_peaks_between_mu_and_half_and_vanishes_at_the_ends():
    grid = np.linspace(0, 1, 100_001)
    w = difficulty_weight(grid, mu=0.3, eta=3.0)
    assert w[0] == 0.0 and w[-1] == 0.0
    peak = grid[np.argmax(w)]
    # d/dm [ln m + ln(1-m) - eta (m - mu)^2] = 0 lies strictly between mu and 1/2.
    assert 0.3 < peak < 0.5
    assert difficulty_weight(grid, mu=0.3, eta=0.0)[50_000] == pytest.approx(0.25)


def test_wmi_is_weight_times_information():
    a = np.array([1.0, 3.0, 40.0, 0.2])
    b = np.array([1.0, 9.0, 10.0, 5.0])
    expected = difficulty_weight(a / (a + b), 0.3, 3.0) * mutual_information(a, b, 8)
    np.testing.assert_allclose(wmi_score(a, b, 8), expected, rtol=1e-14)
    assert wmi_score(1.0, 1.0, 1) == pytest.approx(0.25 * math.exp(-3 * 0.04) * (math.log(2) - 0.5))


def test_wmi_prefers_informative_prompt_over_well_known_one_at_same_mean():
    # Same mean belief 0.4; the second prompt has 100x the evidence.
    fresh, known = wmi_score([2.0, 200.0], [3.0, 300.0], 8)
    assert fresh > 10 * known


def test_baseline_scores():
    np.testing.assert_allclose(distance_score([0.5, 0.2, 1.0]), [0.0, -0.09, -0.25])
    assert distance_score(0.3, target=0.3) == 0.0
    np.testing.assert_allclose(inverse_evidence_score([1.0, 10.0], [1.0, 30.0]), [0.5, 0.025])


@pytest.mark.parametrize("mu", [-0.1, 1.5, 3.0, float("nan")])
def test_mu_outside_unit_interval_raises(mu):
    with pytest.raises(ValueError, match="mu"):
        difficulty_weight(0.5, mu=mu)
    with pytest.raises(ValueError, match="mu"):
        wmi_score(1.0, 1.0, 8, mu=mu)


def test_negative_eta_raises():
    with pytest.raises(ValueError, match="eta must be >= 0"):
        wmi_score(1.0, 1.0, 8, eta=-1.0)


@pytest.mark.parametrize("mean", [-0.01, 1.01, float("nan")])
def test_mean_outside_unit_interval_raises(mean):
    with pytest.raises(ValueError, match="mean must lie in"):
        difficulty_weight(mean)


def test_target_outside_unit_interval_raises():
    with pytest.raises(ValueError, match="target"):
        distance_score(0.5, target=2.0)
