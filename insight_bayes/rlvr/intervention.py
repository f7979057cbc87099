"""A causal test of the decomposition: does predicted information rank a batch's effect?

At a fixed checkpoint (policy and belief), batches of ``M`` prompts are built from the
quintiles of a predicted score (WMI, difficulty only ``m(1 - m)``, evidence only
``1 / (n + 1)``), rolled out with several rollout seeds, and each batch's effect on
learning is measured **to first order, without an optimizer**:

.. math::
    \\Delta_{\\text{held-out}} = \\langle \\nabla_\\theta J_{\\text{batch}},
        \\nabla_\\theta \\bar S_{\\text{test}} \\rangle, \\qquad
    \\Delta_{\\text{chosen}} = \\langle \\nabla_\\theta J_{\\text{batch}},
        \\nabla_\\theta (\\bar S_{\\text{chosen}} - \\bar S_{\\text{unchosen}}) \\rangle

where ``J_batch`` is the GRPO objective of the batch's own rollouts (minus the clipped
loss at ratio 1: ``(1/N_tok) sum_i A_i sum_t log pi(o_it)``) and ``S`` the exact success
probability of a problem (:meth:`GRPOEnvironment.exact_success`). ``Delta`` is the change
one plain gradient step of unit size would make. A naive one-step change under AdamW
measures mostly the optimizer's momentum (a batch with no gradient still moves the model);
the inner product has no optimizer state and no update noise, and a batch whose groups are
all uninformative gives exactly 0 (the hopeless-batch control).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from insight_bayes.rewards import Rollout
from insight_bayes.rlvr.environment import GRPOEnvironment
from insight_bayes.rlvr.grpo import build_batch, clipped_policy_loss, group_advantages
from insight_bayes.validation import RngLike, as_generator, check_int

__all__ = ["FirstOrderEffect", "first_order_effect", "quintile_batches"]


def quintile_batches(
    candidates: np.ndarray, scores: np.ndarray, m: int, rng: RngLike, n_bins: int = 5
) -> list[np.ndarray]:
    """``M`` prompts drawn from each quantile bin of ``scores`` (lowest bin first).

    Candidates are ranked by score (ties broken at random) and cut into ``n_bins`` bins
    of equal size; each batch is ``m`` distinct prompts drawn uniformly from one bin.

    Raises ``ValueError`` when a bin holds fewer than ``m`` candidates.
    """
    candidates = np.asarray(candidates)
    scores = np.asarray(scores, dtype=np.float64)
    if candidates.shape != scores.shape or candidates.ndim != 1:
        raise ValueError("candidates and scores must be 1-d arrays of one length")
    m = check_int(m, "m", min_value=1)
    n_bins = check_int(n_bins, "n_bins", min_value=1)
    gen = as_generator(rng)
    jitter = gen.random(scores.size)
    order = np.lexsort((jitter, scores))  # ascending score, random among ties
    bins = np.array_split(candidates[order], n_bins)
    if min(b.size for b in bins) < m:
        raise ValueError(
            f"each of the {n_bins} bins must hold at least m={m} candidates; "
            f"got {min(b.size for b in bins)} (use more candidates or a smaller m)"
        )
    return [gen.choice(b, size=m, replace=False) for b in bins]


@dataclass(frozen=True)
class FirstOrderEffect:
    """First-order effects of one batch's own gradient (see the module docstring).

    Attributes
    ----------
    heldout : float
        ``<grad J_batch, grad mean exact success on the test set>``.
    chosen : float
        ``<grad J_batch, grad (mean exact success of the chosen prompts - of unchosen)>``.
    gradient_norm : float
        ``||grad J_batch||``.
    mixed_share : float
        Share of the batch's groups with mixed binary outcomes.
    """

    heldout: float
    chosen: float
    gradient_norm: float
    mixed_share: float


def _flat_grad(scalar: torch.Tensor, params: list[torch.nn.Parameter]) -> torch.Tensor:
    grads = torch.autograd.grad(scalar, params, allow_unused=True)
    return torch.cat(
        [
            (g if g is not None else torch.zeros_like(p)).reshape(-1)
            for g, p in zip(grads, params, strict=True)
        ]
    )


def first_order_effect(
    env: GRPOEnvironment,
    ids: np.ndarray,
    rollout: Rollout,
    unchosen: np.ndarray,
    *,
    heldout_gradient: torch.Tensor | None = None,
) -> FirstOrderEffect:
    """The first-order effects of training on ``rollout`` of prompts ``ids``.

    Parameters
    ----------
    env : GRPOEnvironment
        At the checkpoint; its policy is not changed.
    ids : ndarray of int, shape (M,)
        The batch's prompts.
    rollout : Rollout
        Their rollouts (from ``env.rollout``; completions in the payload).
    unchosen : ndarray of int
        Pool prompts not in the batch, the comparison for the chosen-prompt effect.
    heldout_gradient : Tensor, optional
        ``grad mean exact test success`` at this checkpoint, when already computed (it
        does not depend on the batch).
    """
    model = env.policy.model
    params = [p for p in model.parameters() if p.requires_grad]
    prompts, completions = [], []
    for i, comps in zip(ids, rollout.payload, strict=True):
        prompts += [env._pool_prompts[i]] * len(comps)
        completions += comps
    batch = build_batch(prompts, completions, env.policy.pad_id, env.device)
    rewards = torch.as_tensor(rollout.rewards, dtype=torch.float32)
    advantages = group_advantages(rewards, env.grpo.adv_eps).reshape(-1).to(env.device)
    with torch.enable_grad():
        logp = env.policy.logprobs(batch.tokens, batch.valid)
        loss, _ = clipped_policy_loss(
            logp, logp.detach(), advantages, batch.completion, env.grpo.clip_eps
        )
        g_batch = -_flat_grad(loss, params)  # ascent direction of J
        if heldout_gradient is None:
            heldout_gradient = _flat_grad(env.exact_success("test", grad=True).mean(), params)
        s_chosen = env.exact_success("pool", ids, grad=True).mean()
        s_unchosen = env.exact_success("pool", unchosen, grad=True).mean()
        g_chosen = _flat_grad(s_chosen - s_unchosen, params)
    mixed = rollout.correct.any(axis=1) & ~rollout.correct.all(axis=1)
    return FirstOrderEffect(
        heldout=float(g_batch @ heldout_gradient),
        chosen=float(g_batch @ g_chosen),
        gradient_norm=float(g_batch.norm()),
        mixed_share=float(mixed.mean()),
    )
