"""The speed-up columns of a saved summary, per training step and per rollout.

The speed-up of a rule is ``mean(T_baseline) / mean(T_rule)`` over seeds, where ``T`` is
the (interpolated) number of training steps, or rollouts, to reach the accuracy target;
censored runs count at their horizon. The definitions live in
:mod:`insight_bayes.results.targets`, and the report stage
(:func:`insight_bayes.results.report.write_report`) writes them into every folder's
``summary.csv``, per step and per rollout. This module only picks those columns out of a
saved summary for the figures and notebooks: nothing here computes a bootstrap.
"""

from __future__ import annotations

import pandas as pd

__all__ = ["SPEEDUP_COLUMNS", "speedup_columns"]

#: The speed-up columns of a saved ``summary.csv`` (per step, then per rollout).
SPEEDUP_COLUMNS: tuple[str, ...] = (
    "n_seeds", "n_censored", "mean_cost", "speedup", "ci_low", "ci_high", "p_faster",
    "paired", "rollout_speedup", "rollout_ci_low", "rollout_ci_high",
)  # fmt: skip


def speedup_columns(summary: pd.DataFrame) -> pd.DataFrame:
    """The keys (``scenario, target, rule`` where present) and speed-up columns of a
    saved summary (:data:`SPEEDUP_COLUMNS` that it has), one row per rule.

    Raises ``ValueError`` when the summary has no speed-ups (a folder without the
    baseline's runs, or without a held-out metric).
    """
    if "speedup" not in summary.columns:
        raise ValueError(
            "this summary has no speed-ups (no baseline runs or no held-out metric): "
            f"columns {list(summary.columns)}"
        )
    keys = [c for c in ("scenario", "target", "rule") if c in summary.columns]
    return summary[[*keys, *(c for c in SPEEDUP_COLUMNS if c in summary.columns)]]
