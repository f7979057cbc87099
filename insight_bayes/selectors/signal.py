"""Rules that score the learner's expected signal, and InSight with an adaptive ``mu``.

* ``learning-signal`` (:class:`LearningSignal`): the probability that the group is
  mixed under the belief (:func:`insight_bayes.learning_signal.predictive_mixed_probability`).
* ``expected-std`` (:class:`ExpectedStd`): the expected group standard deviation under
  the belief (:func:`insight_bayes.learning_signal.predictive_group_std`): the oracle's score
  with the true rate replaced by the belief.
* ``signal-information`` (:class:`SignalInformation`): ``I_K * E[std]``
  (:func:`insight_bayes.learning_signal.signal_information_score`), InSight's product with the
  learner's expected signal in place of the hand-shaped weight.
* ``insight-adaptive`` (:class:`InSightAdaptive`): InSight (Eq. 16) whose ``mu`` is
  read at every step from the belief's realised lag,
  ``mu = 1/2 - lag`` (:func:`insight_bayes.learning_signal.adaptive_mu`); it runs on a
  :class:`~insight_bayes.beliefs.lag.LagBelief`, which its :meth:`~InSightAdaptive.new_belief`
  builds and :meth:`~InSightAdaptive.check_belief` insists on.

None of them reads true rates; the derivations are in ``docs/guide/beyond.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from insight_bayes.acquisition import PAPER_ETA, wmi_score
from insight_bayes.beliefs.beta_belief import BetaBelief
from insight_bayes.beliefs.lag import LagBelief
from insight_bayes.learning_signal import (
    adaptive_mu,
    predictive_group_std,
    predictive_mixed_probability,
    signal_information_score,
)
from insight_bayes.selectors.base import Selector
from insight_bayes.selectors.registry import register_selector
from insight_bayes.validation import check_real

__all__ = ["ExpectedStd", "InSightAdaptive", "LearningSignal", "SignalInformation"]


@register_selector("learning-signal")
@dataclass(frozen=True)
class LearningSignal(Selector):
    r"""Expected informative share: ``P(0 < S < K)`` under ``Beta(alpha, beta)``.

    Score ``1 - B(alpha + K, beta) / B(alpha, beta) - B(alpha, beta + K) / B(alpha, beta)``
    (:func:`~insight_bayes.learning_signal.predictive_mixed_probability`); ``2 K`` ``log1p`` per
    candidate. No parameters.
    """

    def score(self, candidates, belief, k, rng):
        return np.asarray(
            predictive_mixed_probability(belief.alpha[candidates], belief.beta[candidates], k)
        )


@register_selector("expected-std")
@dataclass(frozen=True)
class ExpectedStd(Selector):
    r"""Expected GRPO signal: ``E[std(r)]`` of ``K`` rewards under ``Beta(alpha, beta)``.

    The oracle's score (``E[std(r)]`` at the true rate) with the rate integrated over the
    belief (:func:`~insight_bayes.learning_signal.predictive_group_std`). No parameters.
    """

    def score(self, candidates, belief, k, rng):
        return np.asarray(
            predictive_group_std(belief.alpha[candidates], belief.beta[candidates], k)
        )


@register_selector("signal-information")
@dataclass(frozen=True)
class SignalInformation(Selector):
    r"""Information times expected signal: ``I_K(alpha, beta) E[std(r)]``, nats.

    :func:`~insight_bayes.learning_signal.signal_information_score`: InSight's Eq. 16 with
    ``w(m)`` replaced by the belief's expected learning signal. No parameters.
    """

    def score(self, candidates, belief, k, rng):
        return np.asarray(
            signal_information_score(belief.alpha[candidates], belief.beta[candidates], k)
        )


@register_selector("insight-adaptive")
@dataclass(frozen=True)
class InSightAdaptive(Selector):
    r"""InSight with ``mu`` chosen online: ``w(m; mu_t, eta) I_K(alpha, beta)``.

    ``mu_t = clip(1/2 - lag_t, 0, 1)`` (:func:`~insight_bayes.learning_signal.adaptive_mu`), where
    ``lag_t`` is the realised ``E[S/K - m]`` of the revisited prompts of the last updates
    (:attr:`~insight_bayes.beliefs.lag.LagBelief.lag`): the mean belief whose prompts land at a
    true rate of 1/2, where a group's expected signal is largest. Before any revisit
    ``mu = 1/2``. The rule stays stateless; the lag lives in the belief and so travels
    with ``state_dict``.

    Attributes
    ----------
    eta : float, default 3.0
        Strength of the tilt toward ``mu_t``, >= 0 (the paper's setting; not adapted).
    memory : float, default 0.5
        Forgetting of the belief's lag totals per update call, in [0, 1)
        (:class:`~insight_bayes.beliefs.lag.LagBelief`).
    """

    eta: float = PAPER_ETA
    memory: float = 0.5

    def __post_init__(self) -> None:
        super().__post_init__()
        check_real(self.eta, "eta", low=0.0)
        check_real(self.memory, "memory", low=0.0, high=1.0, high_inclusive=False)

    def new_belief(self, n_prompts: int, **settings: float) -> LagBelief:
        """A fresh :class:`~insight_bayes.beliefs.lag.LagBelief` (the experiment's prior and
        discount; the rule's own discount and ``memory`` take precedence)."""
        if self.discount is not None:
            settings = {**settings, "discount": self.discount}
        return LagBelief(n_prompts, **settings, memory=self.memory)

    def check_belief(self, belief: BetaBelief) -> None:
        """Refuse a belief that does not record the lag (or has another ``memory``)."""
        if not isinstance(belief, LagBelief):
            raise ValueError(
                f"rule {self.name!r} reads its mu from the realised lag that a LagBelief "
                f"records; got a {type(belief).__name__}. Build the belief with "
                "rule.new_belief(n_prompts, ...)"
            )
        if belief.memory != self.memory:
            raise ValueError(
                f"rule {self.name!r} sets memory={self.memory} but the belief it was given "
                f"has memory={belief.memory}; build it with rule.new_belief(...)"
            )
        super().check_belief(belief)

    def current_mu(self, belief: LagBelief) -> float:
        """The ``mu`` this rule uses with ``belief`` now: ``adaptive_mu(belief.lag)``."""
        self.check_belief(belief)
        return adaptive_mu(belief.lag)

    def score(self, candidates, belief, k, rng):
        mu = self.current_mu(belief)
        return np.asarray(
            wmi_score(belief.alpha[candidates], belief.beta[candidates], k, mu, self.eta)
        )
