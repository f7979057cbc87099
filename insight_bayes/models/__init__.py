"""Bayesian analysis models (PyMC / ArviZ). Importing this package imports PyMC.

Install with ``pip install insight-bayes[bayes]``. Modules: :mod:`.speedup` (censored
hierarchical model of steps-to-target), :mod:`.beta_binomial` (the Beta-Binomial model of
one prompt: a Monte Carlo route to Eq. 13 and the NUTS posterior of its success rate).
"""

from insight_bayes.models.beta_binomial import (
    MonteCarloEstimate,
    monte_carlo_mutual_information,
    posterior_success_rate,
)
from insight_bayes.models.diagnostics import (
    ConvergenceError,
    ConvergenceWarning,
    check_convergence,
)
from insight_bayes.models.speedup import SpeedupFit, fit_speedup

__all__ = [
    "ConvergenceError",
    "ConvergenceWarning",
    "MonteCarloEstimate",
    "SpeedupFit",
    "check_convergence",
    "fit_speedup",
    "monte_carlo_mutual_information",
    "posterior_success_rate",
]
