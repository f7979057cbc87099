"""The gradient probe: AdamW's applied update, clipping, zero updates, first-order effects,
resume, and the selection statistics of choices tables."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from insight_bayes.rewards import Rollout  # noqa: E402
from insight_bayes.rlvr.applied_update import (  # noqa: E402
    _flat,
    _prompt_gradient,
    _tier_gradients,
    adamw_delta,
    adamw_linear,
    clip_gradient,
    group_gradient,
)
from insight_bayes.rlvr.checkpoint_probe import set_weights  # noqa: E402
from insight_bayes.rlvr.gradient_tables import is_done, signal_noise_table  # noqa: E402
from insight_bayes.rlvr.gradients import run_gradients, stratified_prompts  # noqa: E402
from insight_bayes.rlvr.grpo import GRPOConfig  # noqa: E402
from insight_bayes.rlvr.grpo_environment import GRPOEnvironment  # noqa: E402
from insight_bayes.rlvr.model import ModelConfig, TinyLM  # noqa: E402
from insight_bayes.rlvr.policy import CharPolicy  # noqa: E402
from insight_bayes.rlvr.selection_stats import selection_stats  # noqa: E402
from insight_bayes.rlvr.tasks import make_splits, make_task  # noqa: E402
from insight_bayes.rlvr.tokenizer import CharTokenizer  # noqa: E402


def _env(weight_decay: float = 0.0) -> GRPOEnvironment:
    task = make_task("addition", max_digits=2)
    pool, test = make_splits(task, 24, 16, 0)
    tok = CharTokenizer(task.alphabet)
    torch.manual_seed(0)
    model = TinyLM(
        ModelConfig(vocab_size=tok.vocab_size, block_size=16, n_layer=1, n_head=2, d_model=16)
    )
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(4.0)
    grpo = GRPOConfig(max_new_tokens=4, lr=1e-2, weight_decay=weight_decay, max_grad_norm=0.05)
    return GRPOEnvironment(task, pool, test, CharPolicy(model, tok), grpo)


def _mixed(env: GRPOEnvironment, pid: int, k: int = 4) -> Rollout:
    out = env.rollout(np.array([pid]), k, np.random.default_rng(pid))
    rewards = np.array([[1.0, 0.0, 0.0, 1.0]])
    return Rollout(rewards, rewards == 1.0, out.payload)


def _step_with(env, grads):
    """A real optimiser step on the environment's optimiser; returns the weights' change."""
    params = list(env.policy.model.parameters())
    before = [p.detach().clone() for p in params]
    for p, g in zip(params, grads, strict=True):
        p.grad = g.clone()
    env.optimizer.step()
    env.scheduler.step()
    return [p.detach() - b for p, b in zip(params, before, strict=True)]


@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_adamw_delta_is_what_torch_adamw_does_from_the_same_state(weight_decay):
    env = _env(weight_decay)
    env.policy.model.double()  # float64, so the comparison is not of float32 rounding
    params = list(env.policy.model.parameters())
    gen = torch.Generator().manual_seed(0)
    dt = torch.float64
    # three real steps so that moments, step count and the lr ramp are all non-trivial
    env.grpo = GRPOConfig(**{**env.grpo.__dict__, "lr_warmup_steps": 5})
    from insight_bayes.rlvr.grpo import make_optimizer, make_scheduler

    env.optimizer = make_optimizer(env.policy.model, env.grpo)
    env.scheduler = make_scheduler(env.optimizer, env.grpo)
    for _ in range(3):
        _step_with(env, [torch.randn(p.shape, generator=gen, dtype=dt) for p in params])
    state = copy.deepcopy(env.optimizer.state_dict())
    grads = [torch.randn(p.shape, generator=gen, dtype=dt) for p in params]
    predicted = adamw_delta(params, grads, state)
    actual = _step_with(env, grads)
    for a, b in zip(predicted, actual, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)
    assert max(float(a.abs().max()) for a in actual) > 1e-4  # a real step was compared
    # from an empty state (the warm-up checkpoint): the first step, bias-corrected
    fresh = _env(weight_decay)
    fresh.policy.model.double()
    params = list(fresh.policy.model.parameters())
    predicted = adamw_delta(params, grads, copy.deepcopy(fresh.optimizer.state_dict()))
    actual = _step_with(fresh, grads)
    for a, b in zip(predicted, actual, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)


def test_linearised_adamw_is_the_derivative_of_the_step():
    env = _env()
    env.policy.model.double()
    params = list(env.policy.model.parameters())
    gen = torch.Generator().manual_seed(2)
    assert all(torch.isnan(c).all() for c in adamw_linear(params, env.optimizer.state_dict()))
    for _ in range(2):
        _step_with(env, [torch.randn(p.shape, generator=gen, dtype=torch.float64) for p in params])
    state = copy.deepcopy(env.optimizer.state_dict())
    g = [1e-7 * torch.randn(p.shape, generator=gen, dtype=torch.float64) for p in params]
    zero = [torch.zeros_like(p) for p in params]
    step = _flat(adamw_delta(params, g, state)) - _flat(adamw_delta(params, zero, state))
    linear = _flat(adamw_linear(params, state)) * _flat(g)
    torch.testing.assert_close(step, linear, rtol=1e-5, atol=1e-15)


def test_clipping_matches_torch_clip_grad_norm():
    gen = torch.Generator().manual_seed(1)
    shapes = [(3, 4), (5,), (2, 2, 2)]
    for max_norm in (0.5, 1e3):
        grads = [torch.randn(s, generator=gen) for s in shapes]
        params = [torch.nn.Parameter(torch.zeros(s)) for s in shapes]
        for p, g in zip(params, grads, strict=True):
            p.grad = g.clone()
        norm = torch.nn.utils.clip_grad_norm_(params, max_norm)
        clipped, ours, fired = clip_gradient(grads, max_norm)
        assert ours == pytest.approx(float(norm), rel=1e-6)
        assert fired == (float(norm) > max_norm)
        for p, c in zip(params, clipped, strict=True):
            torch.testing.assert_close(p.grad, c)
    assert fired is False  # the loose bound leaves the gradient alone


def test_all_equal_group_has_zero_gradient_and_zero_update():
    env = _env()
    params = list(env.policy.model.parameters())
    out = env.rollout(np.array([3]), 4, np.random.default_rng(0))
    for value in (0.0, 1.0):
        flat = np.full((1, 4), value)
        g = group_gradient(env, 3, Rollout(flat, flat == 1.0, out.payload))
        assert all(float(x.abs().max()) == 0.0 for x in g)
    # after real steps, AdamW drifts with a zero gradient; the group's part is still zero
    for _ in range(2):
        _step_with(env, group_gradient(env, 5, _mixed(env, 5)))
    state = copy.deepcopy(env.optimizer.state_dict())
    zero = [torch.zeros_like(p) for p in params]
    drift = _flat(adamw_delta(params, zero, state))
    assert float(drift.norm()) > 0
    g = group_gradient(env, 3, Rollout(np.zeros((1, 4)), np.zeros((1, 4), bool), out.payload))
    clipped, norm, fired = clip_gradient(g, env.grpo.max_grad_norm)
    assert norm == 0.0 and not fired
    assert float((_flat(adamw_delta(params, clipped, state)) - drift).abs().max()) == 0.0


def test_first_order_effect_matches_a_finite_difference():
    env = _env()
    params = list(env.policy.model.parameters())
    base = [p.detach().clone() for p in params]
    g = group_gradient(env, 2, _mixed(env, 2))
    clipped, norm, fired = clip_gradient(g, env.grpo.max_grad_norm)
    assert norm > 0 and fired
    state = copy.deepcopy(env.optimizer.state_dict())
    delta = _flat(adamw_delta(params, clipped, state)).double()
    tiers = np.array([p.features["digits"] for p in env.test], dtype=np.int64)
    grads = _tier_gradients(env, tiers)
    own = _prompt_gradient(env, 2)

    def objectives():
        with torch.no_grad():
            test = env.exact_success("test").double().numpy()
            self_p = float(env.exact_success("pool", np.array([2]))[0])
        return np.array([test[tiers == t].mean() for t in sorted(grads)]), self_p

    j0, s0 = objectives()
    eps = 1e-2  # a small step along the update (lr 1e-2: dθ itself is ~1e-2 per weight)
    set_weights(params, base, eps * delta)
    j1, s1 = objectives()
    set_weights(params, base, -eps * delta)
    j2, s2 = objectives()
    set_weights(params, base, None)
    for j, t in enumerate(sorted(grads)):
        fd = (j1[j] - j2[j]) / (2 * eps)
        assert float(grads[t] @ delta) == pytest.approx(fd, rel=2e-2)
        assert float(grads[t] @ delta) != 0.0  # the check is not between two zeros
    assert float(own @ delta) == pytest.approx((s1 - s2) / (2 * eps), rel=2e-2)
    assert float(own @ delta) != 0.0


def test_stratified_prompts_spread_over_bands_and_tiers():
    p = np.concatenate([np.zeros(20), np.full(20, 0.5), np.full(3, 0.99)])
    tiers = np.concatenate([np.repeat([5, 6], 10), np.repeat([1, 2], 10), [1, 1, 1]])
    ids, bands = stratified_prompts(p, tiers, 12, np.random.default_rng(0))
    assert np.unique(ids).size == 12
    # bands 0, 3 and 5 are not empty: 4 each, but band 5 holds 3, so the others share 9
    counts = np.bincount(bands, minlength=6)
    assert counts[5] == 3 and counts[0] + counts[3] == 9 and abs(counts[0] - counts[3]) <= 1
    low = ids[bands == 0]
    assert set(tiers[low]) == {5, 6}  # tiers take turns inside a band
    with pytest.raises(ValueError, match="cannot choose"):
        stratified_prompts(p, tiers, 44, np.random.default_rng(0))


def test_signal_noise_recomputed_from_rows_matches_the_vectors():
    rng = np.random.default_rng(0)
    vecs = rng.normal(size=(4, 10)) + 2.0
    mean = vecs.mean(0)
    rows = pd.DataFrame(
        {
            "draw": 0, "checkpoint": 0, "prompt_id": 7, "k": 8, "replicate": range(4),
            "tier": 3, "band": 2, "p_hat": 0.4, "mixed": True,
            "update_norm": np.linalg.norm(vecs, axis=1), "update_dot_mean": vecs @ mean,
            "grad_norm": np.linalg.norm(vecs, axis=1), "grad_dot_mean": vecs @ mean,
            "self_effect": 1.0, "heldout_effect": 2.0, "own_tier_effect": 3.0,
        }
    )  # fmt: skip
    effects = rows[["draw", "checkpoint", "prompt_id", "k", "replicate"]].assign(
        target_tier=3, effect=[1.0, 2.0, 3.0, 4.0]
    )
    table = signal_noise_table(rows, effects)
    msd = float(((vecs - mean) ** 2).sum(1).mean())
    assert table["update_signal"].iloc[0] == pytest.approx(np.linalg.norm(mean))
    assert table["update_noise"].iloc[0] == pytest.approx(msd)
    s2 = msd * 4 / 3
    assert table["update_signal_sq_unbiased"].iloc[0] == pytest.approx(mean @ mean - s2 / 4)
    assert table["effect_tier_3"].iloc[0] == pytest.approx(2.5)


def test_draw_config_moves_both_seeds():
    from insight_bayes.rlvr.config import load_config

    raw = {"task": {"name": "addition", "seed": 3, "pool_size": 8, "test_size": 4},
           "warmup": {"seed": 1, "steps": 1}, "loop": {"m": 2, "k": 2}}  # fmt: skip
    cfg = load_config(raw).draw_config(2)
    assert (cfg.task.seed, cfg.warmup.seed) == (5, 3)
    assert raw["task"]["seed"] == 3  # the base config is not changed


def _tiny_raw(steps: int, eval_every: int) -> dict:
    """A study config small enough to train in a second: a 1-layer model on 2-digit sums."""
    return {
        "task": {"name": "addition", "pool_size": 16, "test_size": 8, "params": {"max_digits": 2}},
        "model": {"n_layer": 1, "n_head": 2, "d_model": 16},
        "warmup": {"steps": 2, "batch_size": 8},
        "grpo": {"lr": 1e-3},
        "loop": {"m": 2, "k": 2, "steps": steps, "candidate_ratio": 2, "eval_every": eval_every},
    }


def test_run_resumes_and_skips_finished_checkpoints(tmp_path, monkeypatch):
    raw = _tiny_raw(steps=2, eval_every=0)
    kwargs = dict(draws=(0,), checkpoints=(0, 1), groups=3, replicates=2,
                  cache_dir=tmp_path / "cache", progress=False)  # fmt: skip
    out = tmp_path / "out"
    first = run_gradients(raw, out, **kwargs)
    assert is_done(out, 0, 0) and is_done(out, 0, 1)
    assert len(first["groups"]) == 2 * 3 * 2
    assert set(first["effects"]["target_tier"]) == {1, 2}
    # a second call measures nothing: the probe is not entered
    import insight_bayes.rlvr.gradients as gradients

    def refuse(*args, **kw):
        raise AssertionError("a finished checkpoint was measured again")

    monkeypatch.setattr(gradients, "measure_checkpoint", refuse)
    again = run_gradients(raw, out, **kwargs)
    pd.testing.assert_frame_equal(again["groups"], first["groups"])
    # a lost marker means that checkpoint is measured again, and only it
    (out / "runs" / "draw-0000" / "checkpoint-00001.done.json").unlink()
    assert is_done(out, 0, 0) and not is_done(out, 0, 1)
    with pytest.raises(AssertionError, match="measured again"):
        run_gradients(raw, out, **kwargs)


def test_the_draws_random_runs_in_one_block_equal_one_at_a_time(tmp_path):
    raw = _tiny_raw(steps=3, eval_every=1)
    kwargs = dict(draws=(0, 1), checkpoints=(0, 2), groups=3, replicates=2,
                  cache_dir=tmp_path / "cache", progress=False)  # fmt: skip
    alone = run_gradients(raw, tmp_path / "alone", runs_per_process=1, **kwargs)
    block = run_gradients(raw, tmp_path / "block", **kwargs)  # the default: one block
    assert set(alone["groups"]["draw"]) == {0, 1}
    for name in ("groups", "effects", "checkpoints", "signal_noise"):
        a, b = alone[name], block[name]
        timing = [c for c in a.columns if "seconds" in c]
        # a CPU block computes each draw's run as it runs alone: bit for bit
        pd.testing.assert_frame_equal(a.drop(columns=timing), b.drop(columns=timing),
                                      check_exact=True, obj=name)  # fmt: skip


def test_gradients_command_records_its_draws_warm_ups(tmp_path, monkeypatch):
    import json
    import re
    import shutil

    from insight_bayes.rlvr import sft
    from insight_bayes_cli import main

    smoke = Path(__file__).parents[1] / "configs" / "rlvr" / "smoke.toml"
    out = tmp_path / "g"
    argv = ["rlvr-gradients", str(smoke), "--out", str(out), "--draws", "0,1",
            "--checkpoints", "0,1", "--groups", "2", "--replicates", "2", "--studies",
            "--cache-dir", str(tmp_path / "c"), "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    weights = manifest["warmup_weights"]
    assert set(weights) == {"0", "1"}
    assert all(re.fullmatch("[0-9a-f]{64}", w["sha256"]) for w in weights.values())
    assert weights["0"]["sha256"] != weights["1"]["sha256"]  # each draw its own warm-up
    assert weights["0"]["key"] != weights["1"]["key"]
    assert all("kernels)" in w["device_name"] for w in weights.values())
    groups = pd.read_parquet(out / "groups.parquet")
    assert set(groups["draw"]) == {0, 1} and set(groups["checkpoint"]) == {0, 1}
    # a finished folder called again (its warm-up cache gone) keeps the record of the
    # warm-ups its runs used, and trains no warm-up to record another
    shutil.rmtree(tmp_path / "c")

    def refuse(*args, **kwargs):
        raise AssertionError("a warm-up was trained for a finished measurement")

    monkeypatch.setattr(sft, "_train", refuse)
    assert main(argv) == 0
    again = json.loads((out / "manifest.json").read_text())
    assert again["warmup_weights"] == weights


def test_selection_stats_on_a_hand_made_table():
    choices = pd.DataFrame(
        {
            "rule": "a", "seed": 0,
            "step": [1, 1, 2, 2, 3, 3],
            "prompt_id": [0, 1, 1, 2, 1, 3],
        }
    )  # fmt: skip
    pool = pd.DataFrame({"prompt_id": [0, 1, 2, 3], "feature_digits": [1.0, 1.0, 2.0, 3.0]})
    table = selection_stats(choices, pool, "s").set_index(["rule", "phase"])
    row = table.loc[("a", "all")]
    assert row["share_seen_before"] == pytest.approx((0 + 0.5 + 0.5) / 3)
    assert row["times_chosen_mean"] == pytest.approx(6 / 4)
    assert row["effective_prompts"] == pytest.approx(1 / ((1 / 6) ** 2 * 3 + (3 / 6) ** 2))
    assert (row["tier_1"], row["tier_2"], row["tier_3"]) == pytest.approx((4 / 6, 1 / 6, 1 / 6))
    late = table.loc[("a", "late")]  # steps 2 and 3 (> 3 / 2)
    assert late["share_seen_before"] == pytest.approx(0.5)
    assert late["times_chosen_mean"] == pytest.approx(4 / 3)
    assert (late["tier_1"], late["tier_2"], late["tier_3"]) == pytest.approx((0.5, 0.25, 0.25))
    early = table.loc[("a", "early")]
    assert early["share_seen_before"] == 0.0 and early["mean_tier"] == 1.0
    assert table.loc[("(pool)", "all")]["tier_1"] == pytest.approx(0.5)
