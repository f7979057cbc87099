"""GRPO pieces against hand-computed values, and one update moving the policy the right way."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from insight_bayes.rewards import group_advantages as numpy_group_advantages  # noqa: E402
from insight_bayes.rlvr.grpo import (  # noqa: E402
    GRPOConfig,
    build_batch,
    clipped_policy_loss,
    group_advantages,
    grpo_update,
    kl_to_reference,
    make_optimizer,
)
from insight_bayes.rlvr.model import ModelConfig, TinyLM  # noqa: E402
from insight_bayes.rlvr.policy import CharPolicy  # noqa: E402
from insight_bayes.rlvr.tokenizer import CharTokenizer  # noqa: E402


def test_group_advantages_by_hand():
    # mean 0.25; population std sqrt((0.75^2 + 3 * 0.25^2) / 4) = sqrt(3) / 4
    adv = group_advantages(torch.tensor([[1.0, 0.0, 0.0, 0.0], [0.1, 0.1, 0.1, 0.1]]), eps=0.0)
    root3 = math.sqrt(3.0)
    torch.testing.assert_close(adv[0], torch.tensor([root3, -1 / root3, -1 / root3, -1 / root3]))
    assert torch.isnan(adv[1]).all()  # eps = 0 on a constant group: 0 / 0
    adv = group_advantages(torch.tensor([[0.1, 0.1, 0.1, 0.1], [1.0, 0.1, 1.0, 0.1]]))
    assert torch.all(adv[0] == 0)
    # [1, .1, 1, .1]: mean .55, population std .45
    torch.testing.assert_close(adv[1], torch.tensor([1.0, -1.0, 1.0, -1.0]) * 0.45 / (0.45 + 1e-6))


@pytest.mark.parametrize("k", [2, 3, 8])
def test_group_advantages_equal_the_numpy_convention(k):
    # one convention for the simulator (numpy) and the harness (torch)
    rng = np.random.default_rng(k)
    rewards = rng.choice([0.0, 0.1, 1.0], size=(64, k))
    rewards[0] = 1.0  # an all-equal group
    ours = group_advantages(torch.as_tensor(rewards, dtype=torch.float64), eps=1e-6).numpy()
    np.testing.assert_allclose(
        ours, numpy_group_advantages(rewards, eps=1e-6), rtol=1e-12, atol=1e-12
    )
    assert np.all(ours[0] == 0.0)


def test_group_advantages_need_two_rollouts():
    with pytest.raises(ValueError, match="K >= 2"):
        group_advantages(torch.ones(3, 1))


def test_clipped_loss_by_hand():
    logp = torch.log(torch.tensor([[1.5, 1.0], [0.5, 0.9]]))
    logp_old = torch.zeros(2, 2)
    mask = torch.tensor([[True, True], [True, False]])
    adv = torch.tensor([1.0, -1.0])
    loss, clip_fraction = clipped_policy_loss(logp, logp_old, adv, mask, 0.2)
    # row 0: min(1.5, 1.2) = 1.2 and min(1, 1) = 1; row 1: min(-0.5, -0.8) = -0.8
    assert float(loss) == pytest.approx(-(1.2 + 1.0 - 0.8) / 3)
    assert float(clip_fraction) == pytest.approx(2 / 3)


def test_on_policy_gradient_is_token_normalised():
    """At ratio 1 the gradient w.r.t. each completion token's log-prob is -A / (tokens)."""
    logp = torch.zeros(2, 3, requires_grad=True)
    mask = torch.tensor([[True, True, True], [False, True, False]])
    loss, _ = clipped_policy_loss(logp, logp.detach(), torch.tensor([2.0, -1.0]), mask, 0.2)
    loss.backward()
    expected = torch.tensor([[-2.0, -2.0, -2.0], [0.0, 1.0, 0.0]]) / 4
    torch.testing.assert_close(logp.grad, expected)


def test_kl_k3_by_hand():
    logp = torch.log(torch.tensor([[0.5, 0.2]]))
    ref = torch.log(torch.tensor([[0.25, 0.9]]))
    mask = torch.tensor([[True, False]])
    # d = log(0.25 / 0.5); exp(d) - d - 1 = 0.5 + log 2 - 1
    assert float(kl_to_reference(logp, ref, mask)) == pytest.approx(math.log(2) - 0.5, rel=1e-6)
    assert float(kl_to_reference(logp, logp, torch.ones(1, 2, dtype=torch.bool))) == 0.0


