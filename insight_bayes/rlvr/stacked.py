"""Many runs of one model at once: :class:`StackedLM` holds ``R`` copies of a
:class:`~insight_bayes.rlvr.model.TinyLM` with every parameter stacked on a leading run axis.

A run's computation is the same as its own TinyLM's (the same equations: the attention
mask, the log-probabilities and the next-token draw are imported from
:mod:`insight_bayes.rlvr.model`); each linear layer is one batched matrix product over
the runs (``torch.baddbmm``), so a block of runs generates, trains and evaluates in one
computation. Runs may hold different numbers of rows (Dynamic Sampling's extra rounds):
each run's rows are padded to the block's and the padding is never read.

- :func:`generate_runs`: sampled completions of each run's prompts, each run drawing from
  its own generator exactly the random numbers its own :func:`~insight_bayes.rlvr.model.generate`
  would draw (the draws of run ``r`` are :func:`~insight_bayes.rlvr.model.sample_next` on
  its rows alone);
- :func:`logprobs_runs`: per-token log-probabilities of each run's token batch;
- :func:`shared_prompt_logprobs_runs`: the same for GRPO groups, each prompt run once for
  its ``K`` completions (:func:`~insight_bayes.rlvr.model.shared_prompt_logprobs` per run);
- :func:`grpo_update_runs`: one GRPO step of every run: the clipped loss of
  :mod:`insight_bayes.rlvr.grpo` per run (on the groups' shared prompts when every run's
  batch is groups and there is no KL term, as for a run alone), gradients clipped per run
  (the global norm of ``torch.nn.utils.clip_grad_norm_`` taken over each run's
  parameters), and one AdamW step of the stacked parameters (AdamW is elementwise, so it
  is every run's own AdamW).

Float results differ from separate runs by rounding only (``bmm`` sums in another order
than ``linear``, padding widens attention rows by exactly-zero terms): about 1e-7
relative per forward pass.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn
from torch.nn import functional as F

from insight_bayes.rlvr.grpo import PromptGroups, TokenBatch, clipped_policy_loss, kl_to_reference
from insight_bayes.rlvr.model import (
    KVBuffer,
    KVCache,
    ModelConfig,
    attention_mask,
    completion_inputs,
    completion_logprobs,
    logprobs_from_logits,
    repeat_cache,
    sample_next,
)
from insight_bayes.rlvr.padding import left_pad, positions_from_valid
from insight_bayes.rlvr.run_sections import GRPOConfig
from insight_bayes.validation import check_int

__all__ = [
    "StackedLM",
    "generate_runs",
    "grpo_update_runs",
    "logprobs_runs",
    "pad_batches",
    "run_groups",
    "shared_prompt_logprobs_runs",
]

#: TinyLM's output head shares the token embedding's weight (stacked once).
_TIED = "head.weight"

Runs = slice | torch.Tensor | None


class StackedLM(nn.Module):
    """``R`` TinyLMs of one shape, parameters stacked on a leading run axis.

    Parameters
    ----------
    config : ModelConfig
        The shape of every run's model (``dropout`` must be 0: RL samples and trains one
        policy).
    states : sequence of mapping
        One TinyLM ``state_dict`` per run (the warm-up's, typically the same for all).

    ``forward(idx, positions, key_valid, cache, runs)`` takes ``(R', B, T)`` tensors of the
    runs ``runs`` (a slice or index tensor into the run axis; default all) and returns
    ``(logits (R', B, T, V), cache)``; the cache holds ``(R' B, H, T, d / H)`` keys and values.
    """

    def __init__(self, config: ModelConfig, states: Sequence[Mapping[str, torch.Tensor]]) -> None:
        super().__init__()
        if not states:
            raise ValueError("a StackedLM needs at least one run's state")
        if config.dropout:
            raise ValueError(f"StackedLM needs dropout 0, got {config.dropout}")
        self.config = config
        self.names = [name for name in states[0] if name != _TIED]
        for name in self.names:
            stacked = torch.stack([s[name].detach() for s in states]).clone()
            self.register_parameter(name.replace(".", "__"), nn.Parameter(stacked))

    @property
    def runs(self) -> int:
        """Number of stacked runs ``R``."""
        return self.param("tok.weight").shape[0]

    def param(self, name: str) -> torch.Tensor:
        """The stacked parameter of TinyLM's ``name``, shape ``(R, ...)``."""
        return getattr(self, name.replace(".", "__"))

    def state_dict_of(self, run: int) -> dict[str, torch.Tensor]:
        """Run ``run``'s parameters as a TinyLM ``state_dict`` (detached copies)."""
        out = {name: self.param(name)[run].detach().clone() for name in self.names}
        out[_TIED] = out["tok.weight"]
        return out

    def forward(
        self,
        idx: torch.Tensor,
        positions: torch.Tensor,
        key_valid: torch.Tensor,
        cache: KVCache | None = None,
        runs: Runs = None,
        last: int | None = None,
    ) -> tuple[torch.Tensor, KVCache]:
        """Logits ``(R', B, T, vocab)`` of each run's ``(B, T)`` tokens, or of their last
        ``last`` positions only (``TinyLM.forward``'s ``last``: the final layer computes
        queries, MLP and head there alone), and the key/value cache."""
        if int(positions.max()) >= self.config.block_size:
            raise ValueError(f"sequence longer than block_size={self.config.block_size} tokens")
        if last is not None:
            last = check_int(last, "last", min_value=1, max_value=idx.shape[-1])
        p = {
            name: self.param(name) if runs is None else self.param(name)[runs]
            for name in self.names
        }
        r, b, t = idx.shape
        tok, pos = p["tok.weight"], p["pos.weight"]
        offsets = torch.arange(r, device=idx.device)[:, None, None]
        x = F.embedding(idx + offsets * tok.shape[1], tok.reshape(-1, tok.shape[-1]))
        x = x + F.embedding(positions + offsets * pos.shape[1], pos.reshape(-1, pos.shape[-1]))
        valid = key_valid.reshape(r * b, -1)
        new_cache: KVCache = []
        final = self.config.n_layer - 1
        for i in range(self.config.n_layer):
            pre = f"blocks.{i}."
            h = _layer_norm(x, p[pre + "ln1.weight"], p[pre + "ln1.bias"])
            only = last if i == final else None  # the last layer: only the wanted queries
            layer_cache = None if cache is None else cache[i]
            a, kv = self._attention(h, p, pre + "attn.", valid, layer_cache, only)
            x = (x if only is None else x[:, :, -only:]) + a
            h = _layer_norm(x, p[pre + "ln2.weight"], p[pre + "ln2.bias"])
            h = F.gelu(_linear(h, p[pre + "mlp.0.weight"], p[pre + "mlp.0.bias"]))
            x = x + _linear(h, p[pre + "mlp.2.weight"], p[pre + "mlp.2.bias"])
            new_cache.append(kv)
        x = _layer_norm(x, p["ln_f.weight"], p["ln_f.bias"])
        return _linear(x, tok, None), new_cache

    def _attention(self, x, p, pre, key_valid, cache, last=None):
        r, b, t, c = x.shape
        h = self.config.n_head
        q, k, v = _linear(x, p[pre + "qkv.weight"], p[pre + "qkv.bias"]).split(c, dim=-1)
        q, k, v = (z.reshape(r * b, t, h, c // h).transpose(1, 2) for z in (q, k, v))
        if isinstance(cache, KVBuffer):
            k, v = cache.append(k, v)
        elif cache is not None:
            k = torch.cat([cache[0], k], dim=2)
            v = torch.cat([cache[1], v], dim=2)
        if last is not None:  # only the last queries' outputs are wanted
            q, t = q[:, :, -last:], last
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=attention_mask(t, key_valid))
        y = y.transpose(1, 2).reshape(r, b, t, c)
        out = _linear(y, p[pre + "proj.weight"], p[pre + "proj.bias"])
        return out, cache if isinstance(cache, KVBuffer) else (k, v)


def _linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """``x W_r^T + b_r`` per run: ``x`` ``(R, ..., in)``, ``weight`` ``(R, out, in)``."""
    flat = x.reshape(x.shape[0], -1, x.shape[-1])
    w = weight.transpose(1, 2)
    y = torch.bmm(flat, w) if bias is None else torch.baddbmm(bias.unsqueeze(1), flat, w)
    return y.reshape(*x.shape[:-1], weight.shape[1])


def _layer_norm(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    shape = (x.shape[0],) + (1,) * (x.dim() - 2) + (x.shape[-1],)
    return F.layer_norm(x, x.shape[-1:]) * weight.reshape(shape) + bias.reshape(shape)


def _positions(valid: torch.Tensor) -> torch.Tensor:
    return positions_from_valid(valid.reshape(-1, valid.shape[-1])).reshape(valid.shape)


def run_groups(n_runs: int, rows_per_run: int, max_rows: int) -> list[slice]:
    """Consecutive groups of runs with at most ``max_rows`` rows in all (>= 1 run each)."""
    size = max(1, max_rows // max(1, rows_per_run))
    return [slice(s, min(s + size, n_runs)) for s in range(0, n_runs, size)]


# ------------------------------------------------------------------ log-probabilities
def logprobs_runs(
    model: StackedLM,
    tokens: torch.Tensor,
    valid: torch.Tensor,
    temperature: float = 1.0,
    suppress: Sequence[int] = (),
    runs: Runs = None,
    last: int | None = None,
) -> torch.Tensor:
    """Per-token log-probabilities ``(R', B, T - 1)`` of each run's ``(B, T)`` rows
    (:func:`~insight_bayes.rlvr.model.token_logprobs` per run), or ``(R', B, last)`` of
    their last ``last`` columns (the final layer computes only those)."""
    if last is None:
        logits, _ = model(tokens, _positions(valid), valid, runs=runs)
        return logprobs_from_logits(logits, tokens, temperature, suppress)
    last = check_int(last, "last", min_value=1, max_value=tokens.shape[-1] - 1)
    logits, _ = model(tokens, _positions(valid), valid, runs=runs, last=last + 1)
    return logprobs_from_logits(logits, tokens[..., -(last + 1) :], temperature, suppress)


def shared_prompt_logprobs_runs(
    model: StackedLM,
    groups: PromptGroups,
    temperature: float = 1.0,
    suppress: Sequence[int] = (),
    runs: Runs = None,
) -> torch.Tensor:
    """:func:`~insight_bayes.rlvr.model.shared_prompt_logprobs` per run: ``groups`` holds
    ``(R', G, P)`` prompts and ``(R', G K, C)`` completions; returns ``(R', G K, C)``."""
    k, completions = groups.repeats, groups.completions
    positions = _positions(groups.prompt_valid)
    head, cache = model(groups.prompt_tokens, positions, groups.prompt_valid, runs=runs, last=1)
    comp_positions, key_valid = completion_inputs(
        positions, groups.prompt_valid, completions, k, model.config.block_size
    )
    logits, _ = model(completions, comp_positions, key_valid, repeat_cache(cache, k), runs=runs)
    return completion_logprobs(head[..., -1:, :], logits, completions, k, temperature, suppress)


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


# ------------------------------------------------------------------ generation
@torch.no_grad()
def generate_runs(
    model: StackedLM,
    runs: Sequence[int],
    prompts: Sequence[Sequence[Sequence[int]]],
    max_new_tokens: int,
    *,
    eos_id: int,
    pad_id: int,
    temperature: float,
    generators: Sequence[torch.Generator | None],
    repeats: int = 1,
    suppress: Sequence[int] = (),
) -> list[torch.Tensor]:
    """Sampled completions of each run's prompts: :func:`~insight_bayes.rlvr.model.generate`
    of every run at once.

    Parameters
    ----------
    runs : sequence of int
        The model's runs that generate (distinct).
    prompts : sequence of sequences of token lists
        ``prompts[j]``: the prompts of run ``runs[j]`` (at least one each).
    generators : sequence of torch.Generator
        ``generators[j]`` draws run ``runs[j]``'s tokens: the same numbers, in the same
        order, as ``generate`` of that run alone would draw from it.

    Returns
    -------
    list of Tensor
        Run ``runs[j]``'s tokens, shape ``(len(prompts[j]) * repeats, L_j)``, ``L_j`` the
        steps that run took (``generate``'s shape).
    """
    max_new_tokens = check_int(max_new_tokens, "max_new_tokens", min_value=1)
    repeats = check_int(repeats, "repeats", min_value=1)
    if len(runs) != len(prompts) or len(generators) != len(prompts):
        raise ValueError("runs, prompts and generators need one entry per run")
    device = model.param("tok.weight").device
    n = [len(p) for p in prompts]
    if min(n) < 1:
        raise ValueError("every run needs at least one prompt")
    width = max(n)
    seqs = [list(p[i]) if i < len(p) else list(p[0]) for p in prompts for i in range(width)]
    tokens, valid = left_pad(seqs, pad_id, device)
    r = len(runs)
    tokens, valid = tokens.reshape(r, width, -1), valid.reshape(r, width, -1)
    positions = _positions(valid)
    index = torch.as_tensor(list(runs), device=device)
    select: slice | torch.Tensor = (
        slice(int(runs[0]), int(runs[0]) + r)
        if list(runs) == list(range(int(runs[0]), int(runs[0]) + r))
        else index
    )
    b = width * repeats
    rows = [k * repeats for k in n]
    out = torch.full((r, b, max_new_tokens), pad_id, dtype=torch.long, device=device)
    done = torch.arange(b, device=device)[None, :] >= torch.as_tensor(rows, device=device)[:, None]
    steps = [0] * r
    next_pos = (positions[..., -1] + 1).repeat_interleave(repeats, dim=1)
    cache = None
    inp, inp_pos = tokens, positions
    run_done = [False] * r
    for step in range(max_new_tokens):
        # the prompts' pass: only their last position's logits are sampled from
        logits, cache = model(inp, inp_pos, valid, cache, runs=select, last=1)
        if step == 0:
            if repeats > 1:  # share each prompt's prefix among its samples
                logits = logits.repeat_interleave(repeats, dim=1)
                cache = repeat_cache(cache, repeats)
                valid = valid.repeat_interleave(repeats, dim=1)
            # later tokens' keys and values are written in place (as generate does)
            width = valid.size(2)
            cache = [KVBuffer(k, v, width + max_new_tokens) for k, v in cache]
            valid_buffer = torch.ones(r, b, width + max_new_tokens, dtype=torch.bool,
                                      device=device)  # fmt: skip
            valid_buffer[:, :, :width] = valid
        last = logits[:, :, -1]
        nxt = torch.full((r, b), pad_id, dtype=torch.long, device=device)
        for j in range(r):
            if not run_done[j]:  # a run alone stops drawing once all its rows are done
                nxt[j, : rows[j]] = sample_next(
                    last[j, : rows[j]], temperature, generators[j], suppress
                )
                steps[j] = step + 1
        nxt = torch.where(done, torch.full_like(nxt, pad_id), nxt)
        out[:, :, step] = nxt
        done |= nxt == eos_id
        run_done = done.all(dim=1).tolist()
        if all(run_done):
            break
        inp, inp_pos = nxt[..., None], next_pos[..., None]
        valid = valid_buffer[:, :, : valid.size(2) + 1]  # the new token's key is valid
        next_pos = next_pos + 1
    return [out[j, : rows[j], : steps[j]] for j in range(r)]


# ------------------------------------------------------------------ GRPO update
def pad_batches(batches: Sequence[TokenBatch], pad_id: int) -> TokenBatch:
    """Each run's left-padded batch, padded again to one ``(R, B, T)`` batch (rows added
    at the end are all padding; columns added on the left)."""
    r = len(batches)
    rows = max(int(bt.tokens.shape[0]) for bt in batches)
    width = max(int(bt.tokens.shape[1]) for bt in batches)
    device = batches[0].tokens.device
    tokens = torch.full((r, rows, width), pad_id, dtype=torch.long, device=device)
    valid = torch.zeros((r, rows, width), dtype=torch.bool, device=device)
    completion = torch.zeros((r, rows, width - 1), dtype=torch.bool, device=device)
    for j, bt in enumerate(batches):
        n, w = bt.tokens.shape
        tokens[j, :n, width - w :] = bt.tokens
        valid[j, :n, width - w :] = bt.valid
        completion[j, :n, width - w :] = bt.completion
    return TokenBatch(tokens, valid, completion)


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
