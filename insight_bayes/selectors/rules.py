"""The rules compared in the paper (method notes, Section 6), one small class each.

Random, MoPPS, Expected-Difficulty, Inverse-Evidence, the two ablations (information
only, weight only), InSight (Eq. 16) and its sampled variant, and Dynamic Sampling
(DAPO), whose filter lives in :mod:`insight_bayes.selectors.filters`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from insight_bayes.acquisition import (
    PAPER_ETA,
    PAPER_MU,
    difficulty_weight,
    distance_score,
    inverse_evidence_score,
    wmi_score,
)
from insight_bayes.beta import mutual_information
from insight_bayes.selectors.base import RolloutFilter, Selector
from insight_bayes.selectors.filters import KeepInformative
from insight_bayes.selectors.registry import register_selector
from insight_bayes.validation import check_real

__all__ = [
    "DynamicSampling",
    "ExpectedDifficulty",
    "InSight",
    "InSightSampled",
    "InverseEvidence",
    "MoPPS",
    "MutualInformationOnly",
    "RandomSelector",
    "WeightOnly",
]


@register_selector("random")
@dataclass(frozen=True)
class RandomSelector(Selector):
    """Random: ``M`` candidates uniformly at random (score = a uniform draw)."""

    def score(self, candidates, belief, k, rng):
        return rng.random(candidates.size)


@register_selector("mopps")
@dataclass(frozen=True)
class MoPPS(Selector):
    r"""MoPPS (Qu et al. 2025): Thompson-sample ``phi_hat ~ Beta(alpha, beta)``, keep the
    ``M`` closest to ``target``. Score ``-(phi_hat - target)^2``.

    Attributes
    ----------
    target : float, default 0.5
        Preferred success rate, in [0, 1].
    """

    target: float = 0.5

    def __post_init__(self) -> None:
        super().__post_init__()
        check_real(self.target, "target", low=0.0, high=1.0)

    def score(self, candidates, belief, k, rng):
        phi_hat = rng.beta(belief.alpha[candidates], belief.beta[candidates])
        return distance_score(phi_hat, self.target)


@register_selector("expected-difficulty")
@dataclass(frozen=True)
class ExpectedDifficulty(Selector):
    r"""Expected-Difficulty: MoPPS with the mean belief instead of a sample.
    Score ``-(m - target)^2``.

    Attributes
    ----------
    target : float, default 0.5
        Preferred success rate, in [0, 1].
    """

    target: float = 0.5

    def __post_init__(self) -> None:
        super().__post_init__()
        check_real(self.target, "target", low=0.0, high=1.0)

    def score(self, candidates, belief, k, rng):
        return distance_score(belief.mean[candidates], self.target)


@register_selector("inverse-evidence")
@dataclass(frozen=True)
class InverseEvidence(Selector):
    """Inverse-Evidence: largest ``1 / (alpha + beta)`` (least observed first)."""

    def score(self, candidates, belief, k, rng):
        return inverse_evidence_score(belief.alpha[candidates], belief.beta[candidates])


@register_selector("mi")
@dataclass(frozen=True)
class MutualInformationOnly(Selector):
    """Ablation: the mutual information ``I_K(alpha, beta)`` alone (Eq. 13), nats."""

    def score(self, candidates, belief, k, rng):
        return np.asarray(mutual_information(belief.alpha[candidates], belief.beta[candidates], k))


@dataclass(frozen=True)
class DifficultyWeighted(Selector):
    """A rule whose score carries the difficulty weight ``w(m)`` of Eq. 15: its
    parameters ``mu`` (preferred difficulty, in [0, 1]) and ``eta`` (sharpness, >= 0).

    ``isinstance(rule, DifficultyWeighted)`` is how a caller asks whether a rule has ``mu``
    (for example to scan it over a grid)."""

    mu: float = PAPER_MU
    eta: float = PAPER_ETA

    def __post_init__(self) -> None:
        super().__post_init__()
        check_real(self.mu, "mu", low=0.0, high=1.0)
        check_real(self.eta, "eta", low=0.0)

    def score(self, candidates, belief, k, rng):  # pragma: no cover - abstract helper
        raise NotImplementedError


@register_selector("weight")
@dataclass(frozen=True)
class WeightOnly(DifficultyWeighted):
    """Ablation: the difficulty weight ``w(m)`` alone (Eq. 15) at the mean belief.

    Attributes
    ----------
    mu : float, default 0.3
        Preferred difficulty, in [0, 1].
    eta : float, default 3.0
        Tilt strength, >= 0.
    """

    def score(self, candidates, belief, k, rng):
        return np.asarray(difficulty_weight(belief.mean[candidates], self.mu, self.eta))


@register_selector("insight")
@dataclass(frozen=True)
class InSight(DifficultyWeighted):
    r"""InSight: weighted mutual information ``w(m) I_K(alpha, beta)`` (Eq. 16), mean belief.

    Attributes
    ----------
    mu : float, default 0.3
        Preferred difficulty, in [0, 1] (the paper's setting).
    eta : float, default 3.0
        Tilt strength, >= 0 (the paper's setting).
    """

    def score(self, candidates, belief, k, rng):
        return np.asarray(
            wmi_score(belief.alpha[candidates], belief.beta[candidates], k, self.mu, self.eta)
        )


@register_selector("insight-sampled")
@dataclass(frozen=True)
class InSightSampled(DifficultyWeighted):
    r"""Ablation: ``w(phi_hat) I_K(alpha, beta)`` with ``phi_hat ~ Beta(alpha, beta)``.

    Attributes
    ----------
    mu, eta : float
        As for :class:`InSight`.
    """

    def score(self, candidates, belief, k, rng):
        a, b = belief.alpha[candidates], belief.beta[candidates]
        phi_hat = rng.beta(a, b)
        return np.asarray(difficulty_weight(phi_hat, self.mu, self.eta)) * np.asarray(
            mutual_information(a, b, k)
        )


@register_selector("dynamic-sampling")
@dataclass(frozen=True)
class DynamicSampling(Selector):
    """Dynamic Sampling (DAPO, Yu et al. 2025): random candidates through
    :class:`~insight_bayes.selectors.filters.KeepInformative` (roll out ``3 M`` per
    round, keep groups with mixed binary outcomes, up to 10 rounds).

    Its pre-rollout choice is uniform (score = a uniform draw), so
    :meth:`~insight_bayes.selectors.base.Selector.select` alone is Random; the filter
    applied by ``gather`` (and so by the selection loop) is what makes it Dynamic
    Sampling. Every rollout is counted in ``Batch.rollouts``; the extra cost over a plain
    step is ``rollouts - M K``, so compare it per rollout as well as per step.

    Attributes
    ----------
    max_rounds : int, default 10
        Cap on generation rounds per step (>= 1).
    oversample : float, default 3.0
        Prompts rolled out per round as a multiple of ``M`` (>= 1).
    reward_threshold : float, default 1.0
        Reward at or above which a rollout counts as correct.
    """

    max_rounds: int = 10
    oversample: float = 3.0
    reward_threshold: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        self.rollout_filter  # noqa: B018 - builds the filter, which validates the parameters

    @property
    def rollout_filter(self) -> RolloutFilter:
        return KeepInformative(self.max_rounds, self.oversample, self.reward_threshold)

    def score(self, candidates, belief, k, rng):
        return rng.random(candidates.size)
