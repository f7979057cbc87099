"""GRPO, read top to bottom: group advantages, clipped token-level loss, KL, one update.

The pure pieces (:func:`group_advantages`, :func:`clipped_policy_loss`,
:func:`kl_to_reference`) are plain tensor functions, unit-tested against hand-computed
values. :func:`build_batch` packs prompts and sampled completions into one left-padded
batch, and :func:`grpo_update` takes one optimiser step (AdamW, gradient clipping) on it.

For a group of ``K`` completions of one prompt with rewards ``r_1..r_K`` (DeepSeekMath,
Shao et al. 2024, Eq. 3 and 4; token-level normalisation as in DAPO, Yu et al. 2025)::

    A_i    = (r_i - mean(r)) / (std(r) + eps)                    (group-normalised)
    rho_it = exp(log pi(o_it | ...) - log pi_old(o_it | ...))
    L      = - sum_{i,t} min(rho_it A_i, clip(rho_it, 1 - e, 1 + e) A_i) / sum_i |o_i|
             + beta * sum_{i,t} KL_it / sum_i |o_i|
    KL_it  = exp(ref - new) - (ref - new) - 1                   (k3 estimator, >= 0)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from insight_bayes.rewards import ADVANTAGE_DDOF
from insight_bayes.rlvr.padding import left_pad, right_pad
from insight_bayes.rlvr.run_sections import GRPOConfig
from insight_bayes.validation import check_int

__all__ = [
    "GRPOConfig",
    "PromptGroups",
    "TokenBatch",
    "build_batch",
    "clipped_policy_loss",
    "group_advantages",
    "grpo_update",
    "kl_to_reference",
    "make_optimizer",
    "make_scheduler",
]


# ------------------------------------------------------------------ pure pieces
def group_advantages(rewards: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Group-normalised advantages ``(r - mean) / (std + eps)`` per row.

    The torch twin of :func:`insight_bayes.rewards.group_advantages`, with the same
    convention (population std, :data:`insight_bayes.rewards.ADVANTAGE_DDOF`; TRL divides
    by ``K - 1``, a constant factor per group that AdamW's scale invariance absorbs); the
    two are tested equal.

    Parameters
    ----------
    rewards : Tensor, shape (G, K)
        Rewards of ``K`` completions of each of ``G`` prompts (``K >= 2``).
    eps : float
        Added to the standard deviation, so an all-equal group gets advantage 0.

    Returns
    -------
    Tensor, shape (G, K)
    """
    if rewards.ndim != 2 or rewards.size(1) < 2:
        raise ValueError(f"rewards must have shape (G, K) with K >= 2, got {tuple(rewards.shape)}")
    mean = rewards.mean(dim=1, keepdim=True)
    std = rewards.std(dim=1, keepdim=True, correction=ADVANTAGE_DDOF)
    return (rewards - mean) / (std + eps)


def clipped_policy_loss(
    logp: torch.Tensor,
    logp_old: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    clip_eps: float,
    n_tokens: torch.Tensor | float | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """PPO-clipped surrogate with token-level normalisation (to be minimised).

    Parameters
    ----------
    logp, logp_old : Tensor, shape (B, T)
        Log-probabilities of the completion tokens under the current and the sampling
        policy.
    advantages : Tensor, shape (B,)
        One advantage per completion, shared by its tokens.
    mask : Tensor of bool, shape (B, T)
        True at completion tokens (``|o_i|`` of them in row ``i``).
    clip_eps : float
        Clip range ``e``.
    n_tokens : float or Tensor, optional
        The normaliser ``sum(mask)`` of the whole batch, when ``logp`` holds only some
        of its rows (the rows with a non-zero advantage: the others add exactly 0 to the
        loss and its gradient). Default: ``sum(mask)`` of the rows given.

    Returns
    -------
    loss : Tensor, scalar
        ``-sum(mask * min(rho A, clip(rho) A)) / sum(mask)``.
    clip_fraction : Tensor, scalar
        Share of completion tokens whose clipped term was the smaller one.
    """
    maskf = mask.to(logp.dtype)
    ratio = torch.exp(logp - logp_old)
    adv = advantages[:, None].to(logp.dtype)
    unclipped = ratio * adv
    clipped = torch.clamp(ratio, 1.0 - clip_eps, 1.0 + clip_eps) * adv
    surrogate = torch.minimum(unclipped, clipped)
    n_tokens = maskf.sum().clamp(min=1.0) if n_tokens is None else n_tokens
    loss = -(surrogate * maskf).sum() / n_tokens
    clip_fraction = ((clipped < unclipped).to(logp.dtype) * maskf).sum() / n_tokens
    return loss, clip_fraction


def kl_to_reference(logp: torch.Tensor, logp_ref: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Token-averaged k3 estimate of ``KL(pi || pi_ref)``: ``exp(d) - d - 1``, ``d = ref - new``."""
    maskf = mask.to(logp.dtype)
    d = logp_ref - logp
    kl = torch.exp(d) - d - 1.0
    return (kl * maskf).sum() / maskf.sum().clamp(min=1.0)


def make_optimizer(model: nn.Module, config: GRPOConfig) -> torch.optim.AdamW:
    """AdamW over every parameter of ``model``."""
    return torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)


def make_scheduler(
    optimizer: torch.optim.Optimizer, config: GRPOConfig
) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear ramp over ``config.lr_warmup_steps`` optimiser steps, then constant."""
    ramp = config.lr_warmup_steps
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / ramp) if ramp else 1.0
    )


