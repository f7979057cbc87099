r"""The rules beyond InSight against Random, InSight and the oracle, and their
belief calibration over time.

Reads a sweep's tidy steps table (``rule, seed, step, eval/accuracy,
belief/coverage_chosen, ...``) and returns tidy tables; the speed-ups are those of
:mod:`insight_bayes.results.targets` (:func:`~insight_bayes.results.steps_to_target`
and the paired bootstrap of :func:`~insight_bayes.results.bootstrap_speedups`), taken
against three references:

* **speed-up versus Random**: ``mean_s(T_random) / mean_s(T_rule)``;
* **ratio to InSight**: ``mean_s(T_insight) / mean_s(T_rule)``, the rule's speed-up
  divided by InSight's (the goal set before the study: at least 1.10 with an interval above 1);
* **fraction of the oracle**: ``mean_s(T_oracle) / mean_s(T_rule)``, the rule's
  speed-up divided by the oracle's (goal: at least 0.85).

Each is a ratio of mean steps-to-target over the same seeds, so its bootstrap resamples
seeds jointly (paired). **Coverage** is the sweep's ``belief/coverage_chosen``: the share
of a step's chosen prompts whose true rate lies in the central 90% interval of the
rule's belief (0.9 when calibrated; the simulator's privileged diagnostic, never read by
a rule).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from insight_bayes.results.targets import bootstrap_speedups, steps_to_target
from insight_bayes.validation import RngLike, check_int

__all__ = ["COVERAGE", "DEFAULT_WINDOWS", "beyond_table", "coverage_over_time", "goal_cells"]

#: The steps table's calibration column: share of chosen prompts covered by the 90% interval.
COVERAGE = "belief/coverage_chosen"
#: Step windows of the coverage columns: early, middle and late training.
DEFAULT_WINDOWS: tuple[tuple[int, int], ...] = ((1, 25), (26, 100), (101, 200))


def _one_scenario(steps: pd.DataFrame) -> None:
    if "scenario" in steps.columns and steps["scenario"].nunique() > 1:
        raise ValueError(
            f"steps table holds several scenarios {sorted(steps['scenario'].unique())}; "
            "select one first"
        )


def _require_rules(steps: pd.DataFrame, **rules: str | None) -> None:
    present = set(steps["rule"])
    for role, rule in rules.items():
        if rule is not None and rule not in present:
            raise ValueError(
                f"{role} rule {rule!r} has no runs in the steps table (rules: {sorted(present)})"
            )


def _check_windows(windows: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    out = []
    for window in windows:
        if len(window) != 2:
            raise ValueError(f"a window is (first, last) step; got {window!r}")
        lo = check_int(window[0], "window start", min_value=0)
        hi = check_int(window[1], "window end", min_value=lo)
        out.append((lo, hi))
    return out


def _relative(
    reached: pd.DataFrame, reference: str, name: str, *, n_boot: int, level: float, rng: RngLike
) -> pd.DataFrame:
    """``mean(T_reference) / mean(T_rule)`` per rule with its paired bootstrap interval."""
    out = bootstrap_speedups(reached, baseline=reference, n_boot=n_boot, level=level, rng=rng)
    out = out[["rule", "speedup", "ci_low", "ci_high"]]
    return out.rename(
        columns={"speedup": name, "ci_low": f"{name}_ci_low", "ci_high": f"{name}_ci_high"}
    )


def _final_metric(steps: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Mean and sd over seeds of each run's last evaluated ``metric``."""
    evaluated = steps[steps[metric].notna()].sort_values("step")
    last = evaluated.groupby(["rule", "seed"])[metric].last().groupby("rule")
    return pd.DataFrame(
        {"final_accuracy": last.mean(), "final_accuracy_sd": last.std(ddof=1)}
    ).reset_index()


def _coverage_windows(
    steps: pd.DataFrame, column: str, windows: list[tuple[int, int]]
) -> pd.DataFrame:
    """Per rule: mean over seeds of each run's mean coverage inside each step window."""
    last = int(steps["step"].max())
    out = pd.DataFrame({"rule": sorted(steps["rule"].unique())})
    for lo, hi in windows:
        if lo > last:
            continue  # the run never got there: no column rather than a column of NaN
        hi = min(hi, last)
        inside = steps[(steps["step"] >= lo) & (steps["step"] <= hi)]
        per_run = inside.groupby(["rule", "seed"])[column].mean()
        out[f"coverage_{lo}-{hi}"] = out["rule"].map(per_run.groupby("rule").mean())
    return out


