"""Rules for noisy and graded rewards.

* ``insight-noisy``: InSight's weight (Eq. 15) at the mean belief of the *true* rate,
  times the mutual information of ``K`` *noisy* rewards about it
  (:func:`insight_bayes.beliefs.noisy_maths.noisy_mutual_information`), with a belief
  updated through the noise model (:class:`insight_bayes.beliefs.noisy_belief.NoisyBetaBelief`).
* ``insight-graded``: the same weight at the mean probability of the top reward
  category, times the Dirichlet mutual information of ``K`` graded rollouts
  (:func:`insight_bayes.beliefs.dirichlet.dirichlet_mutual_information`), with a Dirichlet belief
  over the reward categories (:class:`insight_bayes.beliefs.dirichlet.DirichletBelief`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from insight_bayes.acquisition import difficulty_weight
from insight_bayes.beliefs.beta_belief import BetaBelief
from insight_bayes.beliefs.dirichlet import DirichletBelief, dirichlet_mutual_information
from insight_bayes.beliefs.noisy_belief import NoisyBetaBelief
from insight_bayes.beliefs.noisy_maths import check_noise_rates, noisy_mutual_information
from insight_bayes.selectors.registry import register_selector
from insight_bayes.selectors.rules import DifficultyWeighted

__all__ = ["InSightGraded", "InSightNoisy"]


@register_selector("insight-noisy")
@dataclass(frozen=True)
class InSightNoisy(DifficultyWeighted):
    r"""InSight for a noisy verifier: ``w(m) I(p; S)`` with ``S ~ Binomial(K, p')``.

    .. math::
        A(\tau) = w(m_\tau)\, I_K^{\varepsilon}(\alpha_\tau, \beta_\tau), \qquad
        p' = \varepsilon_0 + (1 - \varepsilon_0 - \varepsilon_1) p

    ``m`` is the mean belief of the true rate ``p``; the belief is a
    :class:`~insight_bayes.beliefs.noisy_belief.NoisyBetaBelief` (moment-matched exact mixture
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


@register_selector("insight-graded")
@dataclass(frozen=True)
class InSightGraded(DifficultyWeighted):
    r"""InSight for graded rewards: ``w(m) I_K(c)`` with a Dirichlet over reward categories.

    .. math::
        A(\tau) = w(m_\tau)\, I_K^{\mathrm{Dir}}(\mathbf c_\tau), \qquad
        m_\tau = c_{\tau,1} / \textstyle\sum_j c_{\tau,j}

    ``c`` are the Dirichlet concentrations over (correct, format, other) of a
    :class:`~insight_bayes.beliefs.dirichlet.DirichletBelief`; ``m`` is the mean probability of a
    correct answer, the same mean belief InSight's binarised Beta has. The information
    term counts what ``K`` graded rollouts say about *all* category probabilities,
    including the format rate.

    Attributes
    ----------
    mu, eta : float
        As for :class:`~insight_bayes.selectors.rules.InSight` (0.3, 3.0).
    correct_reward, format_reward : float
        Reward values of the categories (Countdown: 1.0 and 0.1).
    """

    correct_reward: float = 1.0
    format_reward: float = 0.1

    def __post_init__(self) -> None:
        super().__post_init__()
        DirichletBelief(1, correct_reward=self.correct_reward, format_reward=self.format_reward)

    def new_belief(self, n_prompts: int, **settings: float) -> DirichletBelief:
        if self.discount is not None:
            settings = {**settings, "discount": self.discount}
        return DirichletBelief(
            n_prompts,
            correct_reward=self.correct_reward,
            format_reward=self.format_reward,
            **settings,
        )

    def check_belief(self, belief: BetaBelief) -> None:
        super().check_belief(belief)
        if not isinstance(belief, DirichletBelief):
            raise ValueError(
                f"rule {self.name!r} needs a DirichletBelief (counts of graded reward "
                f"categories), got {type(belief).__name__}; build it with rule.new_belief(...)"
            )
        if (belief.correct_reward, belief.format_reward) != (
            self.correct_reward,
            self.format_reward,
        ):
            raise ValueError(
                f"rule {self.name!r} has reward values ({self.correct_reward}, "
                f"{self.format_reward}) but its belief has ({belief.correct_reward}, "
                f"{belief.format_reward})"
            )

    def score(self, candidates, belief, k, rng):
        a, b = belief.alpha[candidates], belief.beta[candidates]
        weight = np.asarray(difficulty_weight(a / (a + b), self.mu, self.eta))
        if isinstance(belief, DirichletBelief):
            conc = belief.concentration[candidates]
        else:  # a binary belief: split the failures evenly (the Dirichlet prior's split)
            conc = np.stack([a, b / 2.0, b / 2.0], axis=1)
        info = np.asarray(dirichlet_mutual_information(conc, k))
        return weight * info
