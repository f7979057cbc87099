"""Bayesian analysis models (PyMC / ArviZ). Importing this package imports PyMC.

Install with ``pip install insight-bayes[bayes]``. Modules: :mod:`.speedup_fit` (censored
hierarchical model of steps-to-target), :mod:`.beta_binomial` (the Beta-Binomial model of
one prompt: a Monte Carlo route to Eq. 13 and the NUTS posterior of its success rate),
:mod:`.information_regression` (realised gain on the difficulty and evidence terms).
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
from insight_bayes.models.information_regression import (
    RegressionFit,
    fit_information_regression,
    information_terms,
)
from insight_bayes.models.speedup_fit import SpeedupFit, fit_speedup

__all__ = [
    "ConvergenceError",
    "ConvergenceWarning",
    "MonteCarloEstimate",
    "RegressionFit",
    "SpeedupFit",
    "check_convergence",
    "fit_information_regression",
    "fit_speedup",
    "information_terms",
    "monte_carlo_mutual_information",
    "posterior_success_rate",
]
