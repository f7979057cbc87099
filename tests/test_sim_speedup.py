"""Steps-to-target, bootstrap speed-ups and the hierarchical censored PyMC model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from simulations.speedup import bootstrap_speedups, steps_to_target, summary_table


def _steps(curves: dict[tuple[str, int], list[float]]) -> pd.DataFrame:
    rows = []
    for (rule, seed), accs in curves.items():
        for step, acc in enumerate(accs):
            rows.append(
                {
                    "scenario": "s@v1",
                    "rule": rule,
                    "seed": seed,
                    "step": step,
                    "eval/accuracy": acc,
                    "informative_share": 0.5,
                    "rollouts": 16 * (step > 0) * (2 if rule == "ds" else 1),
                }
            )
    return pd.DataFrame(rows)


def test_steps_to_target_first_crossing_and_censoring():
    steps = _steps(
        {
            ("random", 0): [0.1, 0.3, 0.5, 0.4, 0.6],
            ("insight", 0): [0.1, 0.5, 0.6, 0.7, 0.8],
            ("mi", 0): [0.1, 0.2, 0.2, 0.3, 0.4],
        }
    )
    stt = steps_to_target(steps, 0.5).set_index("rule")
    assert stt.loc["random", "steps_to_target"] == 2  # first crossing, not the last
    assert stt.loc["insight", "steps_to_target"] == 1
    assert bool(stt.loc["mi", "censored"]) and stt.loc["mi", "steps_to_target"] == 4
    assert not stt.loc["random", "censored"]
    # rollouts spent up to the crossing step (16 per training step, none at step 0)
    assert stt.loc["random", "rollouts_to_target"] == 32
    assert stt.loc["mi", "rollouts_to_target"] == 64


def test_rollout_speedup_charges_extra_rollouts():
    # "ds" reaches the target in half the steps but spends twice the rollouts per step
    steps = _steps({("random", 0): [0.1, 0.2, 0.3, 0.6], ("ds", 0): [0.1, 0.2, 0.6, 0.7]})
    stt = steps_to_target(steps, 0.5)
    by_steps = bootstrap_speedups(stt, n_boot=100).set_index("rule")
    by_rollouts = bootstrap_speedups(stt, measure="rollouts_to_target", n_boot=100)
    assert by_steps.loc["ds", "speedup"] == pytest.approx(1.5)
    assert by_rollouts.set_index("rule").loc["ds", "speedup"] == pytest.approx(0.75)
    with pytest.raises(ValueError, match="measure"):
        bootstrap_speedups(stt, measure="wall")


def test_steps_to_target_ignores_unevaluated_steps_and_checks_columns():
    steps = _steps({("random", 0): [0.1, np.nan, 0.9]})
    assert steps_to_target(steps, 0.5)["steps_to_target"].item() == 2
    with pytest.raises(ValueError, match="lacks column"):
        steps_to_target(steps.drop(columns="seed"), 0.5)


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
    assert sp.loc["random", "speedup"] == 1.0
    assert bool(sp.loc["fast", "paired"])
    # by hand: ratio of mean steps
    t = stt.pivot(index="seed", columns="rule", values="steps_to_target")
    assert sp.loc["fast", "speedup"] == pytest.approx(t["random"].mean() / t["fast"].mean())


def test_bootstrap_refuses_a_missing_baseline():
    stt = _synthetic_stt({"a": 1.0}, 3, np.random.default_rng(0))
    with pytest.raises(ValueError, match="baseline rule 'random'"):
        bootstrap_speedups(stt)


def test_summary_table_joins_speedups():
    steps = _steps({("random", 0): [0.1, 0.5, 0.6], ("insight", 0): [0.1, 0.6, 0.7]})
    stt = steps_to_target(steps, 0.5)
    table = summary_table(steps, bootstrap_speedups(stt, n_boot=100, rng=0))
    assert list(table["rule"]) == ["insight", "random"]  # sorted by speed-up
    row = table.set_index("rule").loc["insight"]
    assert row["final_accuracy"] == pytest.approx(0.7)
    assert row["rollouts_per_step"] == 16
    assert row["mean_cost"] == 1.0


def test_pymc_model_recovers_a_known_speedup_with_censoring():
    from insight_bayes.models.speedup import fit_speedup

    rng = np.random.default_rng(3)
    # the slow rule (median 83 steps) is often censored at the horizon of 78
    stt = _synthetic_stt({"random": 1.0, "fast": 2.0, "slow": 0.6}, 8, rng, horizon=78.0)
    assert stt["censored"].sum() >= 3
    fit = fit_speedup(stt, draws=800, tune=800, chains=2, random_seed=1)
    s = fit.summary.set_index("rule")
    assert s.loc["fast", "hdi_low"] < 2.0 < s.loc["fast", "hdi_high"]
    assert s.loc["fast", "hdi_low"] > 1.3
    assert s.loc["slow", "hdi_low"] < 0.6 < s.loc["slow", "hdi_high"]
    assert s.loc["slow", "hdi_high"] < 1.0
    assert "speedup" in fit.idata.posterior and fit.idata.posterior["speedup"].dims[-1] == "rule"
    assert set(fit.diagnostics) >= {"max_rhat", "min_ess_bulk", "divergences", "problems"}
    assert fit.converged == (not fit.diagnostics["problems"])


def test_pymc_convergence_failure_raises_or_warns():
    from insight_bayes.models.speedup import (
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
