"""The one results layer of sweeps and harness studies (pandas and pyarrow live here).

Modules, one concern each:

* :mod:`~insight_bayes.results.io`: the atomic writer, the git revision, the manifest;
* :mod:`~insight_bayes.results.store`: run keys, completion markers, the folder layout;
* :mod:`~insight_bayes.results.schema`: the tidy per-step schema and its one builder;
* :mod:`~insight_bayes.results.runner`: the one executor of (rule, seed) runs;
* :mod:`~insight_bayes.results.targets`: steps-to-target, speed-ups, curves;
* :mod:`~insight_bayes.results.auc`, :mod:`~insight_bayes.results.summary`,
  :mod:`~insight_bayes.results.bootstrap`: AUC, the summary table, the (draw, seed) bootstrap;
* :mod:`~insight_bayes.results.prompts`: the per-prompt information table;
* :mod:`~insight_bayes.results.report`: the one report stage (:func:`write_report`: every
  derived table of a folder, from its steps and its :class:`AnalysisPlan`);
* :mod:`~insight_bayes.results.reader`: :func:`load_results`, one reader for both, and
  :func:`read_table` for every saved table;
* :mod:`~insight_bayes.results.headline`: the headline and summary table commands print;
* :mod:`~insight_bayes.results.plots`: the hook through which a folder's pictures are drawn.

The PyMC model of steps-to-target is :func:`insight_bayes.models.fit_speedup`.
Names are imported on first use, so ``import insight_bayes.results`` stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "atomic_write_bytes": "io",
    "atomic_write_json": "io",
    "atomic_write_parquet": "io",
    "build_manifest": "io",
    "git_revision": "io",
    "ResultStore": "store",
    "RunKey": "store",
    "CHOICE_COLUMNS": "schema",
    "STEP_COLUMNS": "schema",
    "RunTables": "schema",
    "check_choices": "schema",
    "check_steps": "schema",
    "Job": "runner",
    "RunReport": "runner",
    "run_jobs": "runner",
    "auc_table": "auc",
    "bootstrap_speedups": "targets",
    "learning_curve_auc": "auc",
    "relative_targets": "targets",
    "relative_steps_to_target": "targets",
    "speedup_curve": "targets",
    "speedup_report": "targets",
    "steps_to_target": "targets",
    "summary_table": "summary",
    "prompt_information": "prompts",
    "Results": "reader",
    "analysis_summary": "summary",
    "load_results": "reader",
    "read_manifest": "reader",
    "read_table": "reader",
    "AnalysisPlan": "report",
    "derive_tables": "report",
    "write_report": "report",
    "headline": "headline",
    "summary_text": "headline",
    "draw_folder": "plots",
    "register_folder_plotter": "plots",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"insight_bayes.results.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'insight_bayes.results' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
