"""Rules on beliefs that track a moving policy.

Each rule scores the :class:`~insight_bayes.beliefs.tracking_belief.TrackingBelief`
propagated to the current step (its logit random walk, drift fitted online by empirical
Bayes), with the same closed forms as the paper's rules.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from insight_bayes.acquisition import distance_score, wmi_score
from insight_bayes.beliefs.beta_belief import BetaBelief
from insight_bayes.beliefs.drift import DriftFit
from insight_bayes.beliefs.tracking_belief import TrackingBelief
from insight_bayes.selectors.base import Selector
from insight_bayes.selectors.registry import register_selector
from insight_bayes.selectors.rules import DifficultyWeighted
from insight_bayes.validation import check_real

__all__ = ["InSightTracking", "MoPPSTracking", "TrackingRule"]


@dataclass(frozen=True)
class TrackingRule(Selector):
    """Base of the tracking rules: builds and insists on a :class:`TrackingBelief`.

    Attributes
    ----------
    memory : float, default 0.95
        Per-step discount ``rho`` in (0, 1] of the drift fit's log likelihood.
    """

    memory: float = 0.95

    def __post_init__(self) -> None:
        super().__post_init__()
        check_real(self.memory, "memory", low=0.0, high=1.0, low_inclusive=False)

    def new_belief(self, n_prompts: int, **settings: float) -> BetaBelief:
        """A fresh :class:`TrackingBelief` (drift fitted online) with the experiment's prior."""
        if self.discount is not None:
            settings = {**settings, "discount": self.discount}
        return TrackingBelief(n_prompts, fit=DriftFit(memory=self.memory), **settings)

    def check_belief(self, belief: BetaBelief) -> None:
        if not isinstance(belief, TrackingBelief):
            raise ValueError(
                f"rule {self.name!r} needs a TrackingBelief (beliefs that follow the "
                f"policy), got {type(belief).__name__}; build it with rule.new_belief(...)"
            )
        super().check_belief(belief)

    def _current(self, candidates: np.ndarray, belief: BetaBelief) -> tuple[np.ndarray, ...]:
        self.check_belief(belief)
        return belief.current(candidates)  # type: ignore[attr-defined]


@register_selector("insight-tracking")
@dataclass(frozen=True)
class InSightTracking(TrackingRule, DifficultyWeighted):
    r"""InSight (Eq. 16) on the propagated belief: ``w(m') I_K(alpha', beta')``.

    ``(alpha', beta')`` is each candidate's Beta propagated from its last visit to the
    current step (:func:`~insight_bayes.beliefs.tracking_maths.propagate_beta`), ``m'`` its mean.

    Attributes
    ----------
    mu : float, default 0.3
        Preferred difficulty, in [0, 1] (as InSight).
    eta : float, default 3.0
        Tilt strength, >= 0 (as InSight).
    memory : float, default 0.95
        Discount of the drift fit (see :class:`TrackingRule`).
    evidence : {"propagated", "stored"}, default "propagated"
        Evidence ``n`` of the scored Beta: the propagated belief's (its variance grows
        with time since the last visit), or the evidence of the last visit with the
        propagated mean, ``(m' n, (1 - m') n)`` (a diagnostic: moves the mean only).
    """

    evidence: str = "propagated"

    def __post_init__(self) -> None:
        TrackingRule.__post_init__(self)
        DifficultyWeighted.__post_init__(self)
        if self.evidence not in ("propagated", "stored"):
            raise ValueError(f"evidence must be 'propagated' or 'stored', got {self.evidence!r}")

    def score(self, candidates, belief, k, rng):
        a, b = self._current(candidates, belief)
        if self.evidence == "stored":
            n = belief.stored_alpha[candidates] + belief.stored_beta[candidates]
            total = a + b
            a, b = n * (a / total), n * (b / total)  # not (1 - m) n: b' << a' stays > 0
        return np.asarray(wmi_score(a, b, k, self.mu, self.eta))


@register_selector("mopps-tracking")
@dataclass(frozen=True)
class MoPPSTracking(TrackingRule):
    r"""MoPPS on the propagated belief: ``phi_hat ~ Beta(alpha', beta')``, score
    ``-(phi_hat - target)^2``.

    Attributes
    ----------
    target : float, default 0.5
        Preferred success rate, in [0, 1].
    memory : float, default 0.95
        Discount of the drift fit (see :class:`TrackingRule`).
    """

    target: float = 0.5

    def __post_init__(self) -> None:
        super().__post_init__()
        check_real(self.target, "target", low=0.0, high=1.0)

    def score(self, candidates, belief, k, rng):
        a, b = self._current(candidates, belief)
        return distance_score(rng.beta(a, b), self.target)