def test_config_validation():
    with pytest.raises(ValueError, match="clip_eps"):
        GRPOConfig(clip_eps=0.0)
    with pytest.raises(ValueError, match="lr"):
        GRPOConfig(lr=-1.0)
    with pytest.raises(ValueError, match="updates_per_step"):
        GRPOConfig(updates_per_step=0)


def test_build_batch_masks_completion_targets():
    batch = build_batch([[1, 4, 5], [1, 6]], [[7, 2], [8, 9, 2]], pad_id=0)
    assert batch.tokens.tolist() == [[1, 4, 5, 7, 2], [1, 6, 8, 9, 2]]
    # logprob column t predicts token t + 1: completions are the last 2 and 3 tokens
    assert batch.completion.tolist() == [[False, False, True, True], [False, True, True, True]]
    assert batch.n_completion_tokens == 5
    assert batch.completion_width == 3  # the longest completion's columns
    assert build_batch([[1, 4], [1]], [[], []], pad_id=0).completion_width == 1
    with pytest.raises(ValueError, match="one each"):
        build_batch([[1]], [[2], [3]], 0)


def _policy(seed=0):
    tok = CharTokenizer("0123456789+=")
    torch.manual_seed(seed)
    model = TinyLM(
        ModelConfig(vocab_size=tok.vocab_size, block_size=16, n_layer=1, d_model=16, n_head=2)
    )
    return CharPolicy(model, tok)


def test_update_raises_the_better_completion():
    policy = _policy()
    prompt = policy.prompt_ids("1+2=")
    good, bad = policy.completion_ids("3"), policy.completion_ids("4")
    batch = build_batch([prompt, prompt], [good, bad], policy.pad_id)
    adv = group_advantages(torch.tensor([[1.0, 0.0]])).reshape(-1)
    config = GRPOConfig(lr=1e-2)
    opt = make_optimizer(policy.model, config)

    def margin():
        with torch.no_grad():
            lp = (policy.logprobs(batch.tokens, batch.valid) * batch.completion).sum(dim=1)
        return float(lp[0] - lp[1])

    before = margin()
    for _ in range(5):
        metrics = grpo_update(policy, opt, batch, adv, config)
    assert margin() > before + 0.5
    assert metrics["train/clip_fraction"] == 0.0  # one update per batch: ratio 1
    assert metrics["train/grad_norm"] > 0


def test_kl_term_and_several_updates():
    policy, reference = _policy(0), _policy(0)
    prompt = policy.prompt_ids("1+2=")
    batch = build_batch([prompt] * 2, [policy.completion_ids("3"), policy.completion_ids("45")], 0)
    adv = torch.tensor([1.0, -1.0])
    config = GRPOConfig(lr=5e-2, kl_coef=0.1, updates_per_step=4, clip_eps=0.1)
    metrics = grpo_update(
        policy, make_optimizer(policy.model, config), batch, adv, config, reference
    )
    assert metrics["train/kl"] > 0  # the policy moved away from the reference
    assert metrics["train/clip_fraction"] > 0  # later updates are off-policy and clip
    assert metrics["train/loss"] == pytest.approx(
        metrics["train/policy_loss"] + 0.1 * metrics["train/kl"], rel=1e-5
    )


def test_update_skips_zero_advantage_rows_without_changing_the_gradient():
    # rows with A = 0 add nothing to the loss; the update must equal the full-batch one
    policy = _policy(3)
    prompt = policy.prompt_ids("1+2=")
    completions = [policy.completion_ids(t) for t in ("3", "4", "33", "5", "41", "3")]
    batch = build_batch([prompt] * 6, completions, policy.pad_id)
    adv = torch.tensor([0.0, 1.5, 0.0, -0.5, 0.0, 0.0])
    # the full-batch gradient, by hand
    logp = policy.logprobs(batch.tokens, batch.valid)
    loss, _ = clipped_policy_loss(logp, logp.detach(), adv, batch.completion, 0.2)
    loss.backward()
    want = {n: -p.grad.clone() for n, p in policy.model.named_parameters()}
    before = {n: p.detach().clone() for n, p in policy.model.named_parameters()}
    policy.model.zero_grad()
    config = GRPOConfig(lr=1.0, max_grad_norm=1e9, weight_decay=0.0)
    sgd = torch.optim.SGD(policy.model.parameters(), lr=1.0)
    metrics = grpo_update(policy, sgd, batch, adv, config)
    for name, p in policy.model.named_parameters():
        torch.testing.assert_close(p.detach() - before[name], want[name], rtol=1e-5, atol=1e-7)
    assert metrics["train/loss"] == pytest.approx(float(loss.detach()), rel=1e-6)


