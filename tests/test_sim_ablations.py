"""The ablation plan, its scenarios and its table."""

from __future__ import annotations

import numpy as np
import pytest

from simulations.ablations import (
    ABLATIONS,
    ablation_plan,
    ablation_table,
    discount_scenario,
    m_hat_scenario,
    run_ablations,
)
from simulations.scenarios import get_scenario


def test_plan_holds_the_papers_ablations():
    plan = ablation_plan("countdown-paper")
    assert tuple(a.name for a in plan) == ABLATIONS
    by_name = {a.name: a for a in plan}
    assert [v.rule for v in by_name["components"].variants] == ["mi", "weight", "insight"]
    assert [v.rule for v in by_name["belief"].variants] == ["insight", "insight-sampled"]
    assert [v.rule for v in by_name["mu"].variants] == [
        "insight:mu=0.1", "insight", "insight:mu=0.7"
    ]  # fmt: skip
    base = get_scenario("countdown-paper")
    m = base.loop.m
    # M_hat = r M must fit in the pool, else every ratio is capped to the same pool
    assert [v.scenario.resolved_m_hat() for v in by_name["m_hat"].variants] == [
        8 * m, 12 * m, 16 * m
    ]  # fmt: skip
    assert len({v.scenario.key for v in by_name["m_hat"].variants}) == 3
    assert [v.scenario.discount for v in by_name["discount"].variants] == [1.0, 0.9, 0.7]
    assert by_name["discount"].variants[0].scenario is base


def test_variant_scenarios_change_only_what_they_name():
    base = get_scenario("quick")
    s = m_hat_scenario(base, 12)
    assert s.name == "quick-mhat12" and s.loop.k == base.loop.k and s.loop.m == base.loop.m
    assert s.env.pool_size == 24 * base.loop.m and s.target_accuracy == base.target_accuracy
    d = discount_scenario(base, 0.9)
    assert d.name == "quick-lambda0.9" and d.discount == 0.9 and d.env == base.env
    with pytest.raises(ValueError, match="discount"):
        discount_scenario(base, 1.5)


def test_table_on_the_quick_scenario(tmp_path):
    plan = ablation_plan("quick")
    steps = run_ablations(plan, 2, tmp_path)
    table = ablation_table(plan, steps, n_boot=200)
    assert len(table) == sum(len(a.variants) for a in plan)
    assert set(table["ablation"]) == set(ABLATIONS)
    # steps-to-target of one variant, recomputed by hand from the steps table: the
    # crossing interpolated between the evaluations before and at the first hit
    row = table[(table["ablation"] == "components") & (table["rule"] == "mi")].iloc[0]
    target = get_scenario("quick").target_accuracy
    firsts = []
    for _, run in steps[(steps["scenario"] == "quick@v1") & (steps["rule"] == "mi")].groupby(
        "seed"
    ):
        run = run[run["eval/accuracy"].notna()].sort_values("step")
        s, a = run["step"].to_numpy(float), run["eval/accuracy"].to_numpy(float)
        hits = np.flatnonzero(a >= target)
        if not hits.size:
            firsts.append(s[-1])
        elif hits[0] == 0:
            firsts.append(s[0])
        else:
            j = hits[0]
            firsts.append(s[j - 1] + (target - a[j - 1]) / (a[j] - a[j - 1]) * (s[j] - s[j - 1]))
    assert row["steps_to_target"] == pytest.approx(np.mean(firsts))
    assert (table["ci_low"] <= table["speedup"]).all() and (
        table["speedup"] <= table["ci_high"]
    ).all()
    with pytest.raises(ValueError, match="no runs of scenario"):
        ablation_table(plan, steps[steps["scenario"] == "quick@v1"], n_boot=200)


def test_ablation_variants_meet_the_base_pool():
    # a variant draws its pool from the base scenario's seeds: a paired comparison
    base = get_scenario("quick")
    variant = discount_scenario(base, 0.9)
    assert variant.key != base.key and variant.pool_key == base.key
    for seed in (0, 3):
        a, b = base.build_env(seed), variant.build_env(seed)
        np.testing.assert_array_equal(a.difficulty, b.difficulty)
        assert a.evaluate(None)["eval/accuracy"] == b.evaluate(None)["eval/accuracy"]
    assert m_hat_scenario(base, 8).pool_key == base.key
