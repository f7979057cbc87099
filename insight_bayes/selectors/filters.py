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
    """Dynamic Sampling's filter (DAPO, Yu et al. 2025): keep mixed groups, refill.

    Candidates are visited in the rule's order (best first). Each round rolls out the
    next ``ceil(oversample * M)`` of them (DAPO's generation batch, a fixed size per
    round) and keeps the groups whose **binary** outcomes (``reward >=
    reward_threshold``, as the belief counts them) are mixed: a group with only wrong
    answers is dropped even if graded rewards (Countdown's 0.1 format reward) differ.
    It stops once ``M`` mixed groups are found, after ``max_rounds`` rounds, or when the
    candidates run out. If it stops short, the batch is filled with groups already
    rolled out, so the step trains on ``M`` prompts. Scores are 1 for kept mixed groups
    and 0 for fillers. Every rollout generated is counted in :attr:`Batch.rollouts`.

    Attributes
    ----------
    max_rounds : int, default 10
        Cap on generation rounds per step (>= 1); DAPO's ``max_num_gen_batches``.
    oversample : float, default 3.0
        Prompts rolled out per round as a multiple of ``M`` (>= 1); DAPO generates
        ``3 M`` per round. MoPPS's DAPO script uses 1 (preset
        ``"dynamic-sampling-mopps"``).
    reward_threshold : float, default 1.0
        A rollout counts as correct when its reward is at least this.
    """

    max_rounds: int = 10
    oversample: float = 3.0
    reward_threshold: float = 1.0
    chooses_before_rollouts: ClassVar[bool] = False

    def __post_init__(self) -> None:
        check_int(self.max_rounds, "max_rounds", min_value=1)
        check_real(self.oversample, "oversample", low=1.0)
        check_real(self.reward_threshold, "reward_threshold")

    def gather(self, selector, candidates, belief, m, k, rng, rollout):
        cand = check_candidates(candidates, belief, m)
        k = check_int(k, "k", min_value=1)
        gen = as_generator(rng)
        order = selector.select(cand, belief, cand.size, k, gen).ids
        kept: list[tuple[np.ndarray, Rollout]] = []
        spare: list[tuple[np.ndarray, Rollout]] = []
        n_kept = cursor = rollouts = rounds = 0
        per_round = math.ceil(self.oversample * m)
        while n_kept < m and rounds < self.max_rounds and cursor < order.size:
            ids = order[cursor : cursor + per_round]
            cursor += ids.size
            out = checked_rollout(rollout, ids, k)
            rounds += 1
            rollouts += out.rewards.size
            good = informative_groups(out.rewards >= self.reward_threshold)
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