def _groups_batch(policy, repeats=True):
    texts = {"12+3=": ["51", "5", "512", "9"], "7+45=": ["25", "2", "4", "5260"], "3+3=": ["6"] * 4}
    prompts, completions = [], []
    for prompt, answers in texts.items():
        prompts += [policy.prompt_ids(prompt)] * len(answers)
        completions += [policy.completion_ids(a) for a in answers]
    return build_batch(prompts, completions, policy.pad_id, repeats=4 if repeats else None)


def test_shared_prompt_logprobs_equal_scoring_every_row():
    """Each prompt run once for its K completions: the same completion log-probabilities
    and the same gradient as scoring every prompt-completion row in full."""
    policy = _policy(1)
    batch = _groups_batch(policy)
    width = batch.completion_width
    full = policy.logprobs(batch.tokens, batch.valid)[:, -width:] * batch.completion[:, -width:]
    full.sum().backward()
    want = {n: p.grad.clone() for n, p in policy.model.named_parameters()}
    policy.model.zero_grad()
    shared = policy.shared_prompt_logprobs(batch.groups) * batch.groups.mask
    torch.testing.assert_close(shared.sum(dim=1), full.sum(dim=1), rtol=1e-6, atol=1e-5)
    shared.sum().backward()
    for name, p in policy.model.named_parameters():
        torch.testing.assert_close(p.grad, want[name], rtol=1e-5, atol=1e-6)


def test_update_on_groups_equals_the_update_on_rows():
    adv = torch.tensor([1.0, -1.0, 0.5, -0.5, 0.0, 0.0, 2.0, -2.0, 0.0, 0.0, 0.0, 0.0])
    # SGD at lr 1: each update is minus the clipped gradient (AdamW's first step would
    # divide rounding-level gradients by their own size)
    config = GRPOConfig(lr=1.0, max_grad_norm=1e9, weight_decay=0.0)
    moved = []
    for grouped in (True, False):
        policy = _policy(2)
        batch = _groups_batch(policy, repeats=grouped)
        assert (batch.groups is not None) == grouped
        before = {n: p.detach().clone() for n, p in policy.model.named_parameters()}
        sgd = torch.optim.SGD(policy.model.parameters(), lr=1.0)
        grpo_update(policy, sgd, batch, adv, config)
        moved.append({n: p.detach() - before[n] for n, p in policy.model.named_parameters()})
    for name, delta in moved[0].items():
        torch.testing.assert_close(delta, moved[1][name], rtol=1e-5, atol=1e-7)
    assert max(float(d.abs().max()) for d in moved[0].values()) > 1e-3  # it did move


def test_grouped_batch_needs_whole_groups_of_one_prompt():
    with pytest.raises(ValueError, match="groups of repeats=2"):
        build_batch([[1, 4]] * 3, [[5, 2]] * 3, 0, repeats=2)
    with pytest.raises(ValueError, match="share one prompt"):
        build_batch([[1, 4], [1, 5]], [[5, 2], [6, 2]], 0, repeats=2)
    batch = build_batch([[1, 4]] * 2 + [[1, 6, 7]] * 2, [[5, 2], [2], [8, 9, 2], [2]], 0, repeats=2)
    groups = batch.groups
    assert groups.prompt_tokens.tolist() == [[0, 1, 4], [1, 6, 7]]
    assert groups.completions.tolist() == [[5, 2, 0], [2, 0, 0], [8, 9, 2], [2, 0, 0]]
    assert groups.mask.sum().item() == batch.n_completion_tokens
    second = groups.select(torch.tensor([1]))
    assert second.prompt_tokens.tolist() == [[1, 6, 7]] and second.completions.shape == (2, 3)
