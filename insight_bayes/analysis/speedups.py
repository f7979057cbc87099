"""Steps-to-target and paired bootstrap speed-ups, per training step and per rollout.

The speed-up of a rule is ``mean(T_baseline) / mean(T_rule)`` over seeds, where ``T`` is
the number of training steps (or rollouts) to reach the accuracy target; censored runs
count at their horizon. The definitions live in :mod:`simulations.speedup` (bootstrap)
and :mod:`insight_bayes.rlvr.records` (a study's steps-to-target); this module only puts
the per-step and per-rollout speed-ups of a sweep or of a study side by side.
"""

from __future__ import annotations

import pandas as pd

from simulations.speedup import bootstrap_speedups, steps_to_target, summary_table

__all__ = ["speedups_per_step_and_rollout", "study_tables", "sweep_tables"]

#: The label a study's runs get in the ``scenario`` column (one study, one scenario).
STUDY_SCENARIO = "harness"


def speedups_per_step_and_rollout(
    stt: pd.DataFrame, *, baseline: str = "random", n_boot: int = 2000
) -> pd.DataFrame:
    """Speed-ups versus ``baseline`` in steps and in rollouts, one row per (scenario, rule).

    Parameters
    ----------
    stt : DataFrame
        Steps-to-target per (scenario, rule, seed) with ``steps_to_target`` and
        ``rollouts_to_target`` columns (see :func:`simulations.speedup.steps_to_target`).
    baseline : str
        The reference rule (Random).
    n_boot : int
        Bootstrap replicates (seeded: the same table every call).

    Returns
    -------
    DataFrame
        The columns of :func:`simulations.speedup.bootstrap_speedups` (per step), plus
        ``rollout_speedup, rollout_ci_low, rollout_ci_high`` (per rollout).
    """
    per_step = bootstrap_speedups(stt, baseline=baseline, n_boot=n_boot)
    per_rollout = bootstrap_speedups(
        stt, baseline=baseline, measure="rollouts_to_target", n_boot=n_boot
    )
    per_rollout = per_rollout[["scenario", "rule", "speedup", "ci_low", "ci_high"]].rename(
        columns={"speedup": "rollout_speedup", "ci_low": "rollout_ci_low",
                 "ci_high": "rollout_ci_high"}
    )  # fmt: skip
    return per_step.merge(per_rollout, on=["scenario", "rule"])


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
        :func:`simulations.speedup.steps_to_target`, :func:`speedups_per_step_and_rollout`
        and :func:`simulations.speedup.summary_table` with ``ms_per_step`` (mean wall
        time of a training step, milliseconds) added.
    """
    stt = steps_to_target(steps, target)
    speedups = speedups_per_step_and_rollout(stt, baseline=baseline, n_boot=n_boot)
    summary = summary_table(steps, speedups)
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
        :func:`insight_bayes.rlvr.records.steps_to_target` of ``metric >= target``, and
        :func:`speedups_per_step_and_rollout` with ``scenario`` set to ``"harness"``.
    """
    from insight_bayes.rlvr.records import steps_to_target as study_steps_to_target

    stt = study_steps_to_target(steps, target, metric=metric)
    speedups = speedups_per_step_and_rollout(
        stt.assign(scenario=STUDY_SCENARIO), baseline=baseline, n_boot=n_boot
    )
    return stt, speedups
