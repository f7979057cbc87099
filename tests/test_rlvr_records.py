"""Per-prompt information tables and steps-to-target on hand-made records."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from insight_bayes.rlvr.records import prompt_information, speedups, steps_to_target


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
    steps.loc[1, "eval/pass1"] = np.nan
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
    # Beta(1, 1), K = 8: MI = H(BetaBinomial uniform on 9) - E[H(Bin)] ; check EVR by hand
    assert row.variance_reduction == pytest.approx(0.25 * 8 / (3 * 10))
    assert row.mutual_information > 0 and row.wmi > 0
    assert len(out) == 4


def test_steps_to_target_and_speedups_by_hand():
    steps = pd.concat(
        [
            _steps("random", 0, [0.1, 0.2, 0.3, 0.5, 0.6]),
            _steps("random", 1, [0.1, 0.2, 0.5, 0.6, 0.7]),
            _steps("insight", 0, [0.1, 0.5, 0.6, 0.7, 0.8]),
            _steps("insight", 1, [0.1, 0.2, 0.3, 0.4, 0.4]),  # never reaches 0.5
        ]
    )
    table = steps_to_target(steps, 0.5)
    t = table.set_index(["rule", "seed"])
    assert t.loc[("random", 0), "steps_to_target"] == 3
    assert t.loc[("random", 1), "steps_to_target"] == 2
    assert t.loc[("insight", 0), "steps_to_target"] == 1
    assert t.loc[("insight", 1), "censored"] and t.loc[("insight", 1), "steps_to_target"] == 4
    assert t.loc[("random", 0), "rollouts_to_target"] == 24
    assert t.loc[("random", 0), "seconds_to_target"] == pytest.approx(1.5)
    sp = speedups(table).set_index("rule")
    assert sp.loc["insight", "steps_speedup"] == pytest.approx(2.5 / 2.5)
    assert sp.loc["insight", "steps_speedup_seed_min"] == pytest.approx(2 / 4)
    assert sp.loc["insight", "steps_speedup_seed_max"] == pytest.approx(3 / 1)
    assert sp.loc["insight", "censored"] == 1
    assert sp.loc["random", "steps_speedup"] == 1.0
    with pytest.raises(ValueError, match="baseline"):
        speedups(table, "mopps")
    with pytest.raises(ValueError, match="column"):
        steps_to_target(steps.drop(columns=["eval/pass1"]), 0.5)
