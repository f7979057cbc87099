"""Steps-to-target and paired bootstrap speed-ups, per training step and per rollout.

The speed-up of a rule is ``mean(T_baseline) / mean(T_rule)`` over seeds, where ``T`` is
the (interpolated) number of training steps, or rollouts, to reach the accuracy target;
censored runs count at their horizon. The definitions live in
:mod:`insight_bayes.results.targets`; this module only puts the per-step and per-rollout
speed-ups of a sweep or of a study side by side for the figures and notebooks.
"""

from __future__ import annotations

import pandas as pd

from insight_bayes.results.summary import analysis_summary
from insight_bayes.results.targets import bootstrap_speedups

__all__ = ["speedups_per_step_and_rollout", "study_tables", "sweep_tables"]

_SPEEDUP_COLUMNS = (
    "n_seeds", "n_censored", "mean_cost", "speedup", "ci_low", "ci_high", "p_faster",
    "paired", "rollout_speedup", "rollout_ci_low", "rollout_ci_high",
)  # fmt: skip


def speedups_per_step_and_rollout(
    stt: pd.DataFrame, *, baseline: str = "random", n_boot: int = 2000
) -> pd.DataFrame:
    """Speed-ups versus ``baseline`` in steps and in rollouts, one row per (scenario, rule).

    Parameters
    ----------
    stt : DataFrame
        Steps-to-target per (scenario, rule, seed) with ``steps_to_target`` and
        ``rollouts_to_target`` columns (see :func:`insight_bayes.results.steps_to_target`).
    baseline : str
        The reference rule (Random).
    n_boot : int
        Bootstrap replicates (seeded: the same table every call).

    Returns
    -------
    DataFrame
        The columns of :func:`insight_bayes.results.bootstrap_speedups` (per step), plus
        ``rollout_speedup, rollout_ci_low, rollout_ci_high`` (per rollout).
    """
    keys = [c for c in ("scenario", "target", "rule") if c in stt.columns]
    per_step = bootstrap_speedups(stt, baseline=baseline, n_boot=n_boot)
    per_rollout = bootstrap_speedups(
        stt, baseline=baseline, measure="rollouts_to_target", n_boot=n_boot
    )
    per_rollout = per_rollout[[*keys, "speedup", "ci_low", "ci_high"]].rename(
        columns={"speedup": "rollout_speedup", "ci_low": "rollout_ci_low",
                 "ci_high": "rollout_ci_high"}
    )  # fmt: skip
    return per_step.merge(per_rollout, on=keys)


def sweep_tables(
    steps: pd.DataFrame, target: float, *, baseline: str = "random", n_boot: int = 2000
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Steps-to-target, speed-ups and the per-rule summary of one simulated sweep.

    Parameters
    ----------
    steps : DataFrame
        The sweep's tidy steps table (``scenario, rule, seed, step, eval/accuracy,
        rollouts, step_seconds, ...``).
    target : float
        Held-out accuracy target.

    Returns
    -------
    stt, speedups, summary : DataFrame
        :func:`insight_bayes.results.steps_to_target`, :func:`speedups_per_step_and_rollout`
        and :func:`insight_bayes.results.summary_table` with ``ms_per_step`` (mean wall
        time of a training step, milliseconds) added.
    """
    stt, summary = analysis_summary(
        steps, target, metric="eval/accuracy", baseline=baseline, n_boot=n_boot
    )
    keys = [c for c in ("scenario", "target", "rule") if c in summary.columns]
    speedups = summary[[*keys, *(c for c in _SPEEDUP_COLUMNS if c in summary.columns)]]
    seconds = steps[steps["step"] > 0].groupby("rule")["step_seconds"].mean()
    summary["ms_per_step"] = summary["rule"].map(seconds) * 1e3
    return stt, speedups, summary


def study_tables(
    steps: pd.DataFrame,
    target: float,
    *,
    metric: str = "eval/pass1",
    baseline: str = "random",
    n_boot: int = 2000,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Steps-to-target and speed-ups (per step and per rollout) of one harness study.

    Returns
    -------
    stt, speedups : DataFrame
        :func:`insight_bayes.results.steps_to_target` of ``metric >= target``, and the
        speed-ups per step and per rollout (the study's own ``scenario`` label).
    """
    stt, summary = analysis_summary(steps, target, metric=metric, baseline=baseline, n_boot=n_boot)
    keys = [c for c in ("scenario", "target", "rule") if c in summary.columns]
    return stt, summary[[*keys, *(c for c in _SPEEDUP_COLUMNS if c in summary.columns)]]
