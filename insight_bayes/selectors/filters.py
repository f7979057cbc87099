"""Rollout filters beyond the default: Dynamic Sampling's informative-group filter (DAPO)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from insight_bayes.rewards import Rollout, informative_groups
from insight_bayes.selectors.base import (
    Batch,
    RolloutFilter,
    check_candidates,
    checked_rollout,
)
from insight_bayes.validation import as_generator, check_int, check_real

__all__ = ["KeepInformative"]


@dataclass(frozen=True)
class KeepInformative(RolloutFilter):
    """Dynamic Sampling's filter (DAPO, Yu et al. 2025): drop all-equal groups, refill.

    Candidates are visited in the rule's order (best first). Each round rolls out
    ``ceil(oversample * missing)`` more, where ``missing`` is the number of informative
    groups still needed, and keeps the groups whose ``K`` rewards are not all equal. It
    stops once ``M`` informative groups are found, after ``max_rounds`` rounds, or when
    the candidates run out. If it stops short, the batch is filled with uninformative
    groups already rolled out (they carry zero GRPO advantage), so the step trains on
    ``M`` prompts. Scores are 1 for informative groups and 0 for fillers.

    Attributes
    ----------
    max_rounds : int, default 3
        Cap on generation rounds per step (>= 1).
    oversample : float, default 1.0
        Prompts rolled out per round as a multiple of the groups still missing (>= 1).
    """

    max_rounds: int = 3
    oversample: float = 1.0
    chooses_before_rollouts: ClassVar[bool] = False

    def __post_init__(self) -> None:
        check_int(self.max_rounds, "max_rounds", min_value=1)
        check_real(self.oversample, "oversample", low=1.0)

    def gather(self, selector, candidates, belief, m, k, rng, rollout):
        cand = check_candidates(candidates, belief, m)
        k = check_int(k, "k", min_value=1)
        gen = as_generator(rng)
        order = selector.select(cand, belief, cand.size, k, gen).ids
        kept: list[tuple[np.ndarray, Rollout]] = []
        spare: list[tuple[np.ndarray, Rollout]] = []
        n_kept = cursor = rollouts = rounds = 0
        while n_kept < m and rounds < self.max_rounds and cursor < order.size:
            want = math.ceil(self.oversample * (m - n_kept))
            ids = order[cursor : cursor + want]
            cursor += ids.size
            out = checked_rollout(rollout, ids, k)
            rounds += 1
            rollouts += out.rewards.size
            good = informative_groups(out.rewards)
            kept.append((ids[good], out.take(good)))
            spare.append((ids[~good], out.take(~good)))
            n_kept += int(good.sum())
        ids = np.concatenate([i for i, _ in kept])[:m]
        batch = Rollout.concat([r for _, r in kept]).take(slice(0, m))
        scores = np.ones(ids.size)
        if ids.size < m:
            fill = m - ids.size
            ids = np.concatenate([ids, np.concatenate([i for i, _ in spare])[:fill]])
            batch = Rollout.concat(
                [batch, Rollout.concat([r for _, r in spare]).take(slice(0, fill))]
            )
            scores = np.concatenate([scores, np.zeros(fill)])
        return Batch(ids, scores, batch, rollouts=rollouts, rounds=rounds)
