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
  would draw (:func:`~insight_bayes.rlvr.model.sample_next`'s distribution,
  :func:`~insight_bayes.rlvr.model.sampling_weights`, for every run at once, then each
  run's rows drawn by :func:`~insight_bayes.rlvr.model.draw_next` from its generator);
- :func:`logprobs_runs`: per-token log-probabilities of each run's token batch;
- :func:`shared_prompt_logprobs_runs`: the same for GRPO groups, each prompt run once for
  its ``K`` completions (:func:`~insight_bayes.rlvr.model.shared_prompt_logprobs` per run);
- :func:`pad_batches`: each run's token batch on one run axis.

The GRPO step of every run is :func:`insight_bayes.rlvr.stacked_grpo.grpo_update_runs`.

A pass of one run (``R' = 1``) is TinyLM's own computation (``F.linear``, the fused layer
norm): the same floats as the run alone, which is how a CPU block computes
(:class:`~insight_bayes.rlvr.batched.RunBlock`). A pass over several runs differs from
separate runs by rounding only (each run's layer-norm affine is applied after the
normalisation, padding widens attention rows by exactly-zero terms): about 1e-7 relative
per forward pass.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

import torch
from torch import nn
from torch.nn import functional as F

from insight_bayes.rlvr.grpo import PromptGroups, TokenBatch
from insight_bayes.rlvr.model import (
    KVBuffer,
    KVCache,
    ModelConfig,
    attention_mask,
    completion_inputs,
    completion_logprobs,
    draw_next,
    logprobs_from_logits,
    repeat_cache,
    sampling_weights,
)
from insight_bayes.rlvr.padding import left_pad, positions_from_valid
from insight_bayes.validation import check_int

__all__ = [
    "FixedSteps",
    "Runs",
    "StackedLM",
    "generate_runs",
    "logprobs_runs",
    "pad_batches",
    "run_groups",
    "shared_prompt_logprobs_runs",
]


class FixedSteps(Protocol):
    """What :func:`generate_runs` needs of fixed-shape generation steps
    (:class:`~insight_bayes.rlvr.block_graphs.BlockGraphs` is one): the rows a run's
    prompts are padded to, and the generation of a shape (``prefill``: the prompts' pass,
    then ``step``: one token per row), or ``None`` (that call runs with the growing
    cache)."""

    def rows(self, prompts: int) -> int: ...

    def step_for(self, runs: Sequence[int], rows: int, width: int, capacity: int, repeats: int): ...


#: TinyLM's output head shares the token embedding's weight (stacked once).
_TIED = "head.weight"

#: Which runs a pass computes: all (``None``), a slice or index tensor into the run axis, or
#: those runs' parameters themselves (:meth:`StackedLM.leaves`).
Runs = slice | torch.Tensor | Mapping[str, torch.Tensor] | None


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

    def leaves(self, runs: slice) -> dict[str, torch.Tensor]:
        """The parameters of runs ``runs`` as leaf tensors that require gradients (views of
        the stacked ones): a pass given them (``runs=leaves``) leaves its gradients in
        their ``.grad``, for :meth:`add_grads`. A pass on a slice of the stacked
        parameters would instead write a zero-filled gradient of the whole stack for
        each chunk of runs (work that grows with the square of the runs)."""
        return {n: self.param(n).detach()[runs].requires_grad_() for n in self.names}

    def add_grads(self, runs: slice, leaves: Mapping[str, torch.Tensor]) -> None:
        """Add the gradients ``leaves`` hold (:meth:`leaves` of ``runs``) to the stacked
        parameters' ``.grad`` rows ``runs`` (a missing ``.grad`` starts at zero)."""
        for name, leaf in leaves.items():
            if leaf.grad is None:
                continue
            param = self.param(name)
            if param.grad is None:
                param.grad = torch.zeros_like(param)
            param.grad[runs] += leaf.grad

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
        max_position: int | None = None,
        mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, KVCache]:
        """Logits ``(R', B, T, vocab)`` of each run's ``(B, T)`` tokens, or of their last
        ``last`` positions only (``TinyLM.forward``'s ``last``: the final layer computes
        queries, MLP and head there alone), and the key/value cache.

        ``max_position``: the largest of ``positions`` when the caller knows it (a
        generation step does), so that checking it against ``block_size`` does not wait
        for the device; by default it is read from ``positions``. ``mask``: the attention
        mask ``(R' B, 1, T, keys)`` when the caller builds it (a fixed-shape generation
        step, :mod:`insight_bayes.rlvr.block_graphs`); by default
        :func:`~insight_bayes.rlvr.model.attention_mask` of ``key_valid``."""
        if max_position is None:
            max_position = int(positions.max())
        if max_position >= self.config.block_size:
            raise ValueError(f"sequence longer than block_size={self.config.block_size} tokens")
        if last is not None:
            last = check_int(last, "last", min_value=1, max_value=idx.shape[-1])
        if isinstance(runs, Mapping):  # the runs' own parameters (leaves)
            p = runs
        else:
            every = runs is None or (  # all runs in order: the parameters as they are
                isinstance(runs, slice) and runs.indices(self.runs) == (0, self.runs, 1)
            )
            p = {n: self.param(n) if every else self.param(n)[runs] for n in self.names}
        r, b, t = idx.shape
        tok, pos = p["tok.weight"], p["pos.weight"]
        offsets = torch.arange(r, device=idx.device)[:, None, None]
        x = F.embedding(idx + offsets * tok.shape[1], tok.reshape(-1, tok.shape[-1]))
        x = x + F.embedding(positions + offsets * pos.shape[1], pos.reshape(-1, pos.shape[-1]))
        if mask is None:  # one mask, shared by every layer (as TinyLM)
            mask = attention_mask(t, key_valid.reshape(r * b, -1))
        new_cache: KVCache = []
        final = self.config.n_layer - 1
        for i in range(self.config.n_layer):
            pre = f"blocks.{i}."
            h = _layer_norm(x, p[pre + "ln1.weight"], p[pre + "ln1.bias"])
            only = last if i == final else None  # the last layer: only the wanted queries
            layer_cache = None if cache is None else cache[i]
            a, kv = self._attention(h, p, pre + "attn.", mask, layer_cache, only)
            x = (x if only is None else x[:, :, -only:]) + a
            h = _layer_norm(x, p[pre + "ln2.weight"], p[pre + "ln2.bias"])
            h = F.gelu(_linear(h, p[pre + "mlp.0.weight"], p[pre + "mlp.0.bias"]))
            x = x + _linear(h, p[pre + "mlp.2.weight"], p[pre + "mlp.2.bias"])
            new_cache.append(kv)
        x = _layer_norm(x, p["ln_f.weight"], p["ln_f.bias"])
        return _linear(x, tok, None), new_cache

    def _attention(self, x, p, pre, mask, cache, last=None):
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
            q, mask, t = q[:, :, -last:], mask[..., -last:, :], last
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        y = y.transpose(1, 2).reshape(r, b, t, c)
        out = _linear(y, p[pre + "proj.weight"], p[pre + "proj.bias"])
        return out, cache if isinstance(cache, KVBuffer) else (k, v)


def _linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """``x W_r^T + b_r`` per run: ``x`` ``(R, ..., in)``, ``weight`` ``(R, out, in)``.

    One run (``R = 1``) is TinyLM's own ``F.linear``: the same floats as the run alone."""
    if x.shape[0] == 1:
        return F.linear(x[0], weight[0], None if bias is None else bias[0]).unsqueeze(0)
    flat = x.reshape(x.shape[0], -1, x.shape[-1])
    w = weight.transpose(1, 2)
    y = torch.bmm(flat, w) if bias is None else torch.baddbmm(bias.unsqueeze(1), flat, w)
    return y.reshape(*x.shape[:-1], weight.shape[1])


def _layer_norm(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """Layer norm with each run's affine; one run is TinyLM's fused ``F.layer_norm``."""
    if x.shape[0] == 1:
        return F.layer_norm(x[0], x.shape[-1:], weight[0], bias[0]).unsqueeze(0)
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
    max_position: int | None = None,
) -> torch.Tensor:
    """Per-token log-probabilities ``(R', B, T - 1)`` of each run's ``(B, T)`` rows
    (:func:`~insight_bayes.rlvr.model.token_logprobs` per run), or ``(R', B, last)`` of
    their last ``last`` columns (the final layer computes only those); ``max_position``:
    see :meth:`StackedLM.forward`."""
    if last is None:
        logits, _ = model(tokens, _positions(valid), valid, runs=runs, max_position=max_position)
        return logprobs_from_logits(logits, tokens, temperature, suppress)
    last = check_int(last, "last", min_value=1, max_value=tokens.shape[-1] - 1)
    logits, _ = model(tokens, _positions(valid), valid, runs=runs, last=last + 1,
                      max_position=max_position)  # fmt: skip
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
    graphs: FixedSteps | None = None,
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
    graphs : FixedSteps, optional
        Run the prompts' pass and the steps after it with fixed shapes (each run's
        prompts padded to :meth:`~insight_bayes.rlvr.block_graphs.BlockGraphs.rows`),
        replayed as CUDA graphs on a GPU (:mod:`insight_bayes.rlvr.block_graphs`): the
        same draws, logits equal to rounding.

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
    width = max(n) if graphs is None else graphs.rows(max(n))
    seqs = [list(p[i]) if i < len(p) else list(p[0]) for p in prompts for i in range(width)]
    tokens, valid = left_pad(seqs, pad_id, device)
    r = len(runs)
    prompt_len = tokens.shape[-1]  # the longest prompt (left-padded: all of it valid)
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
    capacity = prompt_len + max_new_tokens
    # fixed shapes (graphs on a GPU), or None: the cache grows a token at a time
    fixed = None if graphs is None else graphs.step_for(list(runs), b, prompt_len, capacity,
                                                         repeats)  # fmt: skip
    for step in range(max_new_tokens):
        # the prompts' pass: only their last position's logits are sampled from; the
        # largest position fed is known here (the longest prompt's last, then one more
        # per step), so the model's block_size check does not wait for the device
        if fixed is None:
            logits, cache = model(inp, inp_pos, valid, cache, runs=select, last=1,
                                  max_position=prompt_len - 1 + step)  # fmt: skip
        elif prompt_len - 1 + step >= model.config.block_size:
            raise ValueError(f"sequence longer than block_size={model.config.block_size} tokens")
        elif step == 0:
            logits = fixed.prefill(tokens, positions, valid)
        else:
            logits = fixed.step(inp[..., 0], inp_pos[..., 0], prompt_len + step - 1)
        if step == 0 and fixed is None:
            if repeats > 1:  # share each prompt's prefix among its samples
                logits = logits.repeat_interleave(repeats, dim=1)
                cache = repeat_cache(cache, repeats)
                valid = valid.repeat_interleave(repeats, dim=1)
            # later tokens' keys and values are written in place (as generate does)
            cache = [KVBuffer(k, v, capacity) for k, v in cache]
            valid_buffer = torch.ones(r, b, capacity, dtype=torch.bool, device=device)
            valid_buffer[:, :, :prompt_len] = valid
        # every run's distribution at once (row by row, as each run's alone), then each
        # run's draws from its own generator
        weights = sampling_weights(logits[:, :, -1], temperature, suppress)
        nxt = torch.full((r, b), pad_id, dtype=torch.long, device=device)
        for j in range(r):
            if not run_done[j]:  # a run alone stops drawing once all its rows are done
                nxt[j, : rows[j]] = draw_next(weights[j, : rows[j]], temperature, generators[j])
                steps[j] = step + 1
        nxt = torch.where(done, torch.full_like(nxt, pad_id), nxt)
        out[:, :, step] = nxt
        done |= nxt == eos_id
        run_done = done.all(dim=1).tolist()
        if all(run_done):
            break
        inp, inp_pos = nxt[..., None], next_pos[..., None]
        if fixed is None:
            valid = valid_buffer[:, :, : valid.size(2) + 1]  # the new token's key is valid
        next_pos = next_pos + 1
    return [out[j, : rows[j], : steps[j]] for j in range(r)]


# ------------------------------------------------------------------ padding
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
