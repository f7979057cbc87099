"""Steps-to-target (interpolated, censored), paired bootstrap speed-ups, speed-up curves,
learning-curve AUC and the summary table, against values computed by hand; and the
hierarchical censored PyMC model (insight_bayes.models.speedup_fit)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from insight_bayes.results import (
    auc_table,
    bootstrap_speedups,
    learning_curve_auc,
    relative_targets,
    speedup_curve,
    speedup_report,
    steps_to_target,
    summary_table,
)


def _run(rule, seed, values, *, rollouts=10, seconds=1.0, scenario="s@v1", evaluated=None):
    """One run's steps 0..n-1; ``values`` at ``evaluated`` steps (default: every step)."""
    n = len(values) if evaluated is None else max(evaluated) + 1
    metric = np.full(n, np.nan)
    for step, value in zip(evaluated or range(n), values, strict=True):
        metric[step] = value
    return pd.DataFrame(
        {
            "scenario": scenario,
            "rule": rule,
            "seed": seed,
            "step": np.arange(n),
            "eval/accuracy": metric,
            "informative_share": 0.5,
            "rollouts": [0] + [rollouts] * (n - 1),
            "step_seconds": [0.0] + [seconds] * (n - 1),
        }
    )


# ------------------------------------------------------------------ steps-to-target
def test_steps_to_target_interpolates_between_evaluations():
    # evaluated at steps 0, 2, 4: 0.1, 0.2, 0.6; rollouts 10 per step, 1 s per step
    steps = _run("r", 0, [0.1, 0.2, 0.6], evaluated=[0, 2, 4])
    row = steps_to_target(steps, 0.4).iloc[0]
    # crossing between (2, 0.2) and (4, 0.6): 2 + (0.4 - 0.2) / (0.6 - 0.2) * 2 = 3
    assert row.steps_to_target == 3.0 and not row.censored and row.horizon == 4
    # 30 rollouts and 3 s spent by step 3
    assert row.rollouts_to_target == 30.0 and row.seconds_to_target == 3.0
    # a fractional step: 2 + (0.3 - 0.2) / 0.4 * 2 = 2.5 -> 20 + 0.5 * 10 rollouts
    row = steps_to_target(steps, 0.3).iloc[0]
    assert row.steps_to_target == 2.5 and row.rollouts_to_target == 25.0


def test_steps_to_target_first_crossing_exact_hits_and_start():
    steps = pd.concat(
        [
            _run("late", 0, [0.1, 0.6, 0.3, 0.8]),  # first crossing counts, not the last
            _run("exact", 0, [0.1, 0.2, 0.5, 0.9]),  # a value equal to the target
            _run("start", 0, [0.7, 0.8]),  # already there at step 0
        ]
    )
    stt = steps_to_target(steps, 0.5).set_index("rule")
    assert stt.loc["late", "steps_to_target"] == pytest.approx(0.8)  # 0 + 0.4 / 0.5
    assert stt.loc["exact", "steps_to_target"] == 2.0
    assert stt.loc["start", "steps_to_target"] == 0.0
    assert stt.loc["start", "rollouts_to_target"] == 0.0
    assert not stt["censored"].any()


def test_steps_to_target_censors_at_the_last_evaluation():
    # evaluated at 0 and 2 only; step 3 trains but is not evaluated
    steps = _run("slow", 0, [0.1, 0.3], evaluated=[0, 2])
    steps = pd.concat(
        [steps, _run("slow", 0, [0.0] * 4).iloc[[3]].assign(**{"eval/accuracy": np.nan})]
    )
    row = steps_to_target(steps, 0.5).iloc[0]
    assert row.censored and row.steps_to_target == 2.0 and row.horizon == 2
    assert row.rollouts_to_target == 20.0  # all spent up to the horizon, not step 3


