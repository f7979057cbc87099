"""The one report stage: every derived table of a sweep or a study, from its steps.

A results folder holds what the runs wrote (``steps.parquet``, ``choices.parquet``) and
what is derived from them. :class:`AnalysisPlan` is what decides the derived tables (the
held-out metric, the target, the baseline, the curve's targets, the bootstrap size); it
is recorded in the manifest (:meth:`AnalysisPlan.record`). :func:`derive_tables` computes
every table from the steps and the plan, and :func:`write_report` writes each one once,
atomically, through the store:

================================= ==========================================================
``steps_to_target.csv``           interpolated, censored steps (and rollouts) to ``target``
``summary.csv``                   per rule: final metric, informative share, speed-ups in
                                  steps and in rollouts (paired bootstrap)
``speedup_curve.csv``             speed-ups at several targets: absolute ``curve_targets``
                                  (sweeps) or ``target_fractions`` of the baseline's gain
                                  (studies; per task draw when the steps have a ``draw``)
``speedup_to_baseline_final.csv`` speed-up to each seed's baseline final value (sweeps)
``auc.csv``                       area under the learning curve and its gain over baseline
``against_<rule>.csv``            speed-ups at ``target`` against another rule (paired),
                                  for each rule of ``references``
================================= ==========================================================

The sweep command and the harness study (one draw or several) call :func:`write_report`;
:class:`~insight_bayes.results.reader.Results` reads the tables back
(:meth:`~insight_bayes.results.reader.Results.table`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from insight_bayes.results.auc import auc_table
from insight_bayes.results.io import atomic_write_bytes
from insight_bayes.results.summary import analysis_summary, summary_table
from insight_bayes.results.targets import (
    bootstrap_speedups,
    draw_relative_steps_to_target,
    relative_steps_to_target,
    relative_targets,
    speedup_curve,
    speedup_report,
)

__all__ = ["REPORT_TABLES", "AnalysisPlan", "derive_tables", "write_report"]

log = logging.getLogger(__name__)

#: Every table the report stage can write, in the order it writes them (``<name>.csv``).
REPORT_TABLES: tuple[str, ...] = (
    "steps_to_target",
    "summary",
    "speedup_curve",
    "speedup_to_baseline_final",
    "auc",
)


@dataclass(frozen=True)
class AnalysisPlan:
    """What the derived tables of a folder are computed with, fixed before they are read.

    Parameters
    ----------
    metric : str
        Held-out metric column of the steps table (``"eval/accuracy"``,
        ``"eval/pass1_exact"``).
    target : float
        The metric value whose steps-to-target the summary's speed-ups compare.
    baseline : str
        Rule every speed-up is relative to.
    curve_targets : sequence of float
        Absolute targets of the speed-up curve (a simulated scenario's); empty: none.
    target_fractions : sequence of float
        Targets of the speed-up curve as fractions of the baseline's mean final gain over
        its step-0 mean (a harness study's, placed per task draw); empty: none.
    baseline_final : bool
        Also write the speed-up to each seed's own baseline final value.
    references : sequence of str
        Rules to compare every rule with as well (``against_<rule>``: paired speed-ups at
        ``target``, in steps and in rollouts), e.g. ``("insight",)``.
    n_boot : int
        Bootstrap replicates of every interval.
    """

    metric: str
    target: float
    baseline: str = "random"
    curve_targets: tuple[float, ...] = ()
    target_fractions: tuple[float, ...] = ()
    baseline_final: bool = False
    references: tuple[str, ...] = ()
    n_boot: int = 2000

    def __post_init__(self) -> None:
        if self.curve_targets and self.target_fractions:
            raise ValueError("give curve_targets or target_fractions, not both")
        if self.n_boot < 1:
            raise ValueError(f"n_boot must be >= 1, got {self.n_boot}")
        object.__setattr__(self, "curve_targets", tuple(float(t) for t in self.curve_targets))
        object.__setattr__(self, "target_fractions", tuple(float(f) for f in self.target_fractions))
        object.__setattr__(self, "references", tuple(self.references))
        if self.baseline in self.references:
            raise ValueError(f"the baseline {self.baseline!r} is not a further reference")

    def record(self) -> dict[str, Any]:
        """The plan as the manifest's ``analysis`` entry (JSON-ready)."""
        out: dict[str, Any] = {
            "metric": self.metric,
            "target": self.target,
            "baseline": self.baseline,
            "n_boot": self.n_boot,
        }
        if self.curve_targets:
            out["curve_targets"] = list(self.curve_targets)
        if self.target_fractions:
            out["target_fractions"] = list(self.target_fractions)
        if self.references:
            out["references"] = list(self.references)
        return out


def derive_tables(steps: pd.DataFrame, plan: AnalysisPlan) -> dict[str, pd.DataFrame]:
    """Every derived table of ``steps`` under ``plan`` (names of :data:`REPORT_TABLES`).

    Without the metric (no held-out evaluation) or without the baseline's runs only
    ``summary`` is derived (no speed-ups). A curve whose targets cannot be placed yet (the baseline
    has not improved) is left out with a warning.
    """
    if plan.metric not in steps.columns or steps[plan.metric].isna().all():
        return {"summary": summary_table(steps)}
    if plan.baseline not in set(steps["rule"]):
        log.warning("no %s runs: a summary without speed-ups", plan.baseline)
        return {"summary": summary_table(steps, metric=plan.metric)}
    tables: dict[str, pd.DataFrame] = {}
    tables["steps_to_target"], tables["summary"] = analysis_summary(
        steps, plan.target, metric=plan.metric, baseline=plan.baseline, n_boot=plan.n_boot
    )
    curve = _curve(steps, plan)
    if curve is not None:
        tables["speedup_curve"] = curve
    if plan.baseline_final:
        try:
            reached = relative_steps_to_target(
                steps, [1.0], metric=plan.metric, baseline=plan.baseline
            )
        except ValueError as err:
            log.info("no steps to %s's final value: %s", plan.baseline, err)
        else:
            tables["speedup_to_baseline_final"] = speedup_report(
                None, reached=reached, baseline=plan.baseline, n_boot=plan.n_boot
            )
    # the area under the learning curve needs no target (and is the one measure left
    # when the baseline does not improve)
    tables["auc"] = auc_table(steps, metric=plan.metric, baseline=plan.baseline, n_boot=plan.n_boot)
    present = set(steps["rule"])
    for reference in plan.references:
        if reference not in present:
            raise ValueError(f"no runs of the reference {reference!r} (rules: {sorted(present)})")
        tables[f"against_{reference}"] = speedup_report(
            None, reached=tables["steps_to_target"], baseline=reference, oracle=None,
            n_boot=plan.n_boot,
        )  # fmt: skip
    return tables


def write_report(
    folder: str | Path, steps: pd.DataFrame, plan: AnalysisPlan
) -> dict[str, pd.DataFrame]:
    """:func:`derive_tables`, each written once as ``folder/<name>.csv`` (atomically).

    Returns the tables written, by name.
    """
    tables = derive_tables(steps, plan)
    for name in [*REPORT_TABLES, *(f"against_{r}" for r in plan.references)]:
        if name in tables:
            atomic_write_bytes(
                Path(folder) / f"{name}.csv", tables[name].to_csv(index=False).encode()
            )
    return tables


def _curve(steps: pd.DataFrame, plan: AnalysisPlan) -> pd.DataFrame | None:
    """The speed-up curve: absolute targets, relative targets, or per-draw relative."""
    if plan.curve_targets:
        return speedup_report(
            steps,
            plan.curve_targets,
            metric=plan.metric,
            baseline=plan.baseline,
            n_boot=plan.n_boot,
        )
    if not plan.target_fractions:
        return None
    try:
        if "draw" in steps.columns:
            reached = draw_relative_steps_to_target(
                steps, plan.target_fractions, metric=plan.metric, baseline=plan.baseline
            )
            return _draw_curve(reached, plan)
        targets = relative_targets(
            steps, plan.target_fractions, metric=plan.metric, baseline=plan.baseline
        )
    except ValueError as err:  # e.g. the baseline (of a draw) has not improved yet
        log.warning("no relative targets: %s", err)
        return None
    return _relative_curve(steps, targets, plan)


def _relative_curve(
    steps: pd.DataFrame, targets: Sequence[float], plan: AnalysisPlan
) -> pd.DataFrame:
    """Speed-ups at relative targets of one task draw, in steps and in rollouts, with the
    ``fraction`` each target stands for."""
    curve = speedup_curve(
        steps, targets, metric=plan.metric, baseline=plan.baseline, n_boot=plan.n_boot
    )
    curve.insert(
        curve.columns.get_loc("target") + 1,
        "fraction",
        curve["target"].map(dict(zip(targets, plan.target_fractions, strict=True))),
    )
    per_rollout = speedup_curve(
        steps, targets, metric=plan.metric, baseline=plan.baseline,
        measure="rollouts_to_target", n_boot=plan.n_boot,
    )  # fmt: skip
    curve["rollout_speedup"] = per_rollout["speedup"].to_numpy()
    curve["rollout_ci_low"] = per_rollout["ci_low"].to_numpy()
    curve["rollout_ci_high"] = per_rollout["ci_high"].to_numpy()
    return curve


def _draw_curve(reached: pd.DataFrame, plan: AnalysisPlan) -> pd.DataFrame:
    """The speed-up curve of per-draw relative targets, in steps and in rollouts.

    ``reached`` is :func:`~insight_bayes.results.targets.draw_relative_steps_to_target`
    (``target`` holds the fraction). One row per (fraction, rule) with ``target`` (mean
    over draws of the draws' own targets), ``fraction``, the columns of
    :func:`~insight_bayes.results.targets.bootstrap_speedups` in steps, and
    ``rollout_speedup, rollout_ci_low, rollout_ci_high, rollout_between_draw_share``.
    """
    curve = bootstrap_speedups(reached, baseline=plan.baseline, n_boot=plan.n_boot)
    mean_target = reached.groupby("target")["target_value"].mean()
    curve = curve.rename(columns={"target": "fraction"})
    curve.insert(0, "target", curve["fraction"].map(mean_target))
    if "rollouts_to_target" in reached.columns:
        per_rollout = bootstrap_speedups(
            reached, baseline=plan.baseline, measure="rollouts_to_target", n_boot=plan.n_boot
        )
        for column in ("speedup", "ci_low", "ci_high", "between_draw_share"):
            curve[f"rollout_{column}"] = per_rollout[column].to_numpy()
    return curve
