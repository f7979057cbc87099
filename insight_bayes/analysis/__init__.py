"""Analysis of saved results: the numbers behind every figure, table and notebook.

Everything here reads tidy tables (a sweep's or a study's ``steps``, a study's ``pool``
and ``prompts``) and returns tidy tables; nothing trains, sweeps or writes files.
pandas, SciPy and PyMC are imported inside this package only (PyMC inside the functions
that fit), never by :mod:`insight_bayes` itself.

Modules, one concern each:

* :mod:`.speedups`: steps-to-target and paired bootstrap speed-ups per training step and
  per rollout, for a sweep or a study (:func:`sweep_tables`, :func:`study_tables`);
* :mod:`.summaries`: per-rule summaries of a study and the cost of Dynamic Sampling
  (:func:`study_summary`, :func:`cost_frame`);
* :mod:`.ranking`: does the simulator predict a study's ranking of rules?
  (:func:`starting_rates`, :func:`fit_composition`, :func:`simulator_scenario`,
  :func:`heldout_auc`, :func:`rank_agreement`);
* :mod:`.regression`: realised gain against the belief's difficulty and evidence terms
  (:func:`regression_data`, :func:`harness_regressions`);
* :mod:`.oracle`: every rule's expected batch against the oracle (:func:`oracle_ceiling`).
"""

from insight_bayes.analysis.oracle import oracle_ceiling
from insight_bayes.analysis.ranking import (
    fit_composition,
    heldout_auc,
    rank_agreement,
    simulator_scenario,
    starting_rates,
)
from insight_bayes.analysis.regression import harness_regressions, regression_data
from insight_bayes.analysis.speedups import (
    speedups_per_step_and_rollout,
    study_tables,
    sweep_tables,
)
from insight_bayes.analysis.summaries import cost_frame, study_summary

__all__ = [
    "cost_frame",
    "fit_composition",
    "harness_regressions",
    "heldout_auc",
    "oracle_ceiling",
    "rank_agreement",
    "regression_data",
    "simulator_scenario",
    "speedups_per_step_and_rollout",
    "starting_rates",
    "study_summary",
    "study_tables",
    "sweep_tables",
]
