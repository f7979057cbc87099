"""Beliefs over every prompt's success rate, one module per job.

Belief classes (each a :class:`BetaBelief`, updated by Eq. 6):

* :mod:`~insight_bayes.beliefs.beta_belief`: :class:`BetaBelief`, the paper's belief;
* :mod:`~insight_bayes.beliefs.tracking_belief`: :class:`TrackingBelief`, rates that drift
  between visits (maths in :mod:`~insight_bayes.beliefs.tracking_maths`, drift fit in
  :mod:`~insight_bayes.beliefs.drift`);
* :mod:`~insight_bayes.beliefs.noisy_belief`: :class:`NoisyBetaBelief`, rewards from a noisy
  verifier (maths in :mod:`~insight_bayes.beliefs.noisy_maths`);
* :mod:`~insight_bayes.beliefs.dirichlet`: :class:`DirichletBelief`, graded rewards;
* :mod:`~insight_bayes.beliefs.lag`: :class:`LagBelief`, which measures its own lag.

A belief may hold a learned prior, :class:`EmpiricalBayesPrior`
(:mod:`~insight_bayes.beliefs.prior`; its fit in :mod:`~insight_bayes.beliefs.prior_fit`).
"""

from insight_bayes.beliefs.beta_belief import BetaBelief
from insight_bayes.beliefs.dirichlet import DirichletBelief
from insight_bayes.beliefs.lag import LagBelief
from insight_bayes.beliefs.noisy_belief import NoisyBetaBelief
from insight_bayes.beliefs.prior import EmpiricalBayesPrior
from insight_bayes.beliefs.tracking_belief import TrackingBelief

__all__ = [
    "BetaBelief",
    "DirichletBelief",
    "EmpiricalBayesPrior",
    "LagBelief",
    "NoisyBetaBelief",
    "TrackingBelief",
]
