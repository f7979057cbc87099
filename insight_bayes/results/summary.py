"""The summary table of a sweep or study: one row per rule, its speed-ups beside it."""

from __future__ import annotations

import pandas as pd

from insight_bayes.results.bootstrap import _group_keys, _run_keys
from insight_bayes.results.targets import bootstrap_speedups, steps_to_target

__all__ = ["analysis_summary", "summary_table"]


def summary_table(
    steps: pd.DataFrame,
    speedups: pd.DataFrame | None = None,
    *,
    metric: str = "eval/accuracy",
) -> pd.DataFrame:
    """One row per ([scenario,] rule): final metric, informative share, cost, speed-up.

    Columns (those whose source columns exist): ``final_accuracy`` (mean over seeds of
    the last evaluated ``metric``) and its standard deviation, ``informative_share``
    (mean over steps and seeds of the share of trained groups whose binary outcomes are
    mixed), ``expected_informative`` (its expectation ``1 - p^K - (1 - p)^K`` at the
    trained prompts' true verified rates; simulator only), ``info_gain`` (mean realised
    entropy drop of the chosen beliefs per step, nats), ``belief_mae`` (final pool-wide
    mean absolute error of the mean belief; simulator only), ``rollouts_per_step``
    (a rollout filter's extra rollouts included), then the columns of
    :func:`bootstrap_speedups` when ``speedups`` is given (sorted by speed-up).
    """
    keys = [*_group_keys(steps.drop(columns="target", errors="ignore")), "rule"]
    runs = _run_keys(steps)
    trained = steps[steps["step"] > 0].groupby(keys)
    columns: dict[str, pd.Series] = {}
    if metric in steps.columns and steps[metric].notna().any():
        last = (
            steps[steps[metric].notna()].sort_values("step").groupby(runs)[metric].last()
        ).groupby(keys)
        columns["final_accuracy"] = last.mean()
        columns["final_accuracy_sd"] = last.std(ddof=1)
    for name, source in (
        ("informative_share", "informative_share"),
        ("expected_informative", "train/expected_informative"),
        ("info_gain", "info/entropy_drop"),
    ):
        if source in steps.columns:
            columns[name] = trained[source].mean()
    if "belief/mae_pool" in steps.columns:
        final = steps.sort_values("step").groupby(runs)["belief/mae_pool"].last()
        columns["belief_mae"] = final.groupby(keys).mean()
    columns["rollouts_per_step"] = trained["rollouts"].mean()
    out = pd.DataFrame(columns).reset_index()
    if speedups is None:
        return out.sort_values(keys).reset_index(drop=True)
    merge_on = [k for k in keys if k in speedups.columns]
    out = out.merge(speedups, on=merge_on, how="left")
    order = [k for k in ("scenario",) if k in out.columns] + ["speedup"]
    ascending = [True] * (len(order) - 1) + [False]
    return out.sort_values(order, ascending=ascending).reset_index(drop=True)


def analysis_summary(
    steps: pd.DataFrame,
    target: float,
    *,
    metric: str,
    baseline: str = "random",
    n_boot: int = 2000,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(steps_to_target, summary)`` at ``target``: what both CLIs write and print.

    ``summary`` is :func:`~insight_bayes.results.summary.summary_table` with the
    speed-ups in steps (``speedup, ci_low, ci_high, ...``) and in rollouts
    (``rollout_speedup, rollout_ci_low, rollout_ci_high``).
    """
    stt = steps_to_target(steps, target, metric=metric)
    speedups = bootstrap_speedups(stt, baseline=baseline, n_boot=n_boot)
    table = summary_table(steps, speedups, metric=metric)
    if "rollouts_to_target" in stt.columns:
        keys = [c for c in ("scenario", "target", "rule") if c in speedups.columns]
        per_rollout = bootstrap_speedups(
            stt, baseline=baseline, measure="rollouts_to_target", n_boot=n_boot
        )[[*keys, "speedup", "ci_low", "ci_high"]]
        per_rollout = per_rollout.rename(
            columns={
                "speedup": "rollout_speedup",
                "ci_low": "rollout_ci_low",
                "ci_high": "rollout_ci_high",
            }
        )
        table = table.merge(per_rollout, on=keys, how="left")
    return stt, table
