"""The per-prompt information table on hand-made choices and steps."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from insight_bayes.results import prompt_information


def _steps(rule, seed, pass1, logprob_gain=None):
    n = len(pass1)
    return pd.DataFrame(
        {
            "rule": rule,
            "seed": seed,
            "step": np.arange(n),
            "rollouts": [0] + [8] * (n - 1),
            "step_seconds": [0.0] + [0.5] * (n - 1),
            "eval/pass1": pass1,
            "eval/answer_logprob_gain": logprob_gain if logprob_gain is not None else np.nan,
        }
    )


def test_prompt_information_by_hand():
    choices = pd.DataFrame(
        {
            "rule": "insight",
            "seed": 0,
            "step": [1, 1, 2, 3],
            "prompt_id": [4, 7, 7, 4],
            "rank": [0, 1, 0, 0],
            "alpha": [1.0, 1.0, 3.0, 2.0],
            "beta": [1.0, 1.0, 3.0, 8.0],
            "score": 0.0,
            "successes": [2.0, 4.0, 6.0, 1.0],
            "trials": 8.0,
        }
    )
    steps = _steps("insight", 0, [0.1, np.nan, 0.3, 0.6], logprob_gain=[np.nan, 0.2, -0.1, 0.05])
    out = prompt_information(choices, steps, k=8)
    row = out[(out.step == 1) & (out.prompt_id == 4)].iloc[0]
    assert row.success_rate == 0.25
    assert row.next_step == 3 and row.next_success_rate == 0.125
    assert row.success_gain == pytest.approx(-0.125)
    assert row.step_logprob_gain == pytest.approx(0.2)
    # steps 1 and 2 share the interval (0, 2]: 0.3 - 0.1; step 3 gets 0.6 - 0.3
    assert row.interval_pass1_gain == pytest.approx(0.2)
    assert out[out.step == 3].interval_pass1_gain.iloc[0] == pytest.approx(0.3)
    last = out[(out.step == 2)].iloc[0]
    assert math.isnan(last.next_success_rate)
    # Beta(1, 1), K = 8: expected variance reduction m(1-m)/(n+1) * K/(n+K) = 1/12 * 8/10
    assert row.variance_reduction == pytest.approx(0.25 * 8 / (3 * 10))
    # Beta(1, 1), K = 8: the Beta-Binomial is uniform on 0..8, so
    # I = log 9 - E_p[H(Binomial(8, p))] > 0; WMI weights it by w(1/2) > 0
    assert row.mutual_information > 0 and row.wmi > 0
    assert len(out) == 4


def test_prompt_information_keeps_scenario_and_joins_the_pool():
    choices = pd.DataFrame(
        {
            "scenario": "s@v1",
            "rule": "random",
            "seed": 0,
            "step": [1],
            "prompt_id": [2],
            "rank": [0],
            "alpha": [1.0],
            "beta": [1.0],
            "score": [0.0],
            "successes": [4.0],
            "trials": [8.0],
        }
    )
    steps = _steps("random", 0, [0.1, 0.2]).assign(scenario="s@v1")
    pool = pd.DataFrame({"prompt_id": [2], "feature_digits": [3]})
    out = prompt_information(choices, steps, k=8, pool=pool)
    assert out["scenario"].tolist() == ["s@v1"] and out["feature_digits"].tolist() == [3]
    assert out["interval_pass1_gain"].iloc[0] == pytest.approx(0.1)
