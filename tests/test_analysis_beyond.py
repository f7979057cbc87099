"""The beyond table and coverage over time on tiny tables whose answers are worked by hand.

Four rules, two seeds, steps 0-4, target 0.5. Each curve crosses 0.5 exactly at an
evaluated step (the interpolation lands on it), so the steps-to-target are integers:
Random 4 and 4, InSight 2 and 2, the oracle 1 and 1, the new rule 2 (seed 0) and 1
(seed 1). Hence, for the new rule: speed-up 4 / 1.5, ratio to InSight 2 / 1.5, oracle
fraction 1 / 1.5. Its paired bootstrap draws the mean of (2, 1) resampled: 2, 1.5 or 1
with probabilities 1/4, 1/2, 1/4, so the 2.5% and 97.5% quantiles of 2,000 replicates are
the extremes (each extreme is expected in about 500 replicates, far above the 50 that the
quantile needs): speed-up 2 and 4, ratio 1 and 2, fraction 0.5 and 1.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from insight_bayes.analysis.beyond import beyond_table, coverage_over_time

CURVES = {  # steps 0..4; crossing of 0.5 at the step named
    4: [0.0, 0.1, 0.2, 0.3, 0.5],
    2: [0.0, 0.2, 0.5, 0.7, 0.8],
    1: [0.0, 0.5, 0.6, 0.7, 0.9],
}
CROSSING = {("random", 0): 4, ("random", 1): 4, ("insight", 0): 2, ("insight", 1): 2,
            ("oracle", 0): 1, ("oracle", 1): 1, ("new", 0): 2, ("new", 1): 1}  # fmt: skip
COVERAGE = {  # steps 1..4 (step 0: nothing chosen yet)
    ("new", 0): [1.0, 0.0, 1.0, 1.0],
    ("new", 1): [0.0, 0.0, 0.5, 0.5],
}


def table() -> pd.DataFrame:
    rows = []
    for (rule, seed), crossing in CROSSING.items():
        cover = COVERAGE.get((rule, seed), [0.5, 0.5, 0.5, 0.5])
        for step, acc in enumerate(CURVES[crossing]):
            rows.append(
                {"scenario": "toy@v1", "rule": rule, "seed": seed, "step": step,
                 "eval/accuracy": acc,
                 "belief/coverage_chosen": np.nan if step == 0 else cover[step - 1]}
            )  # fmt: skip
    return pd.DataFrame(rows)


def test_speedup_ratio_and_oracle_fraction_by_hand():
    t = beyond_table(table(), 0.5, windows=((1, 2), (3, 4))).set_index("rule")
    assert list(t.index) == ["oracle", "new", "insight", "random"]  # fastest first
    new = t.loc["new"]
    assert new["speedup"] == pytest.approx(4 / 1.5)
    assert (new["ci_low"], new["ci_high"]) == pytest.approx((2.0, 4.0))
    assert new["ratio_to_reference"] == pytest.approx(2 / 1.5)
    assert (new["ratio_to_reference_ci_low"], new["ratio_to_reference_ci_high"]) == pytest.approx(
        (1.0, 2.0)
    )
    assert new["oracle_fraction"] == pytest.approx(1 / 1.5)
    assert (new["oracle_fraction_ci_low"], new["oracle_fraction_ci_high"]) == pytest.approx(
        (0.5, 1.0)
    )
    assert new["n_seeds"] == 2 and new["n_censored"] == 0 and new["target"] == 0.5
    # the references against themselves, and each other
    assert t.loc["random", "speedup"] == 1.0 and t.loc["insight", "speedup"] == 2.0
    assert t.loc["insight", "ratio_to_reference"] == 1.0
    assert t.loc["oracle", "oracle_fraction"] == 1.0
    assert t.loc["insight", "oracle_fraction"] == 0.5
    assert t.loc["random", "ratio_to_reference"] == 0.5


def test_final_accuracy_and_coverage_windows_by_hand():
    t = beyond_table(table(), 0.5, windows=((1, 2), (3, 4))).set_index("rule")
    assert t.loc["new", "final_accuracy"] == pytest.approx((0.8 + 0.9) / 2)
    assert t.loc["new", "final_accuracy_sd"] == pytest.approx(math.sqrt(0.005))
    assert t.loc["random", "final_accuracy"] == pytest.approx(0.5)
    # new: seed 0 covers (1 + 0) / 2 then (1 + 1) / 2; seed 1 (0 + 0) / 2 then (0.5 + 0.5) / 2
    assert t.loc["new", "coverage_1-2"] == pytest.approx(0.25)
    assert t.loc["new", "coverage_3-4"] == pytest.approx(0.75)
    assert t.loc["insight", "coverage_1-2"] == pytest.approx(0.5)


def test_windows_are_cut_at_the_last_step_and_dropped_beyond_it():
    t = beyond_table(table(), 0.5, windows=((1, 2), (3, 10), (11, 20)))
    assert [c for c in t.columns if c.startswith("coverage")] == ["coverage_1-2", "coverage_3-4"]
    assert t.set_index("rule").loc["new", "coverage_3-4"] == pytest.approx(0.75)


def test_without_oracle_or_coverage_the_columns_are_left_out():
    steps = table().drop(columns="belief/coverage_chosen")
    steps = steps[steps["rule"] != "oracle"]
    t = beyond_table(steps, 0.5, oracle=None)
    assert not any(c.startswith(("coverage", "oracle")) for c in t.columns)
    assert set(t["rule"]) == {"random", "insight", "new"}


def test_a_censored_run_counts_at_its_horizon():
    steps = table()
    steps.loc[(steps["rule"] == "new") & (steps["seed"] == 1), "eval/accuracy"] = 0.1
    t = beyond_table(steps, 0.5).set_index("rule")
    # new: T = 2 and 4 (censored at the horizon) -> mean 3
    assert t.loc["new", "speedup"] == pytest.approx(4 / 3)
    assert t.loc["new", "ratio_to_reference"] == pytest.approx(2 / 3)
    assert t.loc["new", "n_censored"] == 1


def test_bad_input_is_refused_with_a_clear_message():
    steps = table()
    with pytest.raises(ValueError, match="reference rule 'insight' has no runs"):
        beyond_table(steps[steps["rule"] != "insight"], 0.5)
    with pytest.raises(ValueError, match="oracle rule 'oracle' has no runs"):
        beyond_table(steps[steps["rule"] != "oracle"], 0.5)
    two = pd.concat([steps, steps.assign(scenario="other@v1")])
    with pytest.raises(ValueError, match="several scenarios"):
        beyond_table(two, 0.5)
    with pytest.raises(ValueError, match="window"):
        beyond_table(steps, 0.5, windows=((3, 1),))
    with pytest.raises(ValueError, match="every"):
        coverage_over_time(steps, every=0)
    with pytest.raises(ValueError, match="lacks column"):
        coverage_over_time(steps, column="belief/nothing")
    with pytest.raises(ValueError, match="holds no values"):
        coverage_over_time(steps.assign(**{"belief/coverage_chosen": np.nan}))


def test_coverage_over_time_by_hand():
    out = coverage_over_time(table(), every=2)
    new = out[out["rule"] == "new"].set_index("step")
    assert list(new.index) == [2, 4]  # bins (0, 2] and (2, 4]; step 0 has no value
    # bin 2: seeds 0.5 and 0.0; bin 4: seeds 1.0 and 0.5 -> sd sqrt(0.125), se 0.25
    assert new.loc[2, "mean"] == pytest.approx(0.25)
    assert new.loc[4, "mean"] == pytest.approx(0.75)
    assert new["se"].to_numpy() == pytest.approx([0.25, 0.25])
    assert (new["n_seeds"] == 2).all()
    every_step = coverage_over_time(table(), every=1)
    seed_means = every_step[every_step["rule"] == "new"].set_index("step")["mean"]
    assert seed_means.to_dict() == pytest.approx({1: 0.5, 2: 0.0, 3: 0.75, 4: 0.75})
    insight = out[out["rule"] == "insight"]
    assert insight["mean"].tolist() == pytest.approx([0.5, 0.5])
    assert insight["se"].tolist() == pytest.approx([0.0, 0.0])


def test_goal_cells_by_hand():
    """Cell a: the rule needs 80 steps, InSight 100, the oracle 70 (ratio 1.25, 0.875 of
    the oracle: the goal is met); cell b: the rule needs 100 (ratio 1.0: not met)."""
    from insight_bayes.analysis.beyond import goal_cells

    rows = []
    for scenario, new in (("a", 80.0), ("b", 100.0)):
        for rule, t in (("insight", 100.0), ("new", new), ("oracle", 70.0)):
            for seed in range(4):
                rows.append(
                    {"scenario": scenario, "rule": rule, "seed": seed, "target": 0.5,
                     "steps_to_target": t + seed, "censored": False, "horizon": 200}
                )  # fmt: skip
    cells = goal_cells(pd.DataFrame(rows), "new", n_boot=200).set_index("scenario")
    assert cells.loc["a", "ratio"] == pytest.approx(101.5 / 81.5)
    assert cells.loc["a", "oracle_fraction"] == pytest.approx(71.5 / 81.5)
    assert bool(cells.loc["a", "meets"]) and not bool(cells.loc["b", "meets"])
    with pytest.raises(ValueError, match="no runs of"):
        goal_cells(pd.DataFrame(rows), "other")
