"""A small decoder-only transformer (nanoGPT-shaped) with KV-cached batch sampling.

Sequences in a batch are left-padded; a boolean ``valid`` mask marks real tokens, and
each token's position is its index among the real tokens of its row, so a sequence gets
the same logits whatever padding surrounds it. Padded keys are masked out of attention.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

from insight_bayes.rlvr.padding import left_pad, positions_from_valid
from insight_bayes.validation import check_int, check_real

__all__ = [
    "KVBuffer",
    "ModelConfig",
    "TinyLM",
    "attention_mask",
    "completion_inputs",
    "completion_logprobs",
    "generate",
    "left_pad",
    "logprobs_from_logits",
    "positions_from_valid",
    "repeat_cache",
    "shared_prompt_logprobs",
    "sample_next",
    "token_logprobs",
]

KVCache = list  # per layer: a ``(keys, values)`` pair, or a :class:`KVBuffer`


class KVBuffer:
    """One layer's cached keys and values in preallocated storage ``(B, H, capacity, d)``.

    :meth:`append` writes the new keys and values in place and returns views of all so
    far: a generation step copies only its own token's, where concatenating copies every
    earlier one. The views equal the concatenated tensors, so attention is unchanged.
    """

    def __init__(self, keys: torch.Tensor, values: torch.Tensor, capacity: int) -> None:
        b, h, t, d = keys.shape
        if capacity < t:
            raise ValueError(f"capacity={capacity} is smaller than the {t} cached tokens")
        self._k = keys.new_empty(b, h, capacity, d)
        self._v = values.new_empty(b, h, capacity, d)
        self._k[:, :, :t] = keys
        self._v[:, :, :t] = values
        self.length = t

    def append(self, keys: torch.Tensor, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store ``keys``/``values`` ``(B, H, t, d)`` after the cached ones; return all."""
        end = self.length + keys.size(2)
        if end > self._k.size(2):
            raise ValueError(f"KV buffer full: {end} tokens > capacity {self._k.size(2)}")
        self._k[:, :, self.length : end] = keys
        self._v[:, :, self.length : end] = values
        self.length = end
        return self._k[:, :, :end], self._v[:, :, :end]


@dataclass(frozen=True)
class ModelConfig:
    """Shape of :class:`TinyLM`.

    Attributes
    ----------
    vocab_size : int
        Tokens in the vocabulary (the tokenizer's ``vocab_size``).
    block_size : int
        Longest sequence (prompt and completion), in tokens.
    n_layer, n_head, d_model : int
        Depth, attention heads and width (``d_model`` divisible by ``n_head``).
        ``n_layer=4, d_model=128`` has about 0.8M parameters (the CPU default);
        ``n_layer=8, d_model=384`` about 14M.
    dropout : float
        Dropout rate (0 for RL: the sampling and the training policy must agree).
    """

    vocab_size: int
    block_size: int = 64
    n_layer: int = 4
    n_head: int = 4
    d_model: int = 128
    dropout: float = 0.0

    def __post_init__(self) -> None:
        check_int(self.vocab_size, "vocab_size", min_value=2)
        check_int(self.block_size, "block_size", min_value=2)
        check_int(self.n_layer, "n_layer", min_value=1)
        check_int(self.n_head, "n_head", min_value=1)
        check_int(self.d_model, "d_model", min_value=1)
        if self.d_model % self.n_head:
            raise ValueError(
                f"d_model must be divisible by n_head; got d_model={self.d_model}, "
                f"n_head={self.n_head}"
            )
        check_real(self.dropout, "dropout", low=0.0, high=1.0, high_inclusive=False)

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def attention_mask(t: int, key_valid: torch.Tensor) -> torch.Tensor:
    """Which keys each of the last ``t`` queries attends to: shape ``(B, 1, t, total)``.

    ``key_valid`` ``(B, total)`` covers the cached keys and the ``t`` new ones. Query
    ``i`` sits at absolute index ``total - t + i`` and sees the valid keys ``j`` up to that
    index; a padded query keeps its own key, so that no row is fully masked (no NaN).
    """
    total = key_valid.size(-1)
    device = key_valid.device
    causal = torch.ones(t, total, dtype=torch.bool, device=device).tril(total - t)
    own = torch.zeros_like(causal)
    own[:, total - t :] = torch.eye(t, dtype=torch.bool, device=device)
    return (causal & key_valid[:, None, None, :]) | own


