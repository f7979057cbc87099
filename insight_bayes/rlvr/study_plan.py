"""A study config's analysis plan: what its derived tables are computed with.

The ``[study]`` section of a config fixes the metric, the target, the baseline and the
target fractions before any run; :func:`analysis_plan` turns them into the
:class:`~insight_bayes.results.report.AnalysisPlan` of the one report stage, which the
study's gather (one draw or several) writes with and records in the manifest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from insight_bayes.results.report import AnalysisPlan
    from insight_bayes.rlvr.config import StudyConfig

__all__ = ["analysis_plan"]


def analysis_plan(config: StudyConfig) -> AnalysisPlan:
    """The report stage's plan of ``config``: ``study.metric``, ``study.target``,
    ``study.baseline`` and ``study.target_fractions`` (relative curve targets), with the
    default bootstrap size."""
    from insight_bayes.results.report import AnalysisPlan

    study = config.study
    return AnalysisPlan(
        metric=study.metric,
        target=float(study.target),
        baseline=study.baseline,
        target_fractions=tuple(study.target_fractions),
    )
