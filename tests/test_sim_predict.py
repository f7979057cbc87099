"""The measured learner's structure, its calibration on Random, prediction and advice."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from insight_bayes.results.targets import steps_to_target
from insight_bayes_cli import main
from simulations.environments import LearningPool
from simulations.environments.learner_tables import grpo_logit_gradient
from simulations.predict import _steps_to, pseudo_studies
from simulations.predict_scores import scores
from simulations.random_study import write_random_study
from simulations.structure import learner_settings, memorization_rate, mixed_signal
from simulations.study_calibration import calibrate
from simulations.study_data import depletion_grid, lr_grid, read_study

GRADIENTS = Path(__file__).resolve().parents[1] / "results" / "rlvr-gradients"

#: A small structure of the fitted form (values of the measured order, not fitted here).
STRUCTURE = {
    "reference_k": 8,
    "group_energy": [[0.1, 40.0], [0.45, 28.0], [0.9, 20.0]],
    "energy_k_exponent": 0.6,
    "update_noise": [[0.1, 0.1], [0.45, 0.4], [0.9, 4.0]],
    "noise_k_exponent": 0.6,
    "signal_weight": [[0.1, 1.5], [0.45, 1.0], [0.9, 0.3]],
    "transfer": 1.0,
    "memorization_logit_ratio": 30.0,
    "coherence": 0.0,
}


def test_mixed_signal_matches_the_simulators_gradient_by_monte_carlo():
    rng = np.random.default_rng(0)
    for p in (0.1, 0.5, 0.8):
        correct = rng.random((40_000, 8)) < p
        mixed = correct.any(axis=1) & ~correct.all(axis=1)
        rewards = correct.astype(float)
        g = grpo_logit_gradient(rewards, correct, np.full(40_000, p))[mixed]
        assert mixed_signal(np.array([p]), 8)[0] == pytest.approx(g.mean(), rel=0.01)


def test_memorization_rate_reproduces_the_measured_own_to_heldout_ratio():
    """One shared-optimiser step on one mixed prompt: its own logit moves R times the
    mean of the skill groups' (the held-out prompts') logit step."""
    for tau, groups in ((1.0, 4), (0.6, 3)):
        structure = STRUCTURE | {"transfer": tau}
        cfg = learner_settings(structure, groups) | {"signal_weight": (), "update_noise": ()}
        from simulations.environments import LearningConfig

        env = LearningPool(LearningConfig(pool_size=50, n_groups=groups, **cfg), 3)
        rewards = np.zeros((1, 8))
        rewards[0, :3] = 1.0
        from insight_bayes.rewards import Rollout

        ids = np.array([7])
        ability0, offset0 = env.ability.copy(), env.offset.copy()
        env.learn(ids, Rollout(rewards, rewards.astype(bool)), np.random.default_rng(0))
        own = env.ability[env.groups[7]] - ability0[env.groups[7]] + env.offset[7] - offset0[7]
        mean_step = float(np.mean(env.ability - ability0))
        assert own / mean_step == pytest.approx(30.0, rel=1e-6)
        assert memorization_rate(structure, groups) > 0


def test_steps_to_matches_the_harness_crossing():
    rng = np.random.default_rng(1)
    acc = np.cumsum(rng.normal(0.01, 0.02, 40))
    acc[0] = 0.0
    targets = np.array([0.05, 0.1, 0.2, 5.0, -1.0])
    steps = pd.DataFrame({"rule": "r", "seed": 0, "step": np.arange(40), "eval/accuracy": acc})
    reference = steps_to_target(steps, list(targets)).sort_values("target")
    got = _steps_to(acc, np.arange(40.0), targets)
    expected = dict(zip(reference["target"], reference["steps_to_target"], strict=True))
    np.testing.assert_allclose(got, [expected[t] for t in targets])


def _runs(slopes, seeds=6, steps=20, noise=0.0, seed=0):
    rng = np.random.default_rng(seed)
    runs = {}
    for rule, slope in slopes.items():
        for s in range(seeds):
            acc = 0.1 + slope * np.arange(steps + 1) + noise * rng.standard_normal(steps + 1)
            acc[0] = 0.1
            runs[(rule, 0, 0, s)] = {"accuracy": acc, "rollouts": np.arange(steps + 1) * 8.0}
    return runs


def test_pseudo_studies_recover_a_known_speedup_and_widen_with_run_noise():
    runs = _runs({"random": 0.01, "fast": 0.02})
    quiet = pseudo_studies(runs, ["fast"], 1, 1, 6, 4, (0.5, 1.0), n_boot=200)["fast"]
    np.testing.assert_allclose(quiet, 2.0, rtol=1e-9)  # straight lines: exactly twice as fast
    noisy = pseudo_studies(runs, ["fast"], 1, 1, 6, 4, (0.5, 1.0), n_boot=300,
                           noise=(1e-5, 1e-5))["fast"]  # fmt: skip
    assert np.std(np.log(noisy[:, 0])) > 0.05
    assert 1.5 < np.exp(np.median(np.log(noisy[:, 1]))) < 2.6


def test_scores_compute_the_three_numbers_by_hand():
    table = pd.DataFrame({
        "study": ["a", "a", "a", "a"], "rule": ["x", "y", "z", "x"],
        "fraction": [1.0, 1.0, 1.0, 0.5],
        "predicted": [1.0, 2.0, 3.0, 1.0], "predicted_low": [0.5, 1.5, 3.5, 0.9],
        "predicted_high": [1.5, 2.5, 4.0, 1.1], "realised": [1.0, 3.0, 2.0, np.e],
        "realised_low": 0.0, "realised_high": 9.0,
    })  # fmt: skip
    row = scores(table).query("scope == 'all' and study == 'all'").iloc[0]
    assert row["male"] == pytest.approx((0 + np.log(1.5) + np.log(1.5) + 1.0) / 4)
    assert row["coverage"] == pytest.approx(1 / 4)
    assert row["spearman_at_1"] == pytest.approx(0.5)


def test_grids_parse_and_refuse():
    assert depletion_grid("0.5, none") == (0.5, None)
    assert len(lr_grid(5)) == 5 and lr_grid(1)[0] == pytest.approx(np.sqrt(3e-3 * 3.0))
    with pytest.raises(ValueError):
        depletion_grid(" , ")


@pytest.fixture(scope="module")
def smoke_study(tmp_path_factory):
    """A Random-only study folder simulated at a known learning rate (no depletion)."""
    folder = tmp_path_factory.mktemp("smoke") / "random-only"
    write_random_study(folder, STRUCTURE, learning_rate=0.08, transfer_depletion=None,
                       pool_size=96, tiers=3, m=8, k=8, steps=40, seeds=4)  # fmt: skip
    return folder


def test_calibration_recovers_the_known_learning_rate_from_random_alone(smoke_study):
    study = read_study(smoke_study)
    assert study.rules == ("random",) and study.n_seeds == 4 and study.warmup_steps == 2
    grid = lr_grid(9, 0.01, 0.64)  # factor 1.68 apart; 0.0797 is the point nearest 0.08
    fit = calibrate(study, STRUCTURE, grid=grid, depletion=(None,), fit_seeds=3, noise_seeds=3)
    assert fit.best[0] == pytest.approx(0.08, rel=0.05)  # the grid point at the truth
    assert fit.weight.sum() == pytest.approx(1.0)
    assert set(fit.curves["curve"]) == {"heldout_gain", "train_success", "grad_norm_mean"}


def test_advise_on_a_random_only_study_prints_curves_and_a_recommendation(
    smoke_study, tmp_path, capsys
):
    structure = tmp_path / "structure.json"
    structure.write_text(json.dumps(STRUCTURE))
    out = tmp_path / "advice"
    argv = ["advise", str(smoke_study), "--structure", str(structure), "--rules",
            "insight:mu=0.3,insight:mu=0.5,expected-difficulty", "--seeds", "3",
            "--fit-seeds", "1", "--fit-evaluations", "5", "--depletion", "1,none",
            "--settings", "2", "--boot", "60", "--out", str(out), "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "recommended:" in text and "insight:mu=0.5" in text
    table = pd.read_csv(out / "advice.csv")
    assert set(table["rule"]) == {"insight:mu=0.3", "insight:mu=0.5", "expected-difficulty"}
    assert (table["predicted_low"] <= table["predicted"]).all()
    assert (table["predicted"] <= table["predicted_high"]).all()
    advice = json.loads((out / "advice.json").read_text())["recommendation"]
    best = table[table["fraction"] == 1.0].sort_values("predicted").iloc[-1]
    assert advice["rule"] in (best["rule"], "random")


def test_advice_rules_are_the_registered_pre_rollout_rules():
    from simulations.advise import MU_GRID, advice_rules

    rules = advice_rules()
    assert rules[0] == "random"
    assert "dynamic-sampling" not in rules and "oracle" not in rules
    assert {f"insight:mu={m:g}" for m in MU_GRID} <= set(rules)
    assert "mopps" in rules


@pytest.mark.skipif(not (GRADIENTS / "groups.parquet").exists(), reason="measurements absent")
def test_structure_tables_come_from_the_measurements():
    from simulations.structure import fit_structure

    s = fit_structure(GRADIENTS, None, ())
    groups = pd.read_parquet(GRADIENTS / "groups.parquet")
    mixed = groups[(groups["checkpoint"] > 0) & groups["mixed"] & (groups["k"] == 8)]
    band = mixed[(mixed["p_hat"] > 0.35) & (mixed["p_hat"] <= 0.6)]
    rates = [r for r, _ in s["group_energy"]]
    i = int(np.argmin(np.abs(np.array(rates) - band["p_hat"].median())))
    assert s["group_energy"][i][1] == pytest.approx((band["grad_norm"] ** 2).mean())
    assert 0.0 <= s["transfer"] <= 1.0 and s["memorization_logit_ratio"] > 1.0
    assert s["coherence"] == 0.0  # no studies given
