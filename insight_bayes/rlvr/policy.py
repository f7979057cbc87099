"""The policy interface the GRPO environment uses, and its implementation for :class:`TinyLM`.

A policy turns prompt text into token ids, samples completions, and scores token
sequences (per-token log-probabilities). :mod:`insight_bayes.rlvr.hf` provides the same
interface for a Hugging Face causal language model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import torch
from torch import nn

from insight_bayes.rlvr.model import TinyLM, generate, shared_prompt_logprobs, token_logprobs
from insight_bayes.rlvr.tokenizer import CharTokenizer

__all__ = ["CharPolicy", "Policy"]


@runtime_checkable
class Policy(Protocol):
    """What the GRPO environment needs from a language model and its tokenizer."""

    model: nn.Module
    eos_id: int
    pad_id: int

    def prompt_ids(self, text: str) -> list[int]:
        """Token ids of a prompt (with any begin-of-sequence token)."""

    def completion_ids(self, text: str) -> list[int]:
        """Token ids of a reference completion, ending with ``eos_id``."""

    def decode(self, ids: Sequence[int]) -> str:
        """Text of completion ids up to the first ``eos_id``."""

    def generate(
        self,
        prompts: Sequence[Sequence[int]],
        max_new_tokens: int,
        temperature: float,
        generator: torch.Generator | None,
        repeats: int = 1,
    ) -> torch.Tensor:
        """Sampled completions, ``repeats`` per prompt (row ``i repeats + j`` is sample
        ``j`` of prompt ``i``), shape ``(B repeats, L)``, ``pad_id`` after ``eos_id``."""

    def logprobs(
        self,
        tokens: torch.Tensor,
        valid: torch.Tensor,
        temperature: float = 1.0,
        last: int | None = None,
    ) -> torch.Tensor:
        """Per-token ``log p(tokens[:, t+1] | tokens[:, :t+1])``, shape ``(B, T - 1)``, at
        the sampling ``temperature``; with ``last = n`` only the last ``n`` columns
        ``(B, n)`` (those of a left-padded batch's completions)."""


class CharPolicy:
    """:class:`TinyLM` with a :class:`CharTokenizer` (``<bos>`` prompt ``answer`` ``<eos>``).

    The policy's actions are the task's characters and ``<eos>``: ``<bos>`` and ``<pad>``
    are never sampled (their logits are masked in sampling and in log-probabilities
    alike), so a completion's probability is that of its text followed by ``<eos>``.
    """

    def __init__(self, model: TinyLM, tokenizer: CharTokenizer) -> None:
        if model.config.vocab_size != tokenizer.vocab_size:
            raise ValueError(
                f"model vocab_size={model.config.vocab_size} does not match the tokenizer's "
                f"{tokenizer.vocab_size}"
            )
        self.model = model
        self.tokenizer = tokenizer
        self.eos_id = tokenizer.eos_id
        self.pad_id = tokenizer.pad_id
        self.suppress = (tokenizer.bos_id, tokenizer.pad_id)

    def prompt_ids(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, bos=True)

    def completion_ids(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, eos=True)

    def decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(ids)

    def generate(self, prompts, max_new_tokens, temperature, generator, repeats=1):
        return generate(
            self.model,
            prompts,
            max_new_tokens,
            eos_id=self.eos_id,
            pad_id=self.pad_id,
            temperature=temperature,
            generator=generator,
            repeats=repeats,
            suppress=self.suppress,
        )

    def logprobs(self, tokens, valid, temperature=1.0, last=None):
        return token_logprobs(self.model, tokens, valid, temperature, self.suppress, last)

    def shared_prompt_logprobs(self, groups, temperature=1.0):
        """Log-probabilities of a :class:`~insight_bayes.rlvr.grpo.PromptGroups` batch's
        completions, each prompt run once (``(G K, C)``, laid out as ``groups.mask``)."""
        return shared_prompt_logprobs(
            self.model,
            groups.prompt_tokens,
            groups.prompt_valid,
            groups.completions,
            groups.repeats,
            temperature,
            self.suppress,
        )
