"""Tests of the simulated environments: verifier, stationary pool, learning pool."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy.special import expit

from insight_bayes import BetaBelief, Environment, LoopConfig, SelectionLoop
from insight_bayes.rewards import Rollout
from simulations.environments import (
    LearningConfig,
    LearningPool,
    PoolComposition,
    StationaryConfig,
    StationaryPool,
    Verifier,
    grpo_logit_gradient,
    observed_rate,
)

# ------------------------------------------------------------------ verifier


def test_clean_verifier_is_identity_and_draws_nothing():
    correct = np.array([[True, False, True]])
    rng = np.random.default_rng(0)
    state = rng.bit_generator.state
    out = Verifier().rewards(correct, rng)
    np.testing.assert_array_equal(out, [[1.0, 0.0, 1.0]])
    assert rng.bit_generator.state == state


def test_flip_rate_matches_epsilon_and_observed_rate():
    rng = np.random.default_rng(1)
    correct = rng.random((400, 100)) < 0.3
    out = Verifier(flip_prob=0.2).rewards(correct, rng)
    flipped = (out == 1.0) != correct
    assert abs(flipped.mean() - 0.2) < 0.005
    # observed success rate: 0.3 * 0.8 + 0.7 * 0.2 = 0.38
    assert abs(out.mean() - 0.38) < 0.005
    assert observed_rate(0.3, 0.2) == pytest.approx(0.38)


def test_graded_rewards_take_countdown_values():
    rng = np.random.default_rng(2)
    correct = rng.random((300, 50)) < 0.4
    out = Verifier(graded=True, format_rate=0.5).rewards(correct, rng)
    assert set(np.unique(out)) == {0.0, 0.1, 1.0}
    np.testing.assert_array_equal(out == 1.0, correct)
    wrong = out[~correct]
    assert abs((wrong == 0.1).mean() - 0.5) < 0.01


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"flip_prob": 0.5}, "flip_prob"),
        ({"flip_prob": -0.1}, "flip_prob"),
        ({"format_reward": 1.0}, "format_reward"),
        ({"format_rate": 1.5}, "format_rate"),
    ],
)
def test_verifier_refuses_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Verifier(**kwargs)


# ---------------------------------------------------------------- stationary


def test_pool_composition_shares():
    comp = PoolComposition(unsolvable_share=0.3, solved_share=0.2, edge=0.01)
    rates = comp.sample(50_000, 3)
    assert abs((rates <= 0.01).mean() - 0.3) < 0.01
    assert abs((rates >= 0.99).mean() - 0.2) < 0.01
    assert np.all((rates > 0) & (rates < 1))


def test_pool_composition_refuses_shares_above_one():
    with pytest.raises(ValueError, match="unsolvable_share \\+ solved_share"):
        PoolComposition(unsolvable_share=0.7, solved_share=0.4)


def test_stationary_rollouts_follow_rates_and_never_learn():
    env = StationaryPool(np.array([0.0, 0.25, 1.0]))
    assert isinstance(env, Environment)
    rng = np.random.default_rng(4)
    ids = np.array([0, 1, 2])
    r = env.rollout(ids, 20_000, rng)
    np.testing.assert_allclose(r.rewards.mean(axis=1), [0.0, 0.25, 1.0], atol=0.01)
    np.testing.assert_array_equal(r.correct, r.rewards == 1.0)  # clean verifier
    before = env.evaluate(rng)
    metrics = env.learn(ids, r, rng)
    assert env.evaluate(rng) == before
    # 1 - 0.25^K - 0.75^K with K = 20000 is 1; the 0 and 1 prompts never are informative
    assert metrics["train/expected_informative"] == pytest.approx(1 / 3)


def test_stationary_diagnostics_calibration():
    rates = np.array([0.2, 0.8])
    env = StationaryPool(rates)
    belief = BetaBelief(2)
    belief.update([0, 1], [200, 800], [1000, 1000])
    d = env.diagnostics(belief, np.array([0, 1]), _clean(np.zeros((2, 8))))
    # means are 201/1002 and 801/1002
    assert d["belief/mae_chosen"] == pytest.approx(
        (abs(201 / 1002 - 0.2) + abs(801 / 1002 - 0.8)) / 2
    )
    assert d["belief/coverage_chosen"] == 1.0
    far = BetaBelief(2)
    far.update([0, 1], [900, 100], [1000, 1000])
    far_d = env.diagnostics(far, np.array([0, 1]), _clean(np.zeros((2, 8))))
    assert far_d["belief/coverage_chosen"] == 0.0


def test_stationary_beliefs_converge_in_the_loop():
    env = StationaryConfig(pool_size=40).build(5)
    loop = SelectionLoop(env, "random", LoopConfig(m=40, k=8, steps=60, eval_every=0), seed=1)
    records = loop.run(progress=False)
    assert records[-1].metrics["belief/mae_pool"] < 0.05
    assert records[0].metrics["belief/mae_pool"] > records[-1].metrics["belief/mae_pool"]


# ------------------------------------------------------------------ learning


def test_grpo_gradient_is_reward_std_for_clean_binary_rewards():
    rng = np.random.default_rng(6)
    correct = rng.random((50, 8)) < 0.4
    rewards = correct.astype(float)
    rates = rng.random(50)
    g = grpo_logit_gradient(rewards, correct, rates, eps=0.0 + 1e-12)
    informative = rewards.std(axis=1) > 0
    # sum_k A_k (c_k - p) = sum_k A_k c_k = K var / std  ->  mean over K gives std
    np.testing.assert_allclose(g[informative], rewards.std(axis=1)[informative], rtol=1e-9)
    np.testing.assert_array_equal(g[~informative], 0.0)


def test_format_only_variation_teaches_nothing():
    correct = np.zeros((1, 8), dtype=bool)
    rewards = np.array([[0.1, 0, 0.1, 0, 0, 0.1, 0, 0]])
    assert grpo_logit_gradient(rewards, correct, np.array([0.3]))[0] == pytest.approx(0.0)


def _clean(rewards):
    """A Rollout whose correctness is what the (clean) rewards say."""
    rewards = np.asarray(rewards, dtype=float)
    return Rollout(rewards, rewards >= 1.0)


def _small_learning(**kw):
    cfg = LearningConfig(pool_size=200, heldout_size=100, n_groups=2, **kw)
    return LearningPool(cfg, 7)


def test_all_equal_groups_leave_the_learner_unchanged():
    env = _small_learning(memorization_rate=1.0)
    rng = np.random.default_rng(8)
    ids = np.arange(20)
    before = (env.ability.copy(), env.offset.copy(), env.evaluate(rng))
    for value in (0.0, 1.0):
        env.learn(ids, _clean(np.full((20, 8), value)), rng)
    np.testing.assert_array_equal(env.ability, before[0])
    np.testing.assert_array_equal(env.offset, before[1])
    assert env.evaluate(rng) == before[2]


def test_informative_groups_raise_their_skill_group_and_held_out_accuracy():
    env = _small_learning(transfer=0.0, memorization_rate=0.0)
    rng = np.random.default_rng(9)
    ids = np.flatnonzero(env.groups == 0)[:10]
    acc0 = env.evaluate(rng)["eval/accuracy"]
    rewards = env.rollout(ids, 8, rng).rewards.copy()
    rewards[:, 0], rewards[:, 1] = 1.0, 0.0  # make every group informative
    env.learn(ids, _clean(rewards), rng)
    assert env.ability[0] > 0 and env.ability[1] == 0.0
    assert env.evaluate(rng)["eval/accuracy"] > acc0
    # the held-out rates follow sigmoid(theta_g - d) exactly
    np.testing.assert_allclose(
        env.heldout_rates,
        expit(env.ability[env.heldout_groups] - env.heldout_difficulty),
    )


def test_transfer_spreads_the_update_and_forgetting_decays_it():
    env = _small_learning(transfer=0.5, memorization_rate=0.0)
    rng = np.random.default_rng(10)
    ids = np.flatnonzero(env.groups == 0)[:10]
    env.learn(ids, _clean(np.tile([1.0, 0.0], (10, 4))), rng)
    # step = 0.5 * g + 0.5 * mean(g) over 2 groups: group 1 gets a third of group 0's gain
    assert env.ability[1] == pytest.approx(env.ability[0] / 3)
    forgetful = _small_learning(forgetting=0.5)
    forgetful.ability[:] = 2.0
    forgetful.learn(ids, _clean(np.zeros((10, 8))), rng)
    np.testing.assert_allclose(forgetful.ability, 1.0)


def test_memorisation_moves_only_trained_prompts_and_never_held_out():
    env = _small_learning(memorization_rate=1.0, learning_rate=1e-9)
    rng = np.random.default_rng(11)
    ids = np.array([3, 5])
    acc0 = env.evaluate(rng)["eval/accuracy"]
    env.learn(ids, _clean(np.tile([1.0, 0.0], (2, 4))), rng)
    moved = np.flatnonzero(env.offset)
    np.testing.assert_array_equal(moved, ids)
    assert env.evaluate(rng)["eval/accuracy"] == pytest.approx(acc0, abs=1e-8)


def test_noisy_rollouts_carry_true_correctness():
    env = _small_learning(verifier=Verifier(flip_prob=0.3))
    out = env.rollout(np.arange(30), 8, np.random.default_rng(12))
    flipped = out.correct != (out.rewards == 1.0)
    assert 0.2 < flipped.mean() < 0.4  # about flip_prob of the rewards disagree


@pytest.mark.parametrize(("correct", "expected"), [([True, False], 0.5), ([False, True], -0.5)])
def test_learning_uses_the_rollouts_true_correctness(correct, expected):
    # One group, K = 2, rewards [1, 0]: mean 0.5, population std 0.5, advantages
    # +-0.5 / (0.5 + eps) = +-1, so the score-function gradient
    # (1/2) sum_k A_k (c_k - phi) = (c_1 - c_2) / 2 is +0.5 when the rewards tell the
    # truth and -0.5 when both were flipped (c = [0, 1]), whatever phi is.
    env = _small_learning(transfer=0.0, memorization_rate=0.0, learning_rate=1.0)
    group = env.groups[0]
    env.learn(np.array([0]), Rollout(np.array([[1.0, 0.0]]), np.array([correct])), None)
    assert env.ability[group] == pytest.approx(expected, rel=1e-5)
    assert np.all(np.delete(env.ability, group) == 0.0)


def test_learning_pool_in_the_loop_improves_and_is_reproducible():
    cfg = LearningConfig(pool_size=300, heldout_size=100, n_groups=3)
    lc = LoopConfig(m=32, k=8, steps=15, eval_every=5)
    runs = []
    for _ in range(2):
        loop = SelectionLoop(LearningPool(cfg, 1), "insight", lc, seed=3)
        runs.append([r.metrics.get("eval/accuracy") for r in loop.run(progress=False)])
    assert runs[0] == runs[1]
    accs = [a for a in runs[0] if a is not None]
    assert accs[-1] > accs[0]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"transfer": 1.5}, "transfer"),
        ({"forgetting": 1.0}, "forgetting"),
        ({"n_groups": 0}, "n_groups"),
    ],
)
def test_learning_config_refuses_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LearningConfig(**kwargs)


def test_learn_refuses_a_mismatched_or_bare_rollout():
    env = _small_learning()
    with pytest.raises(ValueError, match="Rollout of the 3 chosen prompts"):
        env.learn(np.arange(3), _clean(np.zeros((4, 8))), np.random.default_rng(0))
    with pytest.raises(ValueError, match="Rollout of the 3 chosen prompts"):
        env.learn(np.arange(3), np.zeros((3, 8)), np.random.default_rng(0))


def test_large_pools_calibrate_on_a_fixed_sample():
    cfg = LearningConfig(pool_size=500, heldout_size=50, calibration_sample=100)
    env = LearningPool(cfg, 13)
    assert env.calibration_ids.size == 100 and np.unique(env.calibration_ids).size == 100
    belief = BetaBelief(500)
    rng = np.random.default_rng(14)
    belief.update(np.arange(500), rng.integers(0, 9, 500).astype(float), np.full(500, 8.0))
    ids = np.array([1, 2, 3])
    d = env.diagnostics(belief, ids, np.zeros((3, 8)))
    sub = env.calibration_ids
    by_hand = np.abs(belief.mean[sub] - env.rates[sub]).mean()
    assert d["belief/mae_pool"] == pytest.approx(by_hand)
    assert d["belief/mae_chosen"] == pytest.approx(np.abs(belief.mean[ids] - env.rates[ids]).mean())
    whole = LearningPool(LearningConfig(pool_size=500, heldout_size=50), 13)
    assert whole.calibration_ids is None


# ------------------------------------------------- learner, saturation, sampling
def test_adam_learner_takes_a_unit_step_whatever_the_gradient_scale():
    # first Adam step: m_hat / sqrt(v_hat) = g / |g| = 1 for any g != 0 (bias-corrected)
    steps = []
    for reward_gap in (1.0, 0.1):
        env = _small_learning(learner="adam", learning_rate=0.05, transfer=0.0)
        group = env.groups[0]
        rewards = np.array([[reward_gap, 0.0]])
        correct = np.array([[True, False]])
        env.learn(np.array([0]), Rollout(rewards, correct), None)
        steps.append(env.ability[group])
    np.testing.assert_allclose(steps, 0.05, rtol=1e-6)


def test_adam_step_is_invariant_to_the_learning_signal_size():
    # two prompts of one group: one informative group gives g, both give ~2g on average;
    # the linear learner's step doubles, Adam's first step does not
    linear, adam = [], []
    for n_informative in (1, 2):
        rewards = np.array([[1.0, 0.0]] * n_informative + [[0.0, 0.0]] * (2 - n_informative))
        correct = rewards == 1.0
        for learner, out in (("linear", linear), ("adam", adam)):
            env = _small_learning(learner=learner, learning_rate=0.05, transfer=0.0)
            ids = np.flatnonzero(env.groups == env.groups[0])[:2]
            env.learn(ids, Rollout(rewards, correct), None)
            out.append(env.ability[env.groups[0]])
    assert linear[1] == pytest.approx(2 * linear[0])
    assert adam[1] == pytest.approx(adam[0])


def test_ability_cap_saturates_the_held_out_curve():
    env = _small_learning(ability_cap=1.0, learning_rate=50.0, transfer=1.0)
    rng = np.random.default_rng(3)
    for _ in range(50):
        ids = rng.choice(200, 20, replace=False)
        env.learn(ids, env.rollout(ids, 8, rng), rng)
    assert np.all(np.abs(env.expressed_ability) <= 1.0)
    ceiling = expit(1.0 - env.heldout_difficulty).mean()  # every group at the cap
    assert env.evaluate(rng)["eval/accuracy"] <= ceiling + 1e-12


def test_sampled_evaluation_is_noisy_unbiased_and_leaves_training_unchanged():
    cfg = LearningConfig(pool_size=300, heldout_size=128, n_groups=3)
    lc = LoopConfig(m=16, k=8, steps=6, eval_every=2)
    exact = SelectionLoop(LearningPool(cfg, 1), "insight", lc, seed=3).run(progress=False)
    sampled_cfg = dataclasses.replace(cfg, eval_samples=16)
    sampled = SelectionLoop(LearningPool(sampled_cfg, 1), "insight", lc, seed=3).run(progress=False)
    # the same rollouts and choices: evaluation has its own random stream
    np.testing.assert_array_equal(
        [r.train_reward for r in exact], [r.train_reward for r in sampled]
    )
    evaluated = [
        (e, s) for e, s in zip(exact, sampled, strict=True) if "eval/accuracy" in e.metrics
    ]
    assert len(evaluated) == 4  # steps 0, 2, 4, 6
    for e, s in evaluated:
        p = e.metrics["eval/accuracy"]
        assert s.metrics["eval/accuracy_exact"] == p
        # standard error of a mean of 128 x 16 Bernoulli draws is at most 0.5 / sqrt(2048)
        assert abs(s.metrics["eval/accuracy"] - p) < 4 * 0.5 / np.sqrt(128 * 16)
    assert any(
        s.metrics["eval/accuracy"] != e.metrics["eval/accuracy"]
        for e, s in zip(exact, sampled, strict=True)
    )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"learner": "sgd"}, "learner"), ({"ability_cap": 0.0}, "ability_cap"),
     ({"eval_samples": -1}, "eval_samples"), ({"adam_beta1": 1.0}, "adam_beta1")],
)  # fmt: skip
def test_learning_config_refuses_bad_learner_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LearningConfig(**kwargs)


# ------------------------------------------------- the measured learner
_LIMIT = {"warmup_steps": 0, "memorize_through_optimizer": False}
_ENERGY = ((0.1, 40.0), (0.5, 28.0), (0.9, 20.0))


def _trajectory(steps=12, **kw):
    """Abilities and offsets after ``steps`` random-batch steps (fixed streams)."""
    env = _small_learning(memorization_rate=0.7, transfer=0.3, forgetting=0.01, **kw)
    rng = np.random.default_rng(3)
    for _ in range(steps):
        ids = rng.choice(env.pool_size, 16, replace=False)
        env.learn(ids, env.rollout(ids, 8, rng), rng)
    return env.ability.copy(), env.offset.copy()


@pytest.mark.parametrize(("optimizer", "limit"), [("sgd", "linear"), ("adam", "adam")])
def test_measured_learner_reduces_to_its_limits(optimizer, limit):
    measured = _trajectory(learner="measured", measured_optimizer=optimizer, **_LIMIT)
    reference = _trajectory(learner=limit)
    np.testing.assert_allclose(measured[0], reference[0], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(measured[1], reference[1], rtol=1e-12, atol=1e-14)
    assert np.abs(reference[0]).max() > 0  # the comparison is not between two zeros


def test_measured_learner_differs_once_a_mechanism_is_on():
    reference = _trajectory(learner="adam")
    changes = (
        {"warmup_steps": 5},
        {"update_noise": ((0.1, 1.0), (0.9, 2.0))},
        {"signal_weight": ((0.1, 2.0), (0.9, 0.5))},
        {"measured_optimizer": "shared", "group_energy": _ENERGY},
    )
    for change in changes:
        got = _trajectory(learner="measured", **({"measured_optimizer": "adam"} | _LIMIT | change))
        assert not np.allclose(got[0], reference[0])


def test_measured_learner_refuses_shared_without_energy():
    with pytest.raises(ValueError, match="group_energy"):
        LearningConfig(learner="measured", measured_optimizer="shared")
    with pytest.raises(ValueError, match="increase"):
        LearningConfig(group_energy=((0.5, 1.0), (0.2, 1.0)))


def test_rate_table_interpolates_on_the_logit_and_scales_with_k():
    from simulations.environments.learner_tables import rate_table

    table = ((0.1, 4.0), (0.5, 1.0), (0.9, 9.0))
    got = rate_table(np.array([0.001, 0.1, 0.5, 0.9, 0.999]), table)
    np.testing.assert_allclose(got, [4.0, 4.0, 1.0, 9.0, 9.0])
    # logit(0.25) = -log(3) is half of logit(0.1) = -log(9): the geometric mean of 4 and 1
    np.testing.assert_allclose(rate_table(np.array([0.25]), table), [2.0])
    np.testing.assert_allclose(rate_table(np.array([0.5]), table, 16, 8, 1.0), [0.5])


def test_measured_noise_is_zero_mean_and_of_the_measured_size():
    """Over many replicate first steps from one state, the ability change keeps the
    noise-free mean and its spread grows with the table's ratio."""
    table = ((0.05, 4.0), (0.95, 4.0))
    spreads = {}
    for name, noise in (("none", ()), ("noisy", table)):
        kw = _LIMIT | {"update_noise": noise, "measured_optimizer": "sgd"}
        env0 = _small_learning(learner="measured", transfer=0.0, **kw)
        ids = np.arange(40)
        draws = []
        for rep in range(400):
            env = _small_learning(learner="measured", transfer=0.0, **kw)
            rng = np.random.default_rng(rep)
            env.learn(ids, env.rollout(ids, 8, rng), rng)
            draws.append(env.ability - env0.ability)
        spreads[name] = np.asarray(draws)
    se = spreads["noisy"].std(0) / np.sqrt(400)
    assert np.all(np.abs(spreads["noisy"].mean(0) - spreads["none"].mean(0)) < 4 * se)
    assert np.all(spreads["noisy"].std(0) > 1.5 * spreads["none"].std(0))


