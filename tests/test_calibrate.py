"""Calibrating the simulator on a harness study's Random runs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from insight_bayes_cli import main
from simulations.calibrate import calibrated_scenario, fit_knobs, random_curves
from simulations.harness_record import (
    EmpiricalLearningConfig,
    HarnessRecord,
    fit_tier_priors,
    harness_record,
)

ROOT = Path(__file__).resolve().parents[1]
TIERED = ROOT / "results" / "rlvr-cpu-tiered"


def test_tier_priors_recover_a_known_beta_from_beta_binomial_counts():
    rng = np.random.default_rng(0)
    n_prompts, n = 4000, 16
    tiers = np.repeat([0, 1], n_prompts // 2)
    a_true, b_true = np.where(tiers == 0, 2.0, 0.5), np.where(tiers == 0, 3.0, 4.0)
    s = rng.binomial(n, rng.beta(a_true, b_true))
    priors = fit_tier_priors(s, np.full(s.size, n), tiers)
    for tier, (a, b) in ((0, (2.0, 3.0)), (1, (0.5, 4.0))):
        fa, fb = priors[tier]
        assert fa / (fa + fb) == pytest.approx(a / (a + b), abs=0.02)
        assert fa + fb == pytest.approx(a + b, rel=0.25)


def test_an_all_zero_tier_gets_a_prior_near_zero():
    s = np.array([0] * 50 + [3, 5, 8, 2] * 10)
    tiers = np.array([1] * 50 + [0] * 40)
    priors = fit_tier_priors(s, np.full(s.size, 16), tiers)
    a, b = priors[1]
    assert a / (a + b) < 1e-3
    with pytest.raises(ValueError, match="successes <= trials"):
        fit_tier_priors([17], [16], [0])


def _record(n=96, steps=40) -> HarnessRecord:
    rng = np.random.default_rng(1)
    tiers = np.repeat([0, 1, 2], n // 3)
    rate = np.array([0.6, 0.3, 0.02])[tiers]
    s = rng.binomial(16, rate).astype(float)
    edges = np.arange(1, steps + 2, 10, dtype=float)
    return HarnessRecord(
        name="synthetic", successes=s, trials=np.full(n, 16.0), tiers=tiers, tier_labels=(1, 2, 3),
        m=12, k=8, steps=steps, candidate_ratio=4.0,
        eval_steps=np.array([5, 10, 20, 30, 40]), heldout_gain=np.zeros(5),
        heldout_se=np.full(5, 0.004), train_bins=edges, train_success=np.zeros(edges.size - 1),
        train_se=np.full(edges.size - 1, 0.004), n_seeds=8, rules=("random", "insight"),
    )  # fmt: skip


def test_the_empirical_pool_starts_from_the_posterior_of_each_prompt():
    record = _record()
    scenario = calibrated_scenario(record, {})
    env = scenario.build_env(0)
    np.testing.assert_array_equal(env.groups, record.tiers)
    # the hopeless tier starts near 0, the easy tier near its counts' posterior mean
    draws = np.stack([scenario.build_env(seed).rates for seed in range(30)])
    easy = record.tiers == 0
    post = (record.successes[easy] + 1) / (record.trials[easy] + 2)
    assert abs(draws[:, easy].mean() - post.mean()) < 0.05
    assert draws[:, record.tiers == 2].mean() < 0.05
    with pytest.raises(ValueError, match="start_groups needs pool_size"):
        EmpiricalLearningConfig(
            pool_size=3, n_groups=1, start_successes=(1, 2, 3), start_trials=(4, 4, 4),
            start_groups=(0,), tier_priors=((1.0, 1.0),),
        )  # fmt: skip
    with pytest.raises(ValueError, match="unknown knobs"):
        calibrated_scenario(record, {"temperature": 1.0})


def test_the_fit_recovers_known_knobs_from_simulated_trajectories():
    """Simulate Random under known knobs (seeds 100-123), fit on other seeds (0-3)."""
    base = _record()
    truth = {"learning_rate": 0.03, "memorization_rate": 1.5, "transfer": 0.2, "forgetting": 0.0}
    gain, train = random_curves(calibrated_scenario(base, truth), base, range(100, 124))
    record = HarnessRecord(**{**base.__dict__, "heldout_gain": gain, "train_success": train})
    fit = fit_knobs(
        record,
        free=("learning_rate", "memorization_rate"),
        fixed={"transfer": 0.2, "forgetting": 0.0},
        start={"learning_rate": 0.01, "memorization_rate": 0.3},
        seeds=4,
        max_evaluations=60,
    )
    assert fit.loss < fit.start_loss / 5
    assert fit.knobs["learning_rate"] == pytest.approx(0.03, rel=0.3)
    assert fit.knobs["memorization_rate"] == pytest.approx(1.5, rel=0.4)


@pytest.mark.skipif(not (TIERED / "pool.parquet").exists(), reason="committed study absent")
def test_harness_record_reads_randoms_curves_from_a_study_folder():
    record = harness_record(TIERED)
    steps = pd.read_parquet(TIERED / "steps.parquet")
    random = steps[steps["rule"] == "random"]
    last = random[random["step"] == 150]["eval/pass1_exact"].mean()
    first = random[random["step"] == 0]["eval/pass1_exact"].mean()
    assert record.heldout_gain[-1] == pytest.approx(last - first, abs=1e-12)
    assert record.n_seeds == random["seed"].nunique() and record.tier_labels[0] == 1.0
    assert record.rules[0] in set(steps["rule"]) and record.m == 32


@pytest.mark.skipif(not (TIERED / "pool.parquet").exists(), reason="committed study absent")
def test_sim_vs_harness_cli_writes_predictions_and_agreement(tmp_path, capsys):
    out = tmp_path / "svh"
    argv = ["sim-vs-harness", str(TIERED), "--out", str(out), "--seeds", "2", "--rules",
            "random,insight,mopps", "--fit-seeds", "1", "--fit-evaluations", "3",
            "--depletion", "none", "--settings", "2", "--boot", "40", "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    predictions = pd.read_csv(out / "predictions.csv")
    assert list(predictions.columns) == [
        "study", "rule", "fraction", "predicted", "predicted_low", "predicted_high",
        "realised", "realised_low", "realised_high",
    ]  # fmt: skip
    assert set(predictions["rule"]) == {"insight", "mopps"}
    assert set(predictions["fraction"]) == {0.25, 0.5, 0.75, 1.0}
    assert (predictions["predicted_low"] <= predictions["predicted"]).all()
    assert predictions["realised"].notna().all()
    assert json.loads((out / "manifest.json").read_text())["kind"] == "sim-vs-harness"
    assert {"male", "coverage", "spearman_at_1"} <= set(pd.read_csv(out / "scores.csv").columns)
    assert "scores" in capsys.readouterr().out
    # a second run reuses the fitted structure
    assert main(argv) == 0
    assert "structure reused" in capsys.readouterr().out