def test_steps_to_target_several_targets_and_errors():
    steps = _run("r", 0, [0.0, 0.2, 0.4, 0.6])
    stt = steps_to_target(steps, [0.1, 0.5, 0.9])
    assert stt["target"].tolist() == [0.1, 0.5, 0.9]
    assert stt["steps_to_target"].tolist() == [0.5, 2.5, 3.0]
    assert stt["censored"].tolist() == [False, False, True]
    with pytest.raises(ValueError, match="lacks column"):
        steps_to_target(steps.drop(columns="seed"), 0.5)
    with pytest.raises(ValueError, match="empty"):
        steps_to_target(steps.assign(**{"eval/accuracy": np.nan}), 0.5)
    with pytest.raises(ValueError, match="at least one"):
        steps_to_target(steps, [])
    # no scenario column (a table of one study): grouped by rule and seed
    assert steps_to_target(steps.drop(columns="scenario"), 0.5)["steps_to_target"].item() == 2.5


# ------------------------------------------------------------------ bootstrap speed-ups
def _stt(costs: dict[str, list[float]], seeds=None) -> pd.DataFrame:
    rows = []
    for rule, values in costs.items():
        for seed, value in zip(seeds or range(len(values)), values, strict=True):
            rows.append(
                {"scenario": "s@v1", "rule": rule, "seed": seed, "target": 0.5,
                 "steps_to_target": value, "censored": False, "horizon": 100}
            )  # fmt: skip
    return pd.DataFrame(rows)


def test_paired_bootstrap_by_hand():
    # baseline 4 and 6 steps, rule 2 and 2: speed-up (4 + 6) / 2 / 2 = 2.5. A joint
    # resample of the two seeds takes seed 0 twice (ratio 4/2 = 2, probability 1/4),
    # seed 1 twice (6/2 = 3, probability 1/4) or both (2.5): the 95% interval is [2, 3].
    sp = bootstrap_speedups(_stt({"random": [4, 6], "fast": [2, 2]}), n_boot=4000, rng=1)
    row = sp.set_index("rule").loc["fast"]
    assert row.speedup == 2.5 and bool(row.paired)
    assert (row.ci_low, row.ci_high) == (2.0, 3.0)
    assert row.p_faster == 1.0 and row.mean_cost == 2.0 and row.n_seeds == 2
    base = sp.set_index("rule").loc["random"]
    assert (base.speedup, base.ci_low, base.ci_high, base.p_faster) == (1.0, 1.0, 1.0, 0.0)


def test_pairing_removes_the_seed_to_seed_spread():
    # the rule is exactly twice as fast at every seed, seeds differ 10-fold
    costs = {"random": [10, 100, 40], "fast": [5, 50, 20]}
    paired = bootstrap_speedups(_stt(costs), n_boot=500).set_index("rule").loc["fast"]
    assert (paired.ci_low, paired.ci_high) == (2.0, 2.0)
    # the same costs at seeds the baseline did not run: resampled independently
    unpaired = pd.concat(
        [_stt({"random": costs["random"]}), _stt({"fast": costs["fast"]}, [3, 4, 5])]
    )
    row = bootstrap_speedups(unpaired, n_boot=500).set_index("rule").loc["fast"]
    assert not row.paired and row.speedup == 2.0
    assert row.ci_low < 1.0 and row.ci_high > 4.0


def test_rollout_speedup_charges_extra_rollouts():
    # "ds" reaches 0.5 at step 1.5 instead of 3 but spends 20 rollouts per step, not 10
    steps = pd.concat(
        [_run("random", 0, [0.0, 0.2, 0.4, 0.6]), _run("ds", 0, [0.0, 0.4, 0.6, 0.7], rollouts=20)]
    )
    stt = steps_to_target(steps, 0.5)
    t = stt.set_index("rule")
    assert t.loc["random", "steps_to_target"] == 2.5 and t.loc["ds", "steps_to_target"] == 1.5
    assert (
        t.loc["random", "rollouts_to_target"] == 25.0 and t.loc["ds", "rollouts_to_target"] == 30.0
    )
    by_steps = bootstrap_speedups(stt, n_boot=100).set_index("rule")
    by_rollouts = bootstrap_speedups(stt, measure="rollouts_to_target", n_boot=100).set_index(
        "rule"
    )
    assert by_steps.loc["ds", "speedup"] == pytest.approx(2.5 / 1.5)
    assert by_rollouts.loc["ds", "speedup"] == pytest.approx(25 / 30)
    with pytest.raises(ValueError, match="measure"):
        bootstrap_speedups(stt, measure="wall")