# ------------------------------------------------------------------ batches
@dataclass
class PromptGroups:
    """A batch of GRPO groups laid out by group: each prompt once, its completions after.

    ``prompt_tokens``/``prompt_valid`` ``(G, P)`` left-padded; ``completions`` ``(G K, C)``
    right-padded, row ``i K + j`` the ``j``-th completion of prompt ``i``; ``mask``
    ``(G K, C)`` True at completion tokens. What
    :func:`~insight_bayes.rlvr.model.shared_prompt_logprobs` scores.
    """

    prompt_tokens: torch.Tensor
    prompt_valid: torch.Tensor
    completions: torch.Tensor
    mask: torch.Tensor
    repeats: int

    def select(self, groups: torch.Tensor) -> PromptGroups:
        """The groups ``groups`` (indices), with all their completions."""
        k = self.repeats
        rows = (groups[:, None] * k + torch.arange(k, device=groups.device)).reshape(-1)
        return PromptGroups(
            self.prompt_tokens[groups],
            self.prompt_valid[groups],
            self.completions[rows],
            self.mask[rows],
            k,
        )

    def kept(self, advantages: torch.Tensor) -> tuple[PromptGroups, torch.Tensor]:
        """The groups with a non-zero advantage and their advantages ``(G' K,)``.

        An all-equal group adds exactly 0 to the clipped loss and its gradient, so the
        update leaves it out; when every group is, the first is kept (zero advantages),
        so the optimiser still steps (weight decay, moments) as on the whole batch.
        """
        per_group = advantages.reshape(-1, self.repeats)
        kept = torch.nonzero((per_group != 0).any(dim=1)).squeeze(-1)
        if kept.numel() == 0:
            kept = torch.zeros(1, dtype=torch.long, device=advantages.device)
        return self.select(kept), per_group[kept].reshape(-1)


@dataclass
class TokenBatch:
    """Prompts and completions packed left-padded: ``tokens``/``valid`` ``(B, T)``,
    ``completion`` ``(B, T - 1)`` True where the predicted token belongs to a completion;
    ``groups``, when the rows are groups of one prompt's completions, the same batch laid
    out by group (:class:`PromptGroups`)."""

    tokens: torch.Tensor
    valid: torch.Tensor
    completion: torch.Tensor
    groups: PromptGroups | None = None

    @property
    def n_completion_tokens(self) -> int:
        return int(self.completion.sum())

    @property
    def completion_width(self) -> int:
        """Columns of ``completion`` from its first completion token to the end (at least
        1): every completion lies in them, since the batch is left-padded."""
        cols = torch.nonzero(self.completion.any(dim=0)).flatten()
        return max(1, self.completion.size(1) - int(cols[0])) if cols.numel() else 1