class _Attention(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.n_head = cfg.n_head
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model)
        self.dropout = cfg.dropout

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor,
        cache: tuple[torch.Tensor, torch.Tensor] | KVBuffer | None,
        last: int | None = None,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor] | KVBuffer]:
        b, t, c = x.shape
        q, k, v = self.qkv(x).split(c, dim=2)
        q, k, v = (z.view(b, t, self.n_head, c // self.n_head).transpose(1, 2) for z in (q, k, v))
        if isinstance(cache, KVBuffer):
            k, v = cache.append(k, v)
        elif cache is not None:
            k = torch.cat([cache[0], k], dim=2)
            v = torch.cat([cache[1], v], dim=2)
        if last is not None:  # only the last queries' outputs are wanted
            q, mask, t = q[:, :, -last:], mask[..., -last:, :], last
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=self.dropout if self.training else 0.0
        )
        y = y.transpose(1, 2).contiguous().view(b, t, c)
        return self.proj(y), cache if isinstance(cache, KVBuffer) else (k, v)


class _Block(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.d_model)
        self.attn = _Attention(cfg)
        self.ln2 = nn.LayerNorm(cfg.d_model)
        self.mlp = nn.Sequential(
            nn.Linear(cfg.d_model, 4 * cfg.d_model),
            nn.GELU(),
            nn.Linear(4 * cfg.d_model, cfg.d_model),
            nn.Dropout(cfg.dropout),
        )

    def forward(self, x, mask, cache, last=None):
        a, new_cache = self.attn(self.ln1(x), mask, cache, last)
        x = (x if last is None else x[:, -last:]) + a
        return x + self.mlp(self.ln2(x)), new_cache


class TinyLM(nn.Module):
    """Decoder-only transformer: token and position embeddings, pre-norm blocks, tied head.

    ``forward(idx, positions, key_valid, cache, last)`` returns ``(logits, cache)`` with
    logits of shape ``(B, T, vocab_size)``, or ``(B, last, vocab_size)`` for the last
    ``last`` positions only; ``key_valid`` covers the cached keys and the new tokens,
    shape ``(B, T_cache + T)``.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.tok = nn.Embedding(config.vocab_size, config.d_model)
        self.pos = nn.Embedding(config.block_size, config.d_model)
        self.blocks = nn.ModuleList(_Block(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.d_model)
        self.head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        self.head.weight = self.tok.weight
        self.apply(_init_weights)
        for name, p in self.named_parameters():
            if name.endswith("proj.weight") or name.endswith("mlp.2.weight"):
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * config.n_layer))

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def forward(
        self,
        idx: torch.Tensor,
        positions: torch.Tensor,
        key_valid: torch.Tensor,
        cache: KVCache | None = None,
        last: int | None = None,
    ) -> tuple[torch.Tensor, KVCache]:
        if int(positions.max()) >= self.config.block_size:
            raise ValueError(f"sequence longer than block_size={self.config.block_size} tokens")
        if last is not None:
            last = check_int(last, "last", min_value=1, max_value=idx.size(1))
        x = self.tok(idx) + self.pos(positions)
        mask = attention_mask(idx.size(1), key_valid)  # one mask, shared by every layer
        new_cache: KVCache = []
        final = len(self.blocks) - 1
        for i, block in enumerate(self.blocks):
            # the last layer's queries, MLP and head only where logits are wanted: the
            # keys and values of every earlier token are still computed
            layer_cache = None if cache is None else cache[i]
            x, kv = block(x, mask, layer_cache, last if i == final else None)
            new_cache.append(kv)
        return self.head(self.ln_f(x)), new_cache


def _init_weights(module: nn.Module) -> None:
    if isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Embedding):
        nn.init.normal_(module.weight, std=0.02)


# --------------------------------------------------------------------------- helpers
def _suppressed(logits: torch.Tensor, suppress: Sequence[int] | torch.Tensor) -> torch.Tensor:
    """``logits`` with the ``suppress`` ids (or an id tensor on their device) at ``-inf``."""
    if len(suppress) == 0:
        return logits
    logits = logits.clone()
    logits.index_fill_(-1, torch.as_tensor(suppress, device=logits.device), float("-inf"))
    return logits


def token_logprobs(
    model: TinyLM,
    tokens: torch.Tensor,
    valid: torch.Tensor,
    temperature: float = 1.0,
    suppress: Sequence[int] = (),
    last: int | None = None,
) -> torch.Tensor:
    """``log p(tokens[:, t+1] | tokens[:, :t+1])`` for every ``t``: shape ``(B, T - 1)``.

    ``p`` is ``softmax(logits / temperature)`` over the tokens not in ``suppress``: the
    distribution :func:`generate` samples with the same arguments. With ``last = n``
    only the last ``n`` columns, shape ``(B, n)``: the log-probabilities of the last
    ``n`` tokens (a left-padded batch's completions), whose logits are all the final
    layer computes (:meth:`TinyLM.forward`).
    """
    if last is None:
        logits, _ = model(tokens, positions_from_valid(valid), valid)
        return logprobs_from_logits(logits, tokens, temperature, suppress)
    last = check_int(last, "last", min_value=1, max_value=tokens.size(1) - 1)
    logits, _ = model(tokens, positions_from_valid(valid), valid, last=last + 1)
    return logprobs_from_logits(logits, tokens[:, -(last + 1) :], temperature, suppress)


def shared_prompt_logprobs(
    model: TinyLM,
    prompt_tokens: torch.Tensor,
    prompt_valid: torch.Tensor,
    completions: torch.Tensor,
    repeats: int,
    temperature: float = 1.0,
    suppress: Sequence[int] = (),
) -> torch.Tensor:
    """Log-probabilities of ``repeats`` completions of each prompt, each prompt run once.

    The same quantity as :func:`token_logprobs` on every prompt-completion pair, laid out
    by completion: ``out[i K + j, t] = log p(c_{ij,t} | x_i, c_{ij,<t})``. Each prompt
    ``x_i`` goes through the model once and its keys and values are shared by its ``K``
    completions (as in :func:`generate`), so a GRPO group's prompt tokens cost ``1 / K``
    of scoring every row in full; gradients flow to the shared prompt pass. Float results
    equal :func:`token_logprobs`'s to rounding.

    Parameters
    ----------
    prompt_tokens, prompt_valid : Tensor, shape (G, P)
        Left-padded prompts.
    completions : Tensor, shape (G K, C)
        Completion ``j`` of prompt ``i`` in row ``i K + j``, right-padded (padding after a
        completion is never read by its tokens).
    repeats : int
        ``K``, completions per prompt.

    Returns
    -------
    Tensor, shape (G K, C)
        Column ``t`` scores completion token ``t``; columns after a completion's end hold
        the padding's (meaningless) values: mask them.
    """
    repeats = check_int(repeats, "repeats", min_value=1)
    g, k = prompt_tokens.size(0), repeats
    if completions.size(0) != g * k:
        raise ValueError(f"{completions.size(0)} completions for {g} prompts x {k} repeats")
    positions = positions_from_valid(prompt_valid)
    head, cache = model(prompt_tokens, positions, prompt_valid, last=1)
    comp_positions, key_valid = completion_inputs(
        positions, prompt_valid, completions, k, model.config.block_size
    )
    logits, _ = model(completions, comp_positions, key_valid, repeat_cache(cache, k))
    return completion_logprobs(head, logits, completions, k, temperature, suppress)


def repeat_cache(cache: KVCache, repeats: int) -> KVCache:
    """Each row's cached keys and values ``repeats`` times in a row: a prompt's, shared by
    its samples or completions (row ``i`` becomes rows ``i K`` to ``i K + K - 1``)."""
    return [(k.repeat_interleave(repeats, 0), v.repeat_interleave(repeats, 0)) for k, v in cache]


def completion_inputs(
    prompt_positions: torch.Tensor,
    prompt_valid: torch.Tensor,
    completions: torch.Tensor,
    repeats: int,
    block_size: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Positions ``(..., G K, C)`` and key mask ``(..., G K, P + C)`` of ``repeats``
    right-padded completions after each of ``G`` left-padded prompts ``(..., G, P)``;
    padding past the longest sequence is clamped to ``block_size - 1`` (never read)."""
    steps = torch.arange(completions.shape[-1], device=completions.device)
    start = (prompt_positions[..., -1:] + 1).repeat_interleave(repeats, dim=-2)
    positions = (start + steps).clamp(max=block_size - 1)
    key_valid = torch.cat(
        [
            prompt_valid.repeat_interleave(repeats, dim=-2),
            torch.ones_like(completions, dtype=torch.bool),
        ],
        dim=-1,
    )
    return positions, key_valid


def completion_logprobs(
    head: torch.Tensor,
    logits: torch.Tensor,
    completions: torch.Tensor,
    repeats: int,
    temperature: float = 1.0,
    suppress: Sequence[int] = (),
) -> torch.Tensor:
    """Log-probabilities ``(..., G K, C)`` of completions from each prompt's last logits
    ``head`` ``(..., G, 1, V)`` (which predict a completion's first token) and the
    completions' own ``logits`` ``(..., G K, C, V)``."""
    logits = torch.cat([head.repeat_interleave(repeats, dim=-3), logits], dim=-2)
    tokens = torch.cat([completions[..., :1], completions], dim=-1)  # column 0: no target
    return logprobs_from_logits(logits, tokens, temperature, suppress)


def logprobs_from_logits(
    logits: torch.Tensor,
    tokens: torch.Tensor,
    temperature: float = 1.0,
    suppress: Sequence[int] = (),
) -> torch.Tensor:
    """``log softmax(logits[..., t, :] / temperature)[tokens[..., t + 1]]``, shape ``(..., T - 1)``.

    The log-probability of each next token (:func:`token_logprobs`, and the stacked
    runs' :mod:`insight_bayes.rlvr.stacked`); ``suppress`` ids get probability 0 and,
    as targets, log-probability 0 (never trained on).
    """
    logits = _suppressed(logits[..., :-1, :].float(), suppress)
    logp = torch.log_softmax(logits if temperature == 1.0 else logits / temperature, dim=-1)
    out = logp.gather(-1, tokens[..., 1:, None]).squeeze(-1)
    if len(suppress):  # targets that are never sampled (padding, <bos>) are never trained on
        never = torch.isin(tokens[..., 1:], torch.as_tensor(suppress, device=tokens.device))
        out = out.masked_fill(never, 0.0)
    return out


def sample_next(
    logits: torch.Tensor,
    temperature: float,
    generator: torch.Generator | None = None,
    suppress: Sequence[int] = (),
) -> torch.Tensor:
    """One token per row of ``logits`` ``(B, V)``: ``x ~ softmax(logits / temperature)`` over
    the ids not in ``suppress`` (``argmax`` when ``temperature == 0``), shape ``(B,)``."""
    return draw_next(sampling_weights(logits, temperature, suppress), temperature, generator)


def sampling_weights(
    logits: torch.Tensor, temperature: float, suppress: Sequence[int] = ()
) -> torch.Tensor:
    """What :func:`sample_next` draws from, for logits ``(..., V)`` of any leading shape:
    ``softmax(logits / temperature)`` over the ids not in ``suppress`` (each row on its
    own), or the suppressed logits when ``temperature == 0``. A block of runs computes it
    once for all its runs, then draws each run's rows with its own generator."""
    logits = _suppressed(logits.float(), suppress)
    if temperature == 0:
        return logits
    return torch.softmax(logits / temperature, dim=-1)


def draw_next(
    weights: torch.Tensor, temperature: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """One token per row of :func:`sampling_weights`' ``(B, V)``: drawn from ``generator``
    (``argmax`` when ``temperature == 0``, no draw), shape ``(B,)``."""
    if temperature == 0:
        return weights.argmax(dim=-1)
    return torch.multinomial(weights, 1, generator=generator).squeeze(-1)


@torch.inference_mode()
def generate(
    model: TinyLM,
    prompts: Sequence[Sequence[int]],
    max_new_tokens: int,
    *,
    eos_id: int,
    pad_id: int,
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
    use_cache: bool = True,
    repeats: int = 1,
    suppress: Sequence[int] = (),
) -> torch.Tensor:
    """Sample completions of a batch of prompts (``repeats`` of each, rows grouped).

    Each step draws ``x ~ softmax(logits / temperature)`` (greedy ``argmax`` when
    ``temperature == 0``). With ``use_cache`` the keys and values of earlier tokens are
    kept, so each step runs the model on one new token; without it the whole sequence is
    recomputed (same distribution, for testing). With ``repeats = K`` (GRPO's group)
    each prompt is encoded once and its cache shared by its ``K`` samples: row
    ``i K + j`` is sample ``j`` of prompt ``i``, as if each prompt had been listed ``K``
    times. Token ids in ``suppress`` (e.g. ``<bos>`` and ``<pad>``) are never sampled.

    Returns
    -------
    Tensor, shape (B * repeats, L) with L <= max_new_tokens
        Generated tokens; after a row's ``<eos>`` the rest is ``pad_id``.
    """
    max_new_tokens = check_int(max_new_tokens, "max_new_tokens", min_value=1)
    temperature = check_real(temperature, "temperature", low=0.0)
    repeats = check_int(repeats, "repeats", min_value=1)
    device = next(model.parameters()).device
    tokens, valid = left_pad(prompts, pad_id, device)
    positions = positions_from_valid(valid)
    if not use_cache and repeats > 1:  # the reference path recomputes everything anyway
        tokens, valid, positions = (
            z.repeat_interleave(repeats, 0) for z in (tokens, valid, positions)
        )
        repeats = 1
    b = tokens.size(0) * repeats
    out = torch.full((b, max_new_tokens), pad_id, dtype=torch.long, device=device)
    done = torch.zeros(b, dtype=torch.bool, device=device)
    next_pos = (positions[:, -1] + 1).repeat_interleave(repeats, 0)
    cache = None
    inp, inp_pos = tokens, positions
    steps = 0
    for step in range(max_new_tokens):
        if use_cache:
            logits, cache = model(inp, inp_pos, valid, cache)
            if step == 0:
                if repeats > 1:  # share each prompt's prefix among its samples
                    logits = logits.repeat_interleave(repeats, 0)
                    cache = repeat_cache(cache, repeats)
                    tokens, positions, valid = (
                        z.repeat_interleave(repeats, 0) for z in (tokens, positions, valid)
                    )
                width = tokens.size(1)
                cache = [KVBuffer(k, v, width + max_new_tokens) for k, v in cache]
                valid_buffer = torch.ones(
                    b, width + max_new_tokens, dtype=torch.bool, device=device
                )
                valid_buffer[:, :width] = valid
        else:
            logits, _ = model(tokens, positions, valid)
        nxt = sample_next(logits[:, -1], temperature, generator, suppress)
        nxt = torch.where(done, torch.full_like(nxt, pad_id), nxt)
        out[:, step] = nxt
        steps = step + 1
        done |= nxt == eos_id
        if bool(done.all()):
            break
        inp, inp_pos = nxt[:, None], next_pos[:, None]
        if use_cache:  # the new token is real: its key is valid from now on
            valid = valid_buffer[:, : valid.size(1) + 1]
        else:
            tokens = torch.cat([tokens, inp], dim=1)
            positions = torch.cat([positions, inp_pos], dim=1)
            valid = torch.cat([valid, torch.ones(b, 1, dtype=torch.bool, device=device)], dim=1)
        next_pos = next_pos + 1
    return out[:, :steps]
