"""Task draws in the results layer: the hierarchical (draws, then seeds) paired bootstrap,
the between-draw share of variance, per-draw relative targets and the reader, against
hand-computed values and against the plain seed bootstrap it reduces to with one draw."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from insight_bayes.results import auc_table, bootstrap_speedups, relative_targets
from insight_bayes.results.bootstrap import between_draw_share, hierarchical_bootstrap_index
from insight_bayes.results.targets import draw_relative_steps_to_target


def _reached(costs: dict[tuple[int, int], tuple[float, float]], *, draws: bool = True):
    """A steps-to-target table from ``{(draw, seed): (T_random, T_fast)}``."""
    rows = []
    for (draw, seed), (t_base, t_rule) in costs.items():
        for rule, t in (("random", t_base), ("fast", t_rule)):
            row = {"rule": rule, "seed": seed, "target": 0.5, "steps_to_target": t}
            row |= {"censored": False, "rollouts_to_target": 10.0 * t}
            if draws:
                row["draw"] = draw
            rows.append(row)
    return pd.DataFrame(rows)


# ------------------------------------------------------------------ the resampling
def test_one_draw_is_the_plain_seed_bootstrap():
    idx, weight = hierarchical_bootstrap_index([3, 3, 3, 3], 500, 7)
    assert weight is None
    np.testing.assert_array_equal(idx, np.random.default_rng(7).integers(4, size=(500, 4)))


def test_replicates_draw_whole_draws_then_seeds_within_them():
    draws = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2])
    idx, weight = hierarchical_bootstrap_index(draws, 4000, 0)
    assert weight is None and idx.shape == (4000, 9)
    blocks = draws[idx].reshape(4000, 3, 3)
    assert (blocks == blocks[..., :1]).all()  # each block of 3 seeds is from one draw
    # draws are drawn uniformly with replacement: a replicate repeats a draw often
    distinct = np.array([np.unique(b[:, 0]).size for b in blocks])
    assert 0.20 < np.mean(distinct == 3) < 0.25  # 3! / 3^3 = 2/9
    assert np.bincount(blocks[:, :, 0].ravel()) / blocks[:, :, 0].size == pytest.approx(
        [1 / 3] * 3, abs=0.02
    )


def test_unequal_draws_count_each_drawn_draw_with_its_own_seeds():
    draws = np.array([0, 0, 0, 1])
    idx, weight = hierarchical_bootstrap_index(draws, 1000, 1)
    assert weight is not None and idx.shape == weight.shape == (1000, 6)
    slots = weight.reshape(1000, 2, 3)
    picked = draws[idx].reshape(1000, 2, 3)[:, :, 0]
    # a drawn draw 0 contributes 3 units, a drawn draw 1 one unit
    assert (slots.sum(axis=2) == np.where(picked == 0, 3, 1)).all()
    assert (draws[idx][weight > 0].reshape(-1) >= 0).all()


# ------------------------------------------------------------------ speed-ups
def test_single_draw_speedups_are_exactly_the_seed_bootstrap():
    rng = np.random.default_rng(3)
    costs = {(0, s): (float(rng.uniform(20, 40)), float(rng.uniform(10, 30))) for s in range(5)}
    plain = bootstrap_speedups(_reached(costs, draws=False), n_boot=1000, rng=11)
    drawn = bootstrap_speedups(_reached(costs), n_boot=1000, rng=11)
    pd.testing.assert_frame_equal(drawn[plain.columns], plain)
    assert list(drawn.columns) == [*plain.columns, "n_draws", "between_draw_share"]
    fast = plain.set_index("rule").loc["fast"]
    tb = np.array([costs[0, s][0] for s in range(5)])
    tr = np.array([costs[0, s][1] for s in range(5)])
    assert fast.speedup == tb.mean() / tr.mean()
    # the base rule consumes the generator first, then the fast rule
    gen = np.random.default_rng(11)
    gen.integers(5, size=(1000, 5))
    idx = gen.integers(5, size=(1000, 5))
    boot = tb[idx].mean(axis=1) / tr[idx].mean(axis=1)
    assert (fast.ci_low, fast.ci_high) == (np.quantile(boot, 0.025), np.quantile(boot, 0.975))
    assert drawn.set_index("rule").loc["fast", "between_draw_share"] == 0.0


def test_a_rule_twice_as_fast_everywhere_has_a_degenerate_interval():
    costs = {
        (d, s): (40.0 + 10 * d + s, (40.0 + 10 * d + s) / 2) for d in range(3) for s in range(3)
    }
    out = bootstrap_speedups(_reached(costs), n_boot=500).set_index("rule").loc["fast"]
    assert out.speedup == pytest.approx(2.0)
    assert out.ci_low == pytest.approx(2.0) and out.ci_high == pytest.approx(2.0)
    assert out.n_seeds == 9 and out.n_draws == 3 and out.p_faster == 1.0
    assert out.between_draw_share == 0.0  # no variance at all


def test_draws_with_different_effects_widen_the_interval():
    # log speed-ups: draw 0 {0, 0.2}, draw 1 {1.0, 1.2}, draw 2 {2.0, 2.2}
    effects = {0: (0.0, 0.2), 1: (1.0, 1.2), 2: (2.0, 2.2)}
    costs = {
        (d, s): (40.0, 40.0 / np.exp(e)) for d, pair in effects.items() for s, e in enumerate(pair)
    }
    hier = bootstrap_speedups(_reached(costs), n_boot=4000).set_index("rule").loc["fast"]
    # the same runs as six independent seeds of one draw
    pooled_costs = {(0, 2 * d + s): c for (d, s), c in costs.items()}
    pooled = bootstrap_speedups(_reached(pooled_costs, draws=False), n_boot=4000)
    pooled = pooled.set_index("rule").loc["fast"]
    tr = np.array([c[1] for c in costs.values()])
    assert hier.speedup == pytest.approx(40.0 / tr.mean()) == pooled.speedup
    assert hier.ci_high - hier.ci_low > 1.3 * (pooled.ci_high - pooled.ci_low)
    # by hand: grand mean 1.1, total SS 1.21 + 0.81 + 0.01 + 0.01 + 0.81 + 1.21 = 4.06;
    # draw means 0.1, 1.1, 2.1, between SS 2 * (1 + 0 + 1) = 4
    assert hier.between_draw_share == pytest.approx(4.0 / 4.06)


def test_between_draw_share_by_hand_and_its_limits():
    assert between_draw_share([0.0, 0.2, 1.0, 1.2], [0, 0, 1, 1]) == pytest.approx(1.0 / 1.04)
    assert between_draw_share([0.0, 1.0, 0.0, 1.0], [0, 0, 1, 1]) == 0.0  # equal draw means
    assert between_draw_share([1.0, 1.0, 3.0, 3.0], [0, 0, 1, 1]) == 1.0  # seeds agree
    assert between_draw_share([2.0, 2.0], [0, 1]) == 0.0  # no variance
    with pytest.raises(ValueError, match="finite"):
        between_draw_share([np.inf, 1.0], [0, 1])


def test_an_unpaired_rule_is_compared_with_its_draws_baseline_mean():
    # "fast" ran seeds 2 and 3 of each draw, the baseline seeds 0 and 1: none shared
    costs = {(d, s): (20.0 * (d + 1), 10.0 * (d + 1)) for d in range(2) for s in range(2)}
    reached = _reached(costs)
    reached.loc[reached.rule == "fast", "seed"] += 2
    out = bootstrap_speedups(reached, n_boot=300).set_index("rule").loc["fast"]
    assert not out.paired and out.n_seeds == 4
    assert out.speedup == pytest.approx(30.0 / 15.0)  # mean(T_base) / mean(T_rule)
    assert out.between_draw_share == 0.0  # log 2 in every run


def test_a_rule_missing_a_run_is_paired_on_the_runs_both_have():
    # the baseline also ran (1, 1), where its cost is 1000: a run "fast" lacks (a study
    # cut short by its time budget) is left out of the comparison, not averaged in
    costs = {(d, s): (20.0 * (d + 1), 10.0 * (d + 1)) for d in range(2) for s in range(2)}
    costs[(1, 1)] = (1000.0, 10.0)
    reached = _reached(costs)
    reached = reached[~((reached.rule == "fast") & (reached.draw == 1) & (reached.seed == 1))]
    out = bootstrap_speedups(reached, n_boot=300).set_index("rule").loc["fast"]
    assert out.paired and out.n_seeds == 3
    assert out.speedup == pytest.approx(2.0)  # (20 + 20 + 40) / (10 + 10 + 20)
    assert (out.ci_low, out.ci_high) == pytest.approx((2.0, 2.0))  # 2x in every shared run


# ------------------------------------------------------------------ AUC and targets
def _steps(draw, rule, seed, values, scenario):
    n = len(values)
    return pd.DataFrame(
        {"scenario": scenario, "draw": draw, "rule": rule, "seed": seed, "step": np.arange(n),
         "eval/accuracy": values, "rollouts": [0] + [10] * (n - 1), "train_reward": 0.5}
    )  # fmt: skip


def test_auc_with_one_draw_is_unchanged_and_draw_effects_show():
    parts = [
        _steps(0, rule, seed, np.array([0.1, 0.2, 0.3]) + gain + 0.01 * seed, "k@a")
        for rule, gain in (("random", 0.0), ("fast", 0.1))
        for seed in range(4)
    ]
    one = pd.concat(parts, ignore_index=True)
    plain = auc_table(one.drop(columns="draw"), n_boot=500, rng=5)
    drawn = auc_table(one, n_boot=500, rng=5)  # a draw's scenario is nested in the draw
    plain = plain.drop(columns="scenario")
    pd.testing.assert_frame_equal(drawn[plain.columns], plain)
    assert list(drawn.columns) == [*plain.columns, "n_draws", "between_draw_share"]
    # draw 1: the fast rule gains 0.3 instead of 0.1
    more = [p.assign(draw=1, scenario="k@b") for p in parts]
    more = [p.assign(**{"eval/accuracy": p["eval/accuracy"] + 0.2}) if p["rule"].iloc[0] == "fast"
            else p for p in more]  # fmt: skip
    two = pd.concat([one, *more], ignore_index=True)
    fast = auc_table(two, n_boot=500).set_index("rule").loc["fast"]
    assert fast.auc_gain == pytest.approx(0.2) and fast.n_draws == 2
    assert fast.between_draw_share == pytest.approx(1.0)  # gains 0.1 and 0.3, no seed spread


def test_relative_targets_are_placed_per_draw():
    # draw 0 starts at 0.125 and Random ends at 0.625; draw 1 starts at 0.25, ends at 0.75
    parts = [
        _steps(0, "random", 0, [0.125, 0.375, 0.625], "k@a"),
        _steps(0, "fast", 0, [0.125, 0.625, 0.75], "k@a"),
        _steps(1, "random", 0, [0.25, 0.5, 0.75], "k@b"),
        _steps(1, "fast", 0, [0.25, 0.75, 0.875], "k@b"),
    ]
    steps = pd.concat(parts, ignore_index=True)
    reached = draw_relative_steps_to_target(steps, [0.5, 1.0], metric="eval/accuracy")
    values = reached.groupby(["draw", "target"])["target_value"].first()
    assert values.to_dict() == {(0, 0.5): 0.375, (0, 1.0): 0.625, (1, 0.5): 0.5, (1, 1.0): 0.75}
    t = reached.set_index(["draw", "rule", "target"])["steps_to_target"]
    assert t[0, "random", 1.0] == 2.0 and t[0, "fast", 1.0] == 1.0
    assert t[1, "random", 0.5] == 1.0 and t[1, "fast", 0.5] == 0.5
    out = bootstrap_speedups(reached, n_boot=200).set_index(["target", "rule"])
    assert out.loc[(1.0, "fast"), "speedup"] == 2.0  # (2 + 2) / (1 + 1)
    assert t[0, "fast", 0.5] == 0.5  # (0.375 - 0.125) / (0.625 - 0.125)
    assert out.loc[(0.5, "fast"), "speedup"] == 2.0  # (1 + 1) / (0.5 + 0.5)
    # one draw: exactly relative_targets'
    single = draw_relative_steps_to_target(
        steps[steps.draw == 0].drop(columns="draw"), [0.5, 1.0], metric="eval/accuracy"
    )
    assert list(single["target_value"].unique()) == relative_targets(
        steps[steps.draw == 0], [0.5, 1.0], metric="eval/accuracy"
    )
    flat = steps.assign(**{"eval/accuracy": np.where(steps.draw == 1, 0.3, steps["eval/accuracy"])})
    with pytest.raises(ValueError, match="draw 1: the baseline's final"):
        draw_relative_steps_to_target(flat, [0.5], metric="eval/accuracy")