def test_bootstrap_refuses_a_missing_baseline_and_bad_settings():
    stt = _stt({"a": [1.0, 2.0]})
    with pytest.raises(ValueError, match="baseline rule 'random'"):
        bootstrap_speedups(stt)
    with pytest.raises(ValueError, match="n_boot"):
        bootstrap_speedups(_stt({"random": [1.0]}), n_boot=10)


def test_speedup_curve_over_targets():
    # random: 0, .2, .4, .6, .8; insight: 0, .4, .5, .6, 1.0 (one seed each)
    steps = pd.concat(
        [
            _run("random", 0, [0.0, 0.2, 0.4, 0.6, 0.8]),
            _run("insight", 0, [0.0, 0.4, 0.5, 0.6, 1.0]),
        ]
    )
    curve = speedup_curve(steps, [0.3, 0.6], n_boot=100).set_index(["target", "rule"])
    # target 0.3: random 1.5 steps, insight 0.75 -> 2.0; target 0.6: 3 and 3 -> 1.0
    assert curve.loc[(0.3, "insight"), "speedup"] == pytest.approx(2.0)
    assert curve.loc[(0.6, "insight"), "speedup"] == 1.0
    assert curve.loc[(0.6, "random"), "speedup"] == 1.0


# ------------------------------------------------------------------ AUC
def test_learning_curve_auc_by_hand():
    steps = pd.concat(
        [_run("a", 0, [0.1, 0.3, 0.5]), _run("b", 0, [0.0, 0.4, 1.0], evaluated=[0, 2, 3])]
    )
    auc = learning_curve_auc(steps).set_index("rule")
    # a: trapezoids (0.1 + 0.3) / 2 + (0.3 + 0.5) / 2 = 0.6 over 2 steps
    assert auc.loc["a", "auc"] == pytest.approx(0.3)
    # b: (0 + 0.4) / 2 * 2 + (0.4 + 1.0) / 2 * 1 = 1.1 over 3 steps
    assert auc.loc["b", "auc"] == pytest.approx(1.1 / 3)
    assert (auc.loc["b", "first_step"], auc.loc["b", "last_step"]) == (0, 3)


def test_auc_table_paired_gain():
    # random AUC 0.3 (seed 0) and 0.5 (seed 1); insight 0.4 and 0.7: gains 0.1 and 0.2
    steps = pd.concat(
        [
            _run("random", 0, [0.3, 0.3]),
            _run("random", 1, [0.5, 0.5]),
            _run("insight", 0, [0.4, 0.4]),
            _run("insight", 1, [0.7, 0.7]),
        ]
    )
    table = auc_table(steps, n_boot=2000, rng=0).set_index("rule")
    row = table.loc["insight"]
    assert row.auc == pytest.approx(0.55) and row.auc_gain == pytest.approx(0.15)
    assert row.paired
    # a paired resample of the gains {0.1, 0.2} stays within [0.1, 0.2]
    assert row.gain_ci_low == pytest.approx(0.1) and row.gain_ci_high == pytest.approx(0.2)
    assert row.auc_ci_low == pytest.approx(0.4) and row.auc_ci_high == pytest.approx(0.7)
    assert table.loc["random", "auc_gain"] == 0.0


