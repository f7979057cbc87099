"""One GRPO step of every run of a :class:`~insight_bayes.rlvr.stacked.StackedLM`.

:func:`grpo_update_runs` is :func:`~insight_bayes.rlvr.grpo.grpo_update` of each run at
once: the clipped loss of :mod:`insight_bayes.rlvr.grpo` per run (on the groups' shared
prompts when every run's batch is groups and there is no KL term, as for a run alone),
gradients clipped per run (the global norm of ``torch.nn.utils.clip_grad_norm_`` taken
over each run's parameters), and one AdamW step of the stacked parameters (AdamW is
elementwise, so it is every run's own AdamW).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from insight_bayes.rlvr.grpo import PromptGroups, TokenBatch, clipped_policy_loss, kl_to_reference
from insight_bayes.rlvr.run_sections import GRPOConfig
from insight_bayes.rlvr.stacked import (
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
    ``reference`` (a policy, for ``config.kl_coef > 0``) is every run's reference (the
    warm-up). ``max_rows`` bounds the rows of one forward pass (runs are taken in groups;
    gradients accumulate). Returns each run's metrics, as ``grpo_update`` does.
    """
    r = model.runs
    if len(batches) != r or len(advantages) != r:
        raise ValueError(f"need one batch and one advantage vector per run ({r})")
    kl = reference is not None and config.kl_coef > 0
    n_tokens = [bt.completion.to(torch.float32).sum().clamp(min=1.0) for bt in batches]
    repeats = {bt.groups.repeats if bt.groups is not None else None for bt in batches}
    if not kl and len(repeats) == 1 and None not in repeats:
        # every run's rows are GRPO groups: each kept group's prompt is run once for its
        # K completions (as grpo_update does for a run alone)
        kept = [bt.groups.kept(a) for bt, a in zip(batches, advantages, strict=True)]
        kept_adv = [a for _, a in kept]
        grouped = _pad_groups([g for g, _ in kept], pad_id)
        masks = grouped.mask
        adv = torch.zeros(masks.shape[:2], dtype=kept_adv[0].dtype, device=masks.device)
        for j, a in enumerate(kept_adv):
            adv[j, : a.numel()] = a

        def score(sl: slice) -> torch.Tensor:
            part = PromptGroups(
                grouped.prompt_tokens[sl], grouped.prompt_valid[sl], grouped.completions[sl],
                masks[sl], grouped.repeats,
            )  # fmt: skip
            return shared_prompt_logprobs_runs(model, part, 1.0, suppress, sl)

        return _update_steps(model, optimizer, score, masks, adv, n_tokens, None, config,
                             scheduler, max_rows)  # fmt: skip
    parts, refs = [], []
    for bt, adv in zip(batches, advantages, strict=True):
        if kl:
            with torch.no_grad():
                refs.append(reference.logprobs(bt.tokens, bt.valid))
            parts.append((bt, adv))
            continue
        # as grpo_update: rows with a zero advantage add exactly 0 (loss and gradient)
        keep = torch.nonzero(adv != 0).squeeze(-1)
        if keep.numel() == 0:
            keep = torch.zeros(1, dtype=torch.long, device=adv.device)
        parts.append((TokenBatch(bt.tokens[keep], bt.valid[keep], bt.completion[keep]), adv[keep]))
    batch = pad_batches([p[0] for p in parts], pad_id)
    rows, width = batch.tokens.shape[1], batch.tokens.shape[2]
    adv = torch.zeros((r, rows), dtype=parts[0][1].dtype, device=batch.tokens.device)
    for j, (_, a) in enumerate(parts):
        adv[j, : a.numel()] = a
    logp_ref = None
    if kl:
        logp_ref = torch.zeros((r, rows, width - 1), device=batch.tokens.device)
        for j, lp in enumerate(refs):
            logp_ref[j, : lp.shape[0], width - 1 - lp.shape[1] :] = lp

    def score(sl: slice) -> torch.Tensor:
        return logprobs_runs(model, batch.tokens[sl], batch.valid[sl], 1.0, suppress, sl)

    return _update_steps(model, optimizer, score, batch.completion, adv, n_tokens, logp_ref,
                         config, scheduler, max_rows)  # fmt: skip


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


def _update_steps(model, optimizer, score, masks, adv, n_tokens, logp_ref, config, scheduler,
                  max_rows) -> list[dict[str, float]]:  # fmt: skip
    """``config.updates_per_step`` AdamW steps of every run's clipped loss: ``score(sl)``
    gives the log-probabilities of the runs ``sl`` laid out as ``masks[sl]``."""
    r, rows = masks.shape[0], masks.shape[1]
    groups = run_groups(r, rows, max_rows or r * rows)
    metrics: list[dict[str, float]] = []
    logp_old: list[torch.Tensor | None] = [None] * len(groups)
    params = list(model.parameters())
    for _ in range(config.updates_per_step):
        optimizer.zero_grad(set_to_none=True)
        stats = []
        for g, sl in enumerate(groups):
            logp = score(sl)
            if logp_old[g] is None:
                logp_old[g] = logp.detach()  # on-policy: sampled from this policy
            total = logp.new_zeros(())
            for j in range(sl.start, sl.stop):
                i = j - sl.start
                mask = masks[j]
                loss, clip_fraction = clipped_policy_loss(
                    logp[i], logp_old[g][i], adv[j], mask, config.clip_eps, n_tokens[j]
                )
                k = kl_to_reference(logp[i], logp_ref[j], mask) if logp_ref is not None else None
                run_total = loss + config.kl_coef * k if k is not None else loss
                total = total + run_total
                stats.append((run_total, loss, clip_fraction, k))
            total.backward()
        grad_norm = _clip_per_run(params, r, config.max_grad_norm)
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
    gradients, and its gradients scaled by ``min(1, max_norm / (norm + 1e-6))``."""
    grads = [p.grad for p in params if p.grad is not None]
    norms = torch.stack([torch.linalg.vector_norm(g.reshape(runs, -1), 2, dim=1) for g in grads])
    total = torch.linalg.vector_norm(norms, 2, dim=0)
    coef = torch.clamp(max_norm / (total + 1e-6), max=1.0)
    for g in grads:
        g.mul_(coef.reshape((runs,) + (1,) * (g.dim() - 1)))
    return total
