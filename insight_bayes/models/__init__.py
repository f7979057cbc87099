"""Bayesian analysis models (PyMC / ArviZ). Importing this package imports PyMC.

Install with ``pip install insight-bayes[bayes]``.
"""

from insight_bayes.models.speedup import (
    ConvergenceError,
    ConvergenceWarning,
    SpeedupFit,
    check_convergence,
    fit_speedup,
)

__all__ = [
    "ConvergenceError",
    "ConvergenceWarning",
    "SpeedupFit",
    "check_convergence",
    "fit_speedup",
]