# ------------------------------------------------------------------ summary table
def test_summary_table_joins_speedups():
    steps = pd.concat([_run("random", 0, [0.1, 0.5, 0.6]), _run("insight", 0, [0.1, 0.6, 0.7])])
    stt = steps_to_target(steps, 0.5)
    table = summary_table(steps, bootstrap_speedups(stt, n_boot=100, rng=0))
    assert list(table["rule"]) == ["insight", "random"]  # sorted by speed-up
    row = table.set_index("rule").loc["insight"]
    assert row["final_accuracy"] == pytest.approx(0.7)
    assert row["rollouts_per_step"] == 10
    # insight crosses at 0 + 0.4 / 0.5 = 0.8, random at 1.0
    assert row["mean_cost"] == pytest.approx(0.8) and row["speedup"] == pytest.approx(1.25)


# ------------------------------------------------------------------ PyMC model
def _synthetic_stt(speedups: dict[str, float], n_seeds: int, rng, horizon=100.0, base=50.0):
    rows = []
    for seed in range(n_seeds):
        pool = rng.normal(0, 0.1)
        for rule, sp in speedups.items():
            t = float(np.exp(np.log(base / sp) + pool + rng.normal(0, 0.12)))
            rows.append(
                {
                    "scenario": "s@v1",
                    "rule": rule,
                    "seed": seed,
                    "target": 0.5,
                    "steps_to_target": min(t, horizon),
                    "censored": t > horizon,
                    "horizon": horizon,
                }
            )
    return pd.DataFrame(rows)


def test_bootstrap_recovers_a_known_speedup():
    rng = np.random.default_rng(0)
    stt = _synthetic_stt({"random": 1.0, "fast": 2.0, "same": 1.0}, 30, rng)
    sp = bootstrap_speedups(stt, n_boot=2000, rng=1).set_index("rule")
    assert sp.loc["fast", "ci_low"] < 2.0 < sp.loc["fast", "ci_high"]
    assert sp.loc["fast", "ci_low"] > 1.5
    assert sp.loc["same", "ci_low"] < 1.0 < sp.loc["same", "ci_high"]


def test_pymc_model_recovers_a_known_speedup_with_censoring():
    from insight_bayes.models.speedup_fit import fit_speedup

    rng = np.random.default_rng(3)
    # the slow rule (median 83 steps) is often censored at the horizon of 78
    stt = _synthetic_stt({"random": 1.0, "fast": 2.0, "slow": 0.6}, 8, rng, horizon=78.0)
    assert stt["censored"].sum() >= 3
    fit = fit_speedup(stt, draws=800, tune=800, chains=2, rng=1)
    s = fit.summary.set_index("rule")
    assert s.loc["fast", "hdi_low"] < 2.0 < s.loc["fast", "hdi_high"]
    assert s.loc["fast", "hdi_low"] > 1.3
    assert s.loc["slow", "hdi_low"] < 0.6 < s.loc["slow", "hdi_high"]
    assert s.loc["slow", "hdi_high"] < 1.0
    assert "speedup" in fit.idata.posterior and fit.idata.posterior["speedup"].dims[-1] == "rule"
    assert set(fit.diagnostics) >= {"max_rhat", "min_ess_bulk", "divergences", "problems"}
    assert fit.converged == (not fit.diagnostics["problems"])


def test_pymc_convergence_failure_raises_or_warns():
    from insight_bayes.models.speedup_fit import (
        ConvergenceError,
        ConvergenceWarning,
        check_convergence,
        fit_speedup,
    )

    stt = _synthetic_stt({"random": 1.0, "fast": 2.0}, 4, np.random.default_rng(4))
    with pytest.raises(ConvergenceError, match="r-hat|ESS"):
        fit_speedup(stt, draws=10, tune=0, chains=2, on_fail="raise", target_accept=0.5)
    fit = fit_speedup(stt, draws=10, tune=0, chains=2, on_fail="ignore", target_accept=0.5)
    assert not fit.converged
    with pytest.warns(ConvergenceWarning, match="convergence checks"):
        check_convergence(fit.idata, ["mu", "tau"], ess_min=10_000)
    with pytest.raises(ValueError, match="baseline rule"):
        fit_speedup(stt, baseline="nope")


