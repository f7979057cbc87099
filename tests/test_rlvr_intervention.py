"""The intervention study's pieces: quintile batches and first-order batch effects."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from insight_bayes.rewards import Rollout  # noqa: E402
from insight_bayes.rlvr.environment import GRPOEnvironment  # noqa: E402
from insight_bayes.rlvr.grpo import GRPOConfig  # noqa: E402
from insight_bayes.rlvr.intervention import first_order_effect, quintile_batches  # noqa: E402
from insight_bayes.rlvr.model import ModelConfig, TinyLM  # noqa: E402
from insight_bayes.rlvr.policy import CharPolicy  # noqa: E402
from insight_bayes.rlvr.tasks import make_splits, make_task  # noqa: E402
from insight_bayes.rlvr.tokenizer import CharTokenizer  # noqa: E402


def test_quintile_batches_draw_from_each_bin():
    candidates = np.arange(100, 200)
    scores = np.arange(100.0)[::-1]  # candidate 100 has the top score
    batches = quintile_batches(candidates, scores, 8, rng=0)
    assert len(batches) == 5
    for q, ids in enumerate(batches):
        assert ids.size == 8 and np.unique(ids).size == 8
        # bin q holds the candidates whose scores rank in [20 q, 20 q + 20) from the bottom
        ranks = 199 - ids  # the score of candidate c is 199 - c
        assert np.all((ranks >= 20 * q) & (ranks < 20 * q + 20))
    with pytest.raises(ValueError, match="at least m=30"):
        quintile_batches(candidates, scores, 30, rng=0)


def _env():
    task = make_task("addition", max_digits=2)
    pool, test = make_splits(task, 40, 16, 0)
    tok = CharTokenizer(task.alphabet)
    torch.manual_seed(0)
    model = TinyLM(
        ModelConfig(vocab_size=tok.vocab_size, block_size=16, n_layer=1, n_head=2, d_model=16)
    )
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(4.0)
    return GRPOEnvironment(task, pool, test, CharPolicy(model, tok), GRPOConfig(max_new_tokens=4))


def test_hopeless_batch_has_no_effect_and_a_real_one_does():
    env = _env()
    ids = np.arange(6)
    out = env.rollout(ids, 4, np.random.default_rng(1))
    before = [p.detach().clone() for p in env.policy.model.parameters()]
    unchosen = np.arange(6, 40)
    # every group all-equal: zero advantages, zero gradient, zero effect (the control)
    hopeless = Rollout(np.zeros_like(out.rewards), np.zeros_like(out.correct), out.payload)
    none = first_order_effect(env, ids, hopeless, unchosen)
    assert none.heldout == 0.0 and none.chosen == 0.0 and none.gradient_norm == 0.0
    # a mixed batch moves the model: its gradient is not zero
    mixed_rewards = np.tile([1.0, 0.0, 0.0, 1.0], (6, 1))
    mixed = Rollout(mixed_rewards, mixed_rewards == 1.0, out.payload)
    effect = first_order_effect(env, ids, mixed, unchosen)
    assert effect.gradient_norm > 0 and effect.mixed_share == 1.0
    # the policy itself is never changed
    for a, b in zip(before, env.policy.model.parameters(), strict=True):
        assert torch.equal(a, b)


def test_first_order_effect_predicts_a_small_sgd_step():
    env = _env()
    ids = np.arange(6)
    out = env.rollout(ids, 4, np.random.default_rng(1))
    rewards = np.tile([1.0, 0.0, 0.0, 1.0], (6, 1))
    batch = Rollout(rewards, rewards == 1.0, out.payload)
    effect = first_order_effect(env, ids, batch, np.arange(6, 40))
    # take the step by hand: theta += eta * grad J; the test success must change by
    # eta * effect.heldout to first order
    from insight_bayes.rlvr.grpo import build_batch, clipped_policy_loss, group_advantages

    prompts = [env._pool_prompts[i] for i in ids for _ in range(4)]
    comps = [c for group in out.payload for c in group]
    tb = build_batch(prompts, comps, env.policy.pad_id)
    adv = group_advantages(torch.as_tensor(rewards, dtype=torch.float32)).reshape(-1)
    logp = env.policy.logprobs(tb.tokens, tb.valid)
    loss, _ = clipped_policy_loss(logp, logp.detach(), adv, tb.completion, 0.2)
    loss.backward()
    before = float(env.exact_success("test").mean())
    eta = 1e-3
    with torch.no_grad():
        for p in env.policy.model.parameters():
            if p.grad is not None:
                p -= eta * p.grad
    after = float(env.exact_success("test").mean())
    assert after - before == pytest.approx(eta * effect.heldout, rel=0.05, abs=1e-9)


def test_intervention_command_writes_its_tables_and_manifest(tmp_path):
    import json
    from pathlib import Path

    import pandas as pd

    from insight_bayes_cli import main

    smoke = Path(__file__).parents[1] / "configs" / "rlvr" / "smoke.toml"
    out = tmp_path / "iv"
    argv = ["rlvr-intervention", str(smoke), "--out", str(out), "--checkpoints", "0,2",
            "--replicates", "1", "--n-boot", "100", "--cache-dir", str(tmp_path / "c"),
            "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kind"] == "intervention" and manifest["checkpoints"] == [0, 2]
    effects = pd.read_parquet(out / "effects.parquet")
    # 2 checkpoints x (3 families x 5 quintiles + the hopeless batch) x 1 replicate
    assert len(effects) == 2 * 16
    assert set(effects["family"]) == {"wmi", "difficulty", "evidence", "hopeless"}
    for name in ("slopes.csv", "quintiles.csv", "control.csv"):
        assert (out / name).exists()


@pytest.mark.parametrize(("reward", "moves"), [("binary", False), ("shaped", True)])
def test_first_order_effect_uses_the_configured_advantage(reward, moves):
    # all answers wrong but some well formatted (0 / 0.1): with binary advantages the
    # group teaches nothing, with shaped rewards it still pushes (format, not correctness)
    import dataclasses

    env = _env()
    env.grpo = dataclasses.replace(env.grpo, advantage_reward=reward)
    ids = np.arange(6)
    out = env.rollout(ids, 4, np.random.default_rng(1))
    rewards = np.tile([0.1, 0.0, 0.1, 0.0], (6, 1))
    effect = first_order_effect(
        env, ids, Rollout(rewards, np.zeros_like(out.correct), out.payload), np.arange(6, 40)
    )
    assert (effect.gradient_norm > 0) is moves