def build_batch(
    prompts: Sequence[Sequence[int]],
    completions: Sequence[Sequence[int]],
    pad_id: int,
    device: torch.device | str = "cpu",
    repeats: int | None = None,
) -> TokenBatch:
    """Concatenate each prompt with its completion and left-pad them into one batch.

    With ``repeats = K`` rows ``i K .. i K + K - 1`` are ``K`` completions of one prompt
    (a GRPO group), and the batch also carries them laid out by group (``groups``).
    """
    if len(prompts) != len(completions):
        raise ValueError(
            f"got {len(prompts)} prompts but {len(completions)} completions; need one each"
        )
    groups = None
    if repeats is not None:
        groups = _prompt_groups(prompts, completions, pad_id, device, repeats)
    seqs = [list(p) + list(c) for p, c in zip(prompts, completions, strict=True)]
    tokens, valid = left_pad(seqs, pad_id, device)
    width = tokens.size(1)
    lengths = torch.tensor([len(c) for c in completions], dtype=torch.long)
    completion = torch.arange(width)[None, :] >= (width - lengths)[:, None]
    return TokenBatch(tokens, valid, completion[:, 1:].to(device), groups)


def _prompt_groups(prompts, completions, pad_id, device, repeats) -> PromptGroups:
    k = check_int(repeats, "repeats", min_value=1)
    if len(prompts) % k:
        raise ValueError(f"{len(prompts)} rows are not groups of repeats={k}")
    firsts = [list(prompts[i]) for i in range(0, len(prompts), k)]
    if any(list(prompts[i]) != firsts[i // k] for i in range(len(prompts))):
        raise ValueError(f"rows i K .. i K + {k - 1} must share one prompt (repeats={k})")
    prompt_tokens, prompt_valid = left_pad(firsts, pad_id, device)
    width = max(1, max(len(c) for c in completions))
    comp, mask = right_pad(completions, pad_id, device, width)
    return PromptGroups(prompt_tokens, prompt_valid, comp, mask, k)


# ------------------------------------------------------------------ one update
def grpo_update(
    policy,
    optimizer: torch.optim.Optimizer,
    batch: TokenBatch,
    advantages: torch.Tensor,
    config: GRPOConfig,
    reference=None,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
) -> dict[str, float]:
    """``config.updates_per_step`` AdamW steps of the clipped GRPO loss on one batch.

    ``policy`` and ``reference`` follow :class:`insight_bayes.rlvr.policy.Policy`;
    ``advantages`` has one entry per row of ``batch``. Returns training metrics.
    """
    model = policy.model
    model.train()
    # only the completions' columns are scored (the last layer computes nothing else)
    width = batch.completion_width
    mask = batch.completion[:, -width:]
    logp_ref = None
    if reference is not None and config.kl_coef > 0:
        with torch.no_grad():
            logp_ref = reference.logprobs(batch.tokens, batch.valid, last=width)
    n_tokens = mask.to(torch.float32).sum().clamp(min=1.0)
    tokens, valid = batch.tokens, batch.valid

    def score() -> torch.Tensor:
        return policy.logprobs(tokens, valid, last=width)

    groups = batch.groups
    if logp_ref is None and groups is not None and hasattr(policy, "shared_prompt_logprobs"):
        # Rows are GRPO groups: each kept group's prompt is run once for its K completions
        # (equal to scoring every row in full, to rounding). The normaliser stays the
        # whole batch's token count, so leaving all-equal groups out changes nothing.
        groups, advantages = groups.kept(advantages)
        mask = groups.mask

        def score() -> torch.Tensor:
            return policy.shared_prompt_logprobs(groups)

    elif logp_ref is None:
        # Rows with a zero advantage (all-equal groups) add exactly 0 to the loss and to
        # its gradient; without a KL term they need no forward or backward pass. The
        # normaliser stays the whole batch's token count, so the update is unchanged.
        rows = torch.nonzero(advantages != 0).squeeze(-1)
        if rows.numel() == 0:
            rows = torch.zeros(1, dtype=torch.long, device=advantages.device)
        tokens, valid, mask, advantages = tokens[rows], valid[rows], mask[rows], advantages[rows]
    logp_old = None
    metrics: dict[str, float] = {}
    for _ in range(config.updates_per_step):
        logp = score()
        if logp_old is None:
            logp_old = logp.detach()  # on-policy: the batch was sampled from this policy
        loss, clip_fraction = clipped_policy_loss(
            logp, logp_old, advantages, mask, config.clip_eps, n_tokens
        )
        kl = kl_to_reference(logp, logp_ref, mask) if logp_ref is not None else None
        total = loss + config.kl_coef * kl if kl is not None else loss
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        metrics = {
            "train/loss": float(total.detach()),
            "train/policy_loss": float(loss.detach()),
            "train/clip_fraction": float(clip_fraction),
            "train/grad_norm": float(grad_norm),
        }
        if kl is not None:
            metrics["train/kl"] = float(kl.detach())
    model.eval()
    return metrics