def test_relative_targets_by_hand():
    # start 0.1 (both rules, step 0); Random ends at 0.3 and 0.5 over its two seeds: 0.4
    steps = pd.DataFrame(
        {
            "rule": ["random"] * 4 + ["insight"] * 2,
            "seed": [0, 0, 1, 1, 0, 0],
            "step": [0, 10, 0, 10, 0, 10],
            "eval/accuracy": [0.1, 0.3, 0.1, 0.5, 0.1, 0.9],
        }
    )
    targets = relative_targets(steps, [0.5, 1.0])
    np.testing.assert_allclose(targets, [0.25, 0.4])
    reached = steps_to_target(steps, targets)
    assert not reached["steps_to_target"].eq(0).any()  # no target is met at step 0
    with pytest.raises(ValueError, match="not above the start"):
        relative_targets(steps.assign(**{"eval/accuracy": 0.1}), [0.5])
    with pytest.raises(ValueError, match="step-0"):
        relative_targets(steps[steps["step"] > 0], [0.5])
    with pytest.raises(ValueError, match="fraction"):
        relative_targets(steps, [0.0])


def test_speedup_report_per_rollout_and_as_a_fraction_of_the_oracle():
    # Random crosses 0.5 at step 4, insight at 2, the oracle at 1 (rollouts 10 per step,
    # except insight's 20): insight is 2x faster per step, 1x per rollout, half the oracle
    def run(rule, seed, cross, rollouts):
        values = [0.0] * cross + [1.0] * (6 - cross)
        return _run(rule, seed, values, rollouts=rollouts)

    steps = pd.concat(
        [run("random", s, 4, 10) for s in range(3)]
        + [run("insight", s, 2, 20) for s in range(3)]
        + [run("oracle", s, 1, 10) for s in range(3)]
    )
    # interpolated crossings of 0.5: 3.5, 1.5, 0.5 steps
    report = speedup_report(steps, [0.5]).set_index("rule")
    assert report.loc["insight", "speedup"] == pytest.approx(3.5 / 1.5)
    assert report.loc["insight", "rollout_speedup"] == pytest.approx(35 / 30)
    assert report.loc["insight", "oracle_fraction"] == pytest.approx(0.5 / 1.5)
    assert report.loc["oracle", "oracle_fraction"] == pytest.approx(1.0)
    no_oracle = speedup_report(steps[steps["rule"] != "oracle"], [0.5])
    assert "oracle_fraction" not in no_oracle.columns


def test_one_shared_seed_is_not_a_pairing():
    # a single shared seed cannot be resampled as pairs: the means are compared
    table = pd.concat([_stt({"random": [4, 6]}), _stt({"fast": [2, 4]}, [1, 7])])
    row = bootstrap_speedups(table, n_boot=300).set_index("rule").loc["fast"]
    assert not row.paired and row.n_seeds == 2 and row.speedup == pytest.approx(5.0 / 3.0)


def test_auc_gain_is_paired_on_the_seeds_both_ran():
    # the baseline's seed 2 (AUC 0.9) has no partner: the gain is over seeds 0 and 1
    steps = pd.concat(
        [
            _run("random", 0, [0.3, 0.3]),
            _run("random", 1, [0.5, 0.5]),
            _run("random", 2, [0.9, 0.9]),
            _run("insight", 0, [0.4, 0.4]),
            _run("insight", 1, [0.7, 0.7]),
        ]
    )
    row = auc_table(steps, n_boot=500, rng=0).set_index("rule").loc["insight"]
    assert row.paired and row.auc_gain == pytest.approx(0.15)
    assert row.gain_ci_low == pytest.approx(0.1) and row.gain_ci_high == pytest.approx(0.2)
