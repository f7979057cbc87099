"""The pool gate: figures from two samples, the band, the knob named, the study stops."""

from __future__ import annotations

import numpy as np
import pytest

from insight_bayes.rlvr.gate import GateFailed, GateSettings, measure_pool


def _samples(rates, k, s, seed=0):
    rng = np.random.default_rng(seed)
    rates = np.asarray(rates)
    return rng.random((rates.size, k)) < rates[:, None], rng.random((rates.size, s)) < rates[
        :, None
    ]


def test_figures_by_hand():
    groups = np.array(
        [[0, 0, 0, 0], [1, 1, 1, 1], [1, 0, 0, 0], [0, 0, 0, 0]], dtype=bool
    )  # all wrong, all right, mixed, all wrong
    rates = np.array([[0] * 10, [1] * 10, [1] * 5 + [0] * 5, [1] + [0] * 9], dtype=bool)
    features = [{"digits": 1}, {"digits": 1}, {"digits": 2}, {"digits": 2}]
    report = measure_pool(
        groups, rates, GateSettings(max_uninformative=0.7, min_mid_range=1), features
    )
    assert report.uninformative_share == 0.75
    assert (report.all_wrong_share, report.all_right_share) == (0.5, 0.25)
    assert report.mid_range == 2  # rates 0.5 and 0.1 lie in (0.05, 0.95)
    assert report.by_feature == {"digits": {"1": 1.0, "2": 0.5}}
    assert report.passed is False  # 0.75 is above the band's 0.7
    report = measure_pool(groups, rates, GateSettings(max_uninformative=0.8, min_mid_range=1))
    assert report.passed


def test_expected_share_on_a_known_pool():
    # half the pool at p = 0.5, half at p = 0: E[uninformative] = 0.5 * 2 / 2^8 + 0.5
    rates = np.r_[np.full(4000, 0.5), np.zeros(4000)]
    groups, sample = _samples(rates, 8, 16)
    report = measure_pool(groups, sample)
    want = 0.5 * 2 / 2**8 + 0.5
    assert report.uninformative_share == pytest.approx(
        want, abs=4 * np.sqrt(want * (1 - want) / 8000)
    )
    assert report.mid_range >= 3990  # p = 0.5 prompts, except a rare 0/16 or 16/16


def test_failures_name_the_knob_and_raise():
    rates = np.full(200, 0.5)  # everything already mixed: nothing to choose
    report = measure_pool(*_samples(rates, 8, 16))
    assert not report.passed
    (problem,) = report.problems()
    assert "already teach" in problem and "task.params" in problem and "warmup.steps" in problem
    hard = measure_pool(*_samples(np.zeros(200), 8, 16))
    assert any("hardly learn" in p for p in hard.problems())
    assert any("task.pool_size" in p for p in hard.problems())
    err = GateFailed(hard)
    assert isinstance(err, ValueError) and "--skip-gate" in str(err)
    assert "gate: FAILED" in hard.summary()


def test_bad_inputs():
    with pytest.raises(ValueError, match="cover 2 and 3 prompts"):
        measure_pool(np.zeros((2, 4), bool), np.zeros((3, 4), bool))
    with pytest.raises(ValueError, match="max_uninformative"):
        GateSettings(min_uninformative=0.6, max_uninformative=0.5)