def beyond_table(
    steps: pd.DataFrame,
    target: float,
    *,
    baseline: str = "random",
    reference: str = "insight",
    oracle: str | None = "oracle",
    metric: str = "eval/accuracy",
    coverage: str = COVERAGE,
    windows: Sequence[tuple[int, int]] = DEFAULT_WINDOWS,
    n_boot: int = 2000,
    level: float = 0.95,
    rng: RngLike = 0,
) -> pd.DataFrame:
    """Every rule against Random, InSight and the oracle at one target, with calibration.

    Parameters
    ----------
    steps : DataFrame
        A sweep's tidy steps table of one scenario: ``rule, seed, step, metric`` and,
        for the coverage columns, ``coverage``.
    target : float
        Held-out accuracy target of the steps-to-target.
    baseline, reference, oracle : str
        The rules the speed-up, the ratio and the oracle fraction are taken against
        (``oracle=None``: no oracle columns).
    metric : str
        Held-out metric (``eval/accuracy``).
    coverage : str
        Calibration column; its columns are left out when the table lacks it.
    windows : sequence of (int, int)
        Inclusive step windows of the coverage columns. A window is cut at the last step
        of the table and left out when it starts after it.
    n_boot, level, rng
        Bootstrap replicates, interval level and seed (as for
        :func:`~insight_bayes.results.bootstrap_speedups`).

    Returns
    -------
    DataFrame
        One row per rule, fastest first: ``target, rule, n_seeds, n_censored, speedup,
        ci_low, ci_high, p_faster`` (versus ``baseline``), ``ratio_to_reference`` with
        ``ratio_to_reference_ci_low/high`` (``mean(T_reference) / mean(T_rule)``),
        ``oracle_fraction`` with ``oracle_fraction_ci_low/high``
        (``mean(T_oracle) / mean(T_rule)``), ``final_accuracy, final_accuracy_sd`` and
        ``coverage_<first>-<last>`` per window: the mean over seeds of each run's mean
        coverage in the window (NaN for a rule that recorded none there).

    Examples
    --------
    >>> rows = [{"rule": r, "seed": s, "step": t, "eval/accuracy": a}
    ...         for r, curve in {"random": [0.0, 0.2, 0.6], "insight": [0.0, 0.6, 0.8]}.items()
    ...         for s in (0, 1) for t, a in enumerate(curve)]
    >>> t = beyond_table(pd.DataFrame(rows), 0.6, oracle=None).set_index("rule")
    >>> float(t.loc["insight", "speedup"]), float(t.loc["random", "ratio_to_reference"])
    (2.0, 0.5)
    """
    _one_scenario(steps)
    _require_rules(steps, baseline=baseline, reference=reference, oracle=oracle)
    windows = _check_windows(windows)
    reached = steps_to_target(steps, target, metric=metric)
    boot = {"n_boot": n_boot, "level": level, "rng": rng}
    table = bootstrap_speedups(reached, baseline=baseline, **boot)
    table = table[["target", "rule", "n_seeds", "n_censored", "speedup", "ci_low", "ci_high",
                   "p_faster"]]  # fmt: skip
    table = table.merge(_relative(reached, reference, "ratio_to_reference", **boot), on="rule")
    if oracle is not None:
        table = table.merge(_relative(reached, oracle, "oracle_fraction", **boot), on="rule")
    table = table.merge(_final_metric(steps, metric), on="rule", how="left")
    if coverage in steps.columns:
        table = table.merge(_coverage_windows(steps, coverage, windows), on="rule", how="left")
    return table.sort_values("speedup", ascending=False, kind="stable").reset_index(drop=True)


