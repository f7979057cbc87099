"""Rules for noisy and graded rewards (issue 12, direction 5).

* ``insight-noisy``: InSight's weight (Eq. 15) at the mean belief of the *true* rate,
  times the mutual information of ``K`` *noisy* rewards about it
  (:func:`insight_bayes.noisy.noisy_mutual_information`), with a belief updated through
  the noise model (:class:`insight_bayes.noisy.NoisyBetaBelief`).
* ``insight-graded``: the same weight at the mean probability of the top reward
  category, times the Dirichlet mutual information of ``K`` graded rollouts
  (:func:`insight_bayes.noisy.dirichlet_mutual_information`), with a Dirichlet belief
  over the reward categories (:class:`insight_bayes.noisy.DirichletBelief`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from insight_bayes.acquisition import difficulty_weight
from insight_bayes.belief import BetaBelief
from insight_bayes.noisy import NoisyBetaBelief, check_noise_rates, noisy_mutual_information
from insight_bayes.selectors.registry import register_selector
from insight_bayes.selectors.rules import _WeightParams

__all__ = ["InSightNoisy"]


@register_selector("insight-noisy")
@dataclass(frozen=True)
class InSightNoisy(_WeightParams):
    r"""InSight for a noisy verifier: ``w(m) I(p; S)`` with ``S ~ Binomial(K, p')``.

    .. math::
        A(\tau) = w(m_\tau)\, I_K^{\varepsilon}(\alpha_\tau, \beta_\tau), \qquad
        p' = \varepsilon_0 + (1 - \varepsilon_0 - \varepsilon_1) p

    ``m`` is the mean belief of the true rate ``p``; the belief is a
    :class:`~insight_bayes.noisy.NoisyBetaBelief` (moment-matched exact mixture
    update). With ``eps0 = eps1 = 0`` (the default) it is InSight.

    Attributes
    ----------
    mu, eta : float
        As for :class:`~insight_bayes.selectors.rules.InSight` (0.3, 3.0).
    eps0 : float, default 0.0
        The verifier's false-positive rate (known), 0 or in [1e-3, 1).
    eps1 : float, default 0.0
        The verifier's false-negative rate (known), 0 or in [1e-3, 1); ``eps0 + eps1 < 1``.
    """

    eps0: float = 0.0
    eps1: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        check_noise_rates(self.eps0, self.eps1)

    def new_belief(self, n_prompts: int, **settings: float) -> NoisyBetaBelief:
        if self.discount is not None:
            settings = {**settings, "discount": self.discount}
        return NoisyBetaBelief(n_prompts, eps0=self.eps0, eps1=self.eps1, **settings)

    def check_belief(self, belief: BetaBelief) -> None:
        super().check_belief(belief)
        if not isinstance(belief, NoisyBetaBelief):
            raise ValueError(
                f"rule {self.name!r} needs a NoisyBetaBelief (updated through the noise "
                f"model), got {type(belief).__name__}; build it with rule.new_belief(...)"
            )
        if (belief.eps0, belief.eps1) != (self.eps0, self.eps1):
            raise ValueError(
                f"rule {self.name!r} has eps0={self.eps0}, eps1={self.eps1} but its belief "
                f"has eps0={belief.eps0}, eps1={belief.eps1}"
            )

    def score(self, candidates, belief, k, rng):
        a, b = belief.alpha[candidates], belief.beta[candidates]
        weight = np.asarray(difficulty_weight(a / (a + b), self.mu, self.eta))
        return weight * np.asarray(noisy_mutual_information(a, b, k, self.eps0, self.eps1))
