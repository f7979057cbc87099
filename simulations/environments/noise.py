"""The verifier: how a rollout's correctness becomes the reward the learner and rules see.

Simulated rollouts are first *correct* or not (``Bernoulli(phi)``); a verifier then turns
correctness into a reward. Two departures from the paper's clean binary rewards:

* **Noisy verifier.** Each reward is flipped with probability ``flip_prob`` (epsilon):
  ``r = c XOR Bernoulli(epsilon)``. The rate the rules can observe is then
  ``phi_obs = phi (1 - epsilon) + (1 - phi) epsilon``.
* **Graded rewards** (Countdown): ``correct_reward`` (1) for a correct answer,
  ``format_reward`` (0.1) for a wrong but well-formatted one (probability
  ``format_rate``), 0 otherwise. The selection rules see binary outcomes; the
  binarisation is explicit in :class:`insight_bayes.loop.LoopConfig`
  (``reward_mode="binary"``, ``reward_threshold=1.0``: only a correct answer counts).
  The learner's GRPO advantage uses the graded reward itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from insight_bayes.validation import check_real

__all__ = ["Verifier", "observed_rate"]


@dataclass(frozen=True)
class Verifier:
    """Maps correctness of rollouts to rewards (noise and grading).

    Attributes
    ----------
    flip_prob : float, default 0.0
        Probability epsilon in [0, 0.5) that a reward is flipped (before grading).
    graded : bool, default False
        Countdown-style graded rewards instead of 0/1.
    correct_reward : float, default 1.0
        Reward of a (verified) correct answer.
    format_reward : float, default 0.1
        Reward of a wrong but well-formatted answer (graded only), in [0, correct_reward).
    format_rate : float, default 0.5
        Probability that a wrong answer is well formatted (graded only), in [0, 1].
    """

    flip_prob: float = 0.0
    graded: bool = False
    correct_reward: float = 1.0
    format_reward: float = 0.1
    format_rate: float = 0.5

    def __post_init__(self) -> None:
        check_real(self.flip_prob, "flip_prob", low=0.0, high=0.5, high_inclusive=False)
        check_real(self.correct_reward, "correct_reward", low=0.0, low_inclusive=False)
        check_real(self.format_reward, "format_reward", low=0.0)
        if self.format_reward >= self.correct_reward:
            raise ValueError(
                f"format_reward must be < correct_reward; got {self.format_reward} >= "
                f"{self.correct_reward}"
            )
        check_real(self.format_rate, "format_rate", low=0.0, high=1.0)

    def rewards(self, correct: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Rewards of rollouts whose correctness is ``correct`` (bool, any shape).

        Random numbers are drawn for the flips and the formatting only when those
        features are on, so a clean binary verifier consumes no randomness.
        """
        verified = np.asarray(correct, dtype=bool)
        if self.flip_prob > 0.0:
            verified = verified ^ (rng.random(verified.shape) < self.flip_prob)
        out = verified * self.correct_reward
        if self.graded:
            formatted = (~verified) & (rng.random(verified.shape) < self.format_rate)
            out = out + formatted * self.format_reward
        return out.astype(np.float64)

    def observed_success_rate(self, rate: ArrayLike) -> np.ndarray:
        """Probability that the verifier reports success: ``phi (1 - eps) + (1 - phi) eps``."""
        return observed_rate(rate, self.flip_prob)


def observed_rate(rate: ArrayLike, flip_prob: float) -> np.ndarray:
    """Success rate seen through a verifier that flips with probability ``flip_prob``.

    ``phi_obs = phi (1 - epsilon) + (1 - phi) epsilon``; shape of ``rate``.
    """
    p = np.asarray(rate, dtype=np.float64)
    return p * (1.0 - flip_prob) + (1.0 - p) * flip_prob