def coverage_over_time(
    steps: pd.DataFrame, column: str = COVERAGE, every: int = 10
) -> pd.DataFrame:
    """A calibration column over training, per rule: mean and standard error over seeds.

    Steps are grouped in bins of ``every``: the bin labelled ``step = j * every`` holds
    steps ``(j - 1) * every + 1 ... j * every`` (``every = 1``: each step). Each run's
    values are averaged inside a bin, then the runs (seeds) are averaged.

    Parameters
    ----------
    steps : DataFrame
        Tidy steps table of one scenario with ``rule, seed, step, column``.
    column : str
        The column (``belief/coverage_chosen``); steps where it is missing (step 0,
        before anything was chosen) are left out.
    every : int
        Bin width in steps (>= 1).

    Returns
    -------
    DataFrame
        ``rule, step, mean, se, n_seeds``; ``se = sd / sqrt(n_seeds)`` over the seeds'
        bin means (NaN where one seed ran).
    """
    every = check_int(every, "every", min_value=1)
    _one_scenario(steps)
    missing = {"rule", "seed", "step", column} - set(steps.columns)
    if missing:
        raise ValueError(f"steps table lacks column(s) {sorted(missing)}")
    present = steps[steps[column].notna()]
    if present.empty:
        raise ValueError(f"column {column!r} holds no values")
    bins = (np.ceil(present["step"].to_numpy(np.float64) / every) * every).astype(np.int64)
    per_run = present.assign(step=bins).groupby(["rule", "step", "seed"])[column].mean()
    grouped = per_run.groupby(["rule", "step"])
    out = pd.DataFrame(
        {"mean": grouped.mean(), "sd": grouped.std(ddof=1), "n_seeds": grouped.size()}
    ).reset_index()
    out["se"] = out["sd"] / np.sqrt(out["n_seeds"])
    return out[["rule", "step", "mean", "se", "n_seeds"]]


def goal_cells(
    reached: pd.DataFrame,
    rule: str,
    *,
    reference: str = "insight",
    oracle: str = "oracle",
    ratio: float = 1.10,
    oracle_share: float = 0.85,
    n_boot: int = 2000,
    rng: RngLike = 0,
) -> pd.DataFrame:
    """Per cell and target: does ``rule`` meet the goal against ``reference``?

    The goal set before the runs: a ratio to InSight of at least ``ratio`` with a paired interval
    above 1, and at least ``oracle_share`` of the oracle's speed-up. Both are paired
    bootstrap ratios of mean steps-to-target over the same seeds
    (:func:`~insight_bayes.results.bootstrap_speedups` with the reference, then the oracle,
    as baseline: ``T_oracle / T_rule`` is the rule's speed-up over the oracle's).

    Parameters
    ----------
    reached : DataFrame
        Steps-to-target of every run (``[scenario,] rule, seed, target, steps_to_target,
        censored, horizon``), e.g. the robustness grid's relative targets.
    rule : str
        The rule tested; ``reference`` and ``oracle`` must be in ``reached`` too.

    Returns
    -------
    DataFrame
        ``[scenario,] target, ratio, ratio_low, ratio_high, oracle_fraction,
        oracle_fraction_low, oracle_fraction_high, meets``.
    """
    present = set(reached["rule"])
    missing = [r for r in (rule, reference, oracle) if r not in present]
    if missing:
        raise ValueError(f"reached has no runs of {missing}; it holds {sorted(present)}")
    keys = [c for c in ("scenario", "target") if c in reached]
    out = []
    for base, names in ((reference, ("ratio", "ratio_low", "ratio_high")),
                        (oracle, ("oracle_fraction", "oracle_fraction_low",
                                  "oracle_fraction_high"))):  # fmt: skip
        table = bootstrap_speedups(reached, baseline=base, n_boot=n_boot, rng=rng)
        table = table[table["rule"] == rule]
        out.append(
            table[keys + ["speedup", "ci_low", "ci_high"]].rename(
                columns=dict(zip(("speedup", "ci_low", "ci_high"), names, strict=True))
            )
        )
    cells = out[0].merge(out[1], on=keys)
    cells["meets"] = (
        (cells["ratio"] >= ratio)
        & (cells["ratio_low"] > 1.0)
        & (cells["oracle_fraction"] >= oracle_share)
    )
    return cells.reset_index(drop=True)