def _first_step(ids, energy, coherence=0.0):
    """Ability change of one shared-optimiser step on clean rollouts at rate 1/2."""
    kw = {"learner": "measured", "measured_optimizer": "shared", "group_energy": energy,
          "coherence": coherence, "transfer": 1.0, "memorization_rate": 0.0}  # fmt: skip
    env = _small_learning(**kw)
    env.difficulty[:] = 0.0  # every prompt at rate 1/2
    rewards = np.zeros((ids.size, 8))
    rewards[:, :4] = 1.0  # every group mixed, std(r) = 1/2
    before = env.ability.copy()
    env.learn(ids, _clean(rewards), np.random.default_rng(0))
    return float((env.ability - before).mean())


def test_shared_optimizer_steps_like_the_square_root_of_the_mixed_groups():
    """Incoherent energy (c2 = 0): signal sum n g / M over sqrt(n e) / M, first Adam step
    (bias-corrected moments equal the gradient), spread evenly over the G = 2 skill
    groups (transfer 1): step = lr n g / (G sqrt(n e))."""
    flat = ((0.1, 25.0), (0.9, 25.0))
    lr = LearningConfig().learning_rate
    for n in (4, 16):
        got = _first_step(np.arange(n), flat)
        np.testing.assert_allclose(got, lr * n * 0.5 / (2 * np.sqrt(n * 25.0)), rtol=1e-4)
    # fully coherent energy: the step no longer grows with n
    a, b = _first_step(np.arange(4), flat, 1.0), _first_step(np.arange(16), flat, 1.0)
    np.testing.assert_allclose(a, b, rtol=1e-6)


def test_transfer_depletion_leaves_memorisation_and_shrinks_transfer_of_repeats():
    """Training the same prompts three times: with ``n0 = 1`` the shared steps are
    1, 1/2, 1/3 of the undepleted ones, the prompt offsets are unchanged."""
    kw = {"learner": "measured", "measured_optimizer": "sgd", "memorization_rate": 0.5,
          "memorize_through_optimizer": False}  # fmt: skip
    out = {}
    for n0 in (None, 1.0):
        env = _small_learning(transfer_depletion=n0, **kw)
        rng = np.random.default_rng(1)
        ids = np.arange(30)
        rewards = np.zeros((30, 8))
        rewards[:, :3] = 1.0  # mixed every time
        for _ in range(3):
            env.learn(ids, _clean(rewards), rng)
        out[n0] = (env.ability.copy(), env.offset.copy())
    # clean rewards fixed: g = std(r) whatever the rates, so the sgd steps are exact
    np.testing.assert_allclose(out[1.0][0], out[None][0] * (1 + 1 / 2 + 1 / 3) / 3)
    np.testing.assert_allclose(out[1.0][1], out[None][1])
    assert np.abs(out[None][0]).max() > 0
