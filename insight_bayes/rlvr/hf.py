"""A local Hugging Face causal language model as a GRPO policy (``--model PATH``).

For users with real weights: ``load_policy(path)`` reads a model and its tokenizer from a
local folder (``local_files_only``: nothing is downloaded) and wraps them in the
:class:`~insight_bayes.rlvr.policy.Policy` interface the GRPO environment uses. Needs
``insight-bayes[hf]`` (transformers).
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Sequence
from pathlib import Path

import torch

from insight_bayes.rlvr.padding import left_pad, positions_from_valid
from insight_bayes.validation import check_int, check_real

__all__ = ["HFPolicy", "load_policy"]


class HFPolicy:
    """A ``transformers`` causal LM and its tokenizer behind the policy interface.

    Prompts are tokenised with the tokenizer's special tokens; completions end with its
    end-of-sequence token. Left padding with an attention mask and explicit position ids
    keeps each row's logits independent of the padding.
    """

    def __init__(self, model, tokenizer) -> None:
        if tokenizer.eos_token_id is None:
            raise ValueError("the tokenizer has no eos_token; GRPO completions need one")
        self.model = model
        self.tokenizer = tokenizer
        self.eos_id = int(tokenizer.eos_token_id)
        pad = tokenizer.pad_token_id
        self.pad_id = int(pad) if pad is not None else self.eos_id
        self.bos_id = tokenizer.bos_token_id
        # transformers 5.x renames ``past_key_values`` to ``cache``; accept both
        params = inspect.signature(model.forward).parameters
        self._cache_arg = "cache" if "cache" in params else "past_key_values"

    def prompt_ids(self, text: str) -> list[int]:
        ids = list(self.tokenizer(text, add_special_tokens=True)["input_ids"])
        if self.bos_id is not None and (not ids or ids[0] != self.bos_id):
            ids = [int(self.bos_id), *ids]
        return ids

    def completion_ids(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"]) + [self.eos_id]

    def decode(self, ids: Sequence[int]) -> str:
        ids = [int(i) for i in ids]
        if self.eos_id in ids:
            ids = ids[: ids.index(self.eos_id)]
        return self.tokenizer.decode(ids, skip_special_tokens=True).replace(" ", "")

    def logprobs(
        self,
        tokens: torch.Tensor,
        valid: torch.Tensor,
        temperature: float = 1.0,
        last: int | None = None,
    ) -> torch.Tensor:
        out = self.model(
            input_ids=tokens,
            attention_mask=valid.long(),
            position_ids=positions_from_valid(valid),
            use_cache=False,
        )
        logp = torch.log_softmax(out.logits[:, :-1].float() / temperature, dim=-1)
        logp = logp.gather(-1, tokens[:, 1:, None]).squeeze(-1)
        return logp if last is None else logp[:, -last:]

    @torch.no_grad()
    def generate(
        self,
        prompts: Sequence[Sequence[int]],
        max_new_tokens: int,
        temperature: float,
        generator: torch.Generator | None,
        repeats: int = 1,
    ) -> torch.Tensor:
        """KV-cached sampling (greedy at ``temperature == 0``); ``pad_id`` after ``eos``.

        ``repeats`` samples per prompt, rows grouped by prompt (prompts are repeated
        before encoding).
        """
        max_new_tokens = check_int(max_new_tokens, "max_new_tokens", min_value=1)
        repeats = check_int(repeats, "repeats", min_value=1)
        prompts = [p for p in prompts for _ in range(repeats)]
        temperature = check_real(temperature, "temperature", low=0.0)
        device = next(self.model.parameters()).device
        tokens, valid = left_pad(prompts, self.pad_id, device)
        positions = positions_from_valid(valid)
        b = tokens.size(0)
        out = self.model(
            input_ids=tokens, attention_mask=valid.long(), position_ids=positions, use_cache=True
        )
        result = torch.full((b, max_new_tokens), self.pad_id, dtype=torch.long, device=device)
        done = torch.zeros(b, dtype=torch.bool, device=device)
        next_pos = positions[:, -1] + 1
        steps = 0
        for step in range(max_new_tokens):
            logits = out.logits[:, -1].float()
            if temperature == 0:
                nxt = logits.argmax(dim=-1)
            else:
                probs = torch.softmax(logits / temperature, dim=-1)
                nxt = torch.multinomial(probs, 1, generator=generator).squeeze(-1)
            nxt = torch.where(done, torch.full_like(nxt, self.pad_id), nxt)
            result[:, step] = nxt
            steps = step + 1
            done |= nxt == self.eos_id
            if bool(done.all()):
                break
            valid = torch.cat([valid, torch.ones(b, 1, dtype=torch.bool, device=device)], dim=1)
            out = self.model(
                input_ids=nxt[:, None],
                attention_mask=valid.long(),
                position_ids=next_pos[:, None],
                use_cache=True,
                **{self._cache_arg: _cache_of(out)},
            )
            next_pos = next_pos + 1
        return result[:, :steps]


def _cache_of(output):
    cache = getattr(output, "cache", None)
    return cache if cache is not None else output.past_key_values


def load_policy(
    path: str | os.PathLike[str], *, device: str | torch.device = "cpu", dtype=None
) -> HFPolicy:
    """Load a causal LM and its tokenizer from the local folder ``path`` (no download)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = Path(path)
    if not folder.is_dir():
        raise ValueError(f"model path {str(folder)!r} is not a directory")
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    kwargs = {"local_files_only": True}
    if dtype is not None:
        kwargs["dtype"] = dtype
    model = AutoModelForCausalLM.from_pretrained(folder, **kwargs)
    model.to(device).eval()
    return HFPolicy(model, tokenizer)
