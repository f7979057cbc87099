"""Analysis of saved results: the numbers behind every figure, table and notebook.

Everything here reads tidy tables (a sweep's or a study's ``steps``, a study's ``pool``
and ``prompts``) and returns tidy tables; nothing trains, sweeps or writes files.
pandas, SciPy and PyMC are imported inside this package only (PyMC inside the functions
that fit), never by :mod:`insight_bayes` itself.

Modules, one concern each:

* :mod:`.speedups`: the speed-up columns (per training step and per rollout) of a saved
  summary (:func:`speedup_columns`); the report stage computed them;
* :mod:`.summaries`: per-rule summaries of a study and the cost of Dynamic Sampling
  (:func:`study_summary`, :func:`cost_frame`);
* :mod:`.agreement`: predicted against realised speed-ups, Spearman's rho and York's
  errors-in-variables slope (:func:`prediction_table`, :func:`agreement_stats`,
  :func:`york_fit`); the calibration itself is :mod:`simulations.calibrate`;
* :mod:`.regression`: realised gain against the belief's difficulty and evidence terms
  (:func:`regression_data`, :func:`harness_regressions`);
* :mod:`.decision`: the best new rule against the best incumbent over harness designs,
  paired, and the rules ranked over designs (:func:`decision_table`, :func:`verdict`,
  :func:`speedups_over_baseline`, :func:`design_ranking`);
* :mod:`.beyond`: the rules beyond InSight against Random, InSight and the oracle, and
  their belief coverage over time (:func:`beyond_table`, :func:`coverage_over_time`).
"""

from insight_bayes.analysis.agreement import agreement_stats, prediction_table, york_fit
from insight_bayes.analysis.beyond import beyond_table, coverage_over_time
from insight_bayes.analysis.decision import (
    decision_table,
    design_ranking,
    speedups_over_baseline,
    verdict,
)
from insight_bayes.analysis.regression import harness_regressions, regression_data
from insight_bayes.analysis.speedups import SPEEDUP_COLUMNS, speedup_columns
from insight_bayes.analysis.summaries import cost_frame, study_summary

__all__ = [
    "SPEEDUP_COLUMNS",
    "agreement_stats",
    "beyond_table",
    "coverage_over_time",
    "cost_frame",
    "decision_table",
    "design_ranking",
    "harness_regressions",
    "prediction_table",
    "regression_data",
    "speedup_columns",
    "speedups_over_baseline",
    "study_summary",
    "verdict",
    "york_fit",
]
