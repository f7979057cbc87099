"""Per-rule summaries: a harness study's metrics, and the cost of Dynamic Sampling.

Dynamic Sampling draws extra rollouts to replace uninformative groups, so it can gain
per *training step* while losing per *rollout*; :func:`cost_frame` puts both speed-ups
next to the rollouts and wall time spent per step.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

__all__ = ["cost_frame", "study_summary"]

_SPEEDUP_COLUMNS = [
    "rule", "speedup", "ci_low", "ci_high", "rollout_speedup", "rollout_ci_low",
    "rollout_ci_high",
]  # fmt: skip


def study_summary(steps: pd.DataFrame, speedups: pd.DataFrame, metric: str) -> pd.DataFrame:
    """One row per rule of a study, best speed-up first.

    Parameters
    ----------
    steps : DataFrame
        The study's tidy steps table (``rule, seed, step, <metric>, informative_share,
        rollouts, step_seconds``).
    speedups : DataFrame
        :func:`insight_bayes.analysis.speedups.speedup_columns` of the saved summary.
    metric : str
        The held-out metric (``eval/pass1``).

    Returns
    -------
    DataFrame
        ``rule, final_metric`` (mean over seeds of the last evaluated value),
        ``mean_cost, n_censored, speedup, ci_low, ci_high, rollout_speedup,
        rollout_ci_low, rollout_ci_high``, and per training step the means of
        ``informative_share, rollouts, step_seconds``.
    """
    last = (
        steps[steps[metric].notna()]
        .sort_values("step")
        .groupby(["rule", "seed"])[metric]
        .last()
        .groupby("rule")
        .mean()
    )
    trained = steps[steps["step"] > 0].groupby("rule")
    table = speedups.sort_values("speedup", ascending=False)[
        [*_SPEEDUP_COLUMNS, "mean_cost", "n_censored"]
    ].reset_index(drop=True)
    table.insert(1, "final_metric", table["rule"].map(last))
    for column in ("informative_share", "rollouts", "step_seconds"):
        table[column] = table["rule"].map(trained[column].mean())
    return table


def cost_frame(
    settings: Iterable[tuple[str, pd.DataFrame, pd.DataFrame]],
) -> pd.DataFrame:
    """Rollouts and milliseconds per training step next to both speed-ups, per setting.

    Parameters
    ----------
    settings : iterable of (name, steps, speedups)
        For example ``("simulated", sweep_steps, sweep_speedups)`` and ``("harness",
        study_steps, study_speedups)``; speed-ups as from
        :func:`insight_bayes.analysis.speedups.speedup_columns` of a saved summary.

    Returns
    -------
    DataFrame
        ``setting, rule, speedup, ci_low, ci_high, rollout_speedup, rollout_ci_low,
        rollout_ci_high, rollouts_per_step, ms_per_step`` (Dynamic Sampling's extra
        rollouts included), in the order of ``settings`` and of each ``speedups``.
    """
    parts = []
    for setting, steps, speedups in settings:
        trained = steps[steps["step"] > 0].groupby("rule")
        df = speedups[_SPEEDUP_COLUMNS].copy()
        df["rollouts_per_step"] = df["rule"].map(trained["rollouts"].mean())
        df["ms_per_step"] = df["rule"].map(trained["step_seconds"].mean()) * 1e3
        df.insert(0, "setting", setting)
        parts.append(df)
    if not parts:
        raise ValueError("settings must hold at least one (name, steps, speedups)")
    return pd.concat(parts, ignore_index=True).astype({"ms_per_step": np.float64})
