"""One GRPO step of every run of a :class:`~insight_bayes.rlvr.stacked.StackedLM`.

:func:`grpo_update_runs` is :func:`~insight_bayes.rlvr.grpo.grpo_update` of each run at
once: the clipped loss of :mod:`insight_bayes.rlvr.grpo` per run (on the groups' shared
prompts when every run's batch is groups and there is no KL term, as for a run alone),
gradients clipped per run (the global norm of ``torch.nn.utils.clip_grad_norm_`` taken
over each run's parameters), and one AdamW step of the stacked parameters (AdamW is
elementwise, so it is every run's own AdamW).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch
from torch.nn.utils.rnn import pad_sequence

from insight_bayes.rlvr.grpo import PromptGroups, TokenBatch, clipped_policy_loss, kl_to_reference
from insight_bayes.rlvr.run_sections import GRPOConfig
from insight_bayes.rlvr.stacked import (
    Runs,
    StackedLM,
    logprobs_runs,
    pad_batches,
    run_groups,
    shared_prompt_logprobs_runs,
)

__all__ = ["grpo_update_runs"]


def grpo_update_runs(
    model: StackedLM,
    optimizer: torch.optim.Optimizer,
    batches: Sequence[TokenBatch],
    advantages: Sequence[torch.Tensor],
    config: GRPOConfig,
    *,
    pad_id: int,
    suppress: Sequence[int] = (),
    reference=None,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    max_rows: int | None = None,
) -> list[dict[str, float]]:
    """One GRPO step of every run: :func:`~insight_bayes.rlvr.grpo.grpo_update` of each run.

    ``batches[r]`` and ``advantages[r]`` are run ``r``'s (one entry per run of ``model``);
    ``reference`` (for ``config.kl_coef > 0``) is every run's reference policy (the
    warm-up), or a sequence of one per run (runs of several task draws). ``max_rows``
    bounds the rows of one forward pass (runs are taken in chunks, each padded to its own
    longest batch; gradients accumulate); with chunks of one run (``max_rows = 1``, a CPU
    block's) each run's step is bitwise its ``grpo_update``.
    Returns each run's metrics, as ``grpo_update`` does.
    """
    r = model.runs
    if len(batches) != r or len(advantages) != r:
        raise ValueError(f"need one batch and one advantage vector per run ({r})")
    kl = reference is not None and config.kl_coef > 0
    references = list(reference) if isinstance(reference, Sequence) else [reference] * r
    if kl and len(references) != r:
        raise ValueError(f"need one reference policy per run ({r}), got {len(references)}")
    n_tokens = [bt.completion.to(torch.float32).sum().clamp(min=1.0) for bt in batches]
    repeats = {bt.groups.repeats if bt.groups is not None else None for bt in batches}
    chunks: list[_Chunk] = []
    if not kl and len(repeats) == 1 and None not in repeats:
        # every run's rows are GRPO groups: each kept group's prompt is run once for its
        # K completions (as grpo_update does for a run alone)
        kept = [bt.groups.kept(a) for bt, a in zip(batches, advantages, strict=True)]
        rows = max(int(g.completions.shape[0]) for g, _ in kept)
        for sl in run_groups(r, rows, max_rows or r * rows):
            # each chunk of runs padded to its own longest (one run: no padding at all)
            grouped = _pad_groups([g for g, _ in kept[sl]], pad_id)
            score = functools.partial(_grouped_logprobs, model, grouped, suppress)
            adv = pad_sequence([a for _, a in kept[sl]], batch_first=True)
            chunks.append(_Chunk(sl, score, grouped.mask, adv, None))
        return _update_steps(model, optimizer, chunks, n_tokens, config, scheduler)
    # as grpo_update: only the completions' last columns are scored (the final layer
    # computes nothing else), as many as the run's whole batch spans
    widths = [bt.completion_width for bt in batches]
    parts, refs = [], []
    for bt, adv, width, ref in zip(batches, advantages, widths, references, strict=True):
        if kl:
            with torch.no_grad():
                refs.append(ref.logprobs(bt.tokens, bt.valid, last=width))
            parts.append((bt, adv))
            continue
        # as grpo_update: rows with a zero advantage add exactly 0 (loss and gradient)
        keep = torch.nonzero(adv != 0).squeeze(-1)
        if keep.numel() == 0:
            keep = torch.zeros(1, dtype=torch.long, device=adv.device)
        parts.append((TokenBatch(bt.tokens[keep], bt.valid[keep], bt.completion[keep]), adv[keep]))
    rows = max(int(p[0].tokens.shape[0]) for p in parts)
    for sl in run_groups(r, rows, max_rows or r * rows):
        batch = pad_batches([p[0] for p in parts[sl]], pad_id)
        width = max(widths[sl])  # the batches are left-padded: their last columns align
        masks = batch.completion[..., -width:]
        logp_ref = None
        if kl:
            logp_ref = torch.zeros(masks.shape, device=masks.device)
            for j, lp in enumerate(refs[sl]):
                logp_ref[j, : lp.shape[0], width - lp.shape[1] :] = lp
        score = functools.partial(_token_logprobs, model, batch, suppress, width)
        adv = pad_sequence([p[1] for p in parts[sl]], batch_first=True)
        chunks.append(_Chunk(sl, score, masks, adv, logp_ref))
    return _update_steps(model, optimizer, chunks, n_tokens, config, scheduler)


class _Chunk(NamedTuple):
    """Runs ``runs`` of a block taken in one forward pass of the update: ``score(leaves)``
    gives their log-probabilities (from :meth:`StackedLM.leaves` of ``runs``) laid out as
    ``masks`` ``(R', rows, C)``; ``advantages`` ``(R', rows)``; ``logp_ref`` the
    reference's, as ``masks``, or ``None``."""

    runs: slice
    score: Callable[[Runs], torch.Tensor]
    masks: torch.Tensor
    advantages: torch.Tensor
    logp_ref: torch.Tensor | None


def _grouped_logprobs(model, groups: PromptGroups, suppress, runs: Runs) -> torch.Tensor:
    return shared_prompt_logprobs_runs(model, groups, 1.0, suppress, runs)


def _token_logprobs(model, batch: TokenBatch, suppress, last: int, runs: Runs) -> torch.Tensor:
    return logprobs_runs(model, batch.tokens, batch.valid, 1.0, suppress, runs, last=last)


def _pad_groups(parts: Sequence[PromptGroups], pad_id: int) -> PromptGroups:
    """Runs' kept groups on one run axis: ``(R, G, P)`` prompts (left-padded) and ``(R,
    G K, C)`` completions and masks (right-padded); padding groups have an empty mask."""
    k = parts[0].repeats
    r = len(parts)
    g = max(int(p.prompt_tokens.shape[0]) for p in parts)
    width = max(int(p.prompt_tokens.shape[1]) for p in parts)
    c = max(int(p.completions.shape[1]) for p in parts)
    device = parts[0].prompt_tokens.device
    prompts = torch.full((r, g, width), pad_id, dtype=torch.long, device=device)
    valid = torch.zeros((r, g, width), dtype=torch.bool, device=device)
    completions = torch.full((r, g * k, c), pad_id, dtype=torch.long, device=device)
    mask = torch.zeros((r, g * k, c), dtype=torch.bool, device=device)
    for j, part in enumerate(parts):
        n, w = part.prompt_tokens.shape
        prompts[j, :n, width - w :] = part.prompt_tokens
        valid[j, :n, width - w :] = part.prompt_valid
        rows, cols = part.completions.shape
        completions[j, :rows, :cols] = part.completions
        mask[j, :rows, :cols] = part.mask
    return PromptGroups(prompts, valid, completions, mask, k)


def _update_steps(model, optimizer, chunks: Sequence[_Chunk], n_tokens, config,
                  scheduler) -> list[dict[str, float]]:  # fmt: skip
    """``config.updates_per_step`` AdamW steps of every run's clipped loss, the runs taken
    chunk by chunk (gradients accumulate)."""
    metrics: list[dict[str, float]] = []
    logp_old: list[torch.Tensor | None] = [None] * len(chunks)
    params = list(model.parameters())
    for _ in range(config.updates_per_step):
        optimizer.zero_grad(set_to_none=True)
        stats = []
        for c, chunk in enumerate(chunks):
            leaves = model.leaves(chunk.runs)
            logp = chunk.score(leaves)
            if logp_old[c] is None:
                logp_old[c] = logp.detach()  # on-policy: sampled from this policy
            total = logp.new_zeros(())
            for i, j in enumerate(range(chunk.runs.start, chunk.runs.stop)):
                mask = chunk.masks[i]
                loss, clip_fraction = clipped_policy_loss(
                    logp[i], logp_old[c][i], chunk.advantages[i], mask, config.clip_eps,
                    n_tokens[j],
                )  # fmt: skip
                ref = chunk.logp_ref
                k = kl_to_reference(logp[i], ref[i], mask) if ref is not None else None
                run_total = loss + config.kl_coef * k if k is not None else loss
                total = total + run_total
                stats.append((run_total, loss, clip_fraction, k))
            total.backward()
            model.add_grads(chunk.runs, leaves)
        grad_norm = _clip_per_run(params, model.runs, config.max_grad_norm)
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        metrics = []
        for j, (run_total, loss, clip_fraction, k) in enumerate(stats):
            m = {
                "train/loss": float(run_total.detach()),
                "train/policy_loss": float(loss.detach()),
                "train/clip_fraction": float(clip_fraction),
                "train/grad_norm": float(grad_norm[j]),
            }
            if k is not None:
                m["train/kl"] = float(k.detach())
            metrics.append(m)
    return metrics


def _clip_per_run(params: Sequence[torch.Tensor], runs: int, max_norm: float) -> torch.Tensor:
    """``clip_grad_norm_`` of each run's own parameters: the global 2-norm of a run's
    gradients, and its gradients scaled by ``min(1, max_norm / (norm + 1e-6))``.

    Each run's norm is ``torch.nn.utils.get_total_norm`` of its gradients, the function
    ``clip_grad_norm_`` itself uses, so that a run's norm (and with it its clipped step)
    is the float it gets alone."""
    grads = [p.grad for p in params if p.grad is not None]
    total = torch.stack([torch.nn.utils.get_total_norm([g[r] for g in grads]) for r in range(runs)])
    coef = torch.clamp(max_norm / (total + 1e-6), max=1.0)
    for g in grads:
        g.mul_(coef.reshape((runs,) + (1,) * (g.dim() - 1)))
    return total
