"""Does a new rule beat the best incumbent? A paired decision over designs.

For each results folder (a harness design replicated over task draws and seeds, or a
simulated sweep) and each target (a fraction ``f`` of Random's gain, placed per task draw
by :func:`insight_bayes.results.targets.draw_relative_steps_to_target`, or an absolute
metric value), the *best incumbent* is the incumbent rule with the largest point
speed-up over Random at that target, and the *best new rule* the new rule with the
largest one; both are read from the same steps-to-target table. The decision statistic
is the new rule's speed-up **relative to the best incumbent**,

.. math::
    r_f = \\frac{\\overline{T}_{\\mathrm{incumbent}}(f)}{\\overline{T}_{\\mathrm{new}}(f)},

in training steps and in rollouts, with the hierarchical bootstrap over (draws, then
seeds) of :func:`insight_bayes.results.targets.bootstrap_speedups`, paired on
``(draw, seed)``. Choosing the best of several rules by its point estimate and then
testing it on the same runs favours the chosen rule a little (a winner's curse); the
table says which rules were compared so a reader can discount it.

Nothing here trains or writes: ``insight-bayes decide`` (:mod:`insight_bayes.decide_cli`)
is the command that writes the table.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from insight_bayes.results.targets import (
    bootstrap_speedups,
    draw_relative_steps_to_target,
    steps_to_target,
)

__all__ = ["decision_table", "design_ranking", "speedups_over_baseline", "verdict"]


def decision_table(
    steps: pd.DataFrame,
    *,
    new: Sequence[str],
    incumbents: Sequence[str],
    fractions: Sequence[float] = (),
    targets: Sequence[float] = (),
    metric: str,
    baseline: str = "random",
    n_boot: int = 2000,
) -> pd.DataFrame:
    """The best new rule against the best incumbent at each fraction of one study.

    Parameters
    ----------
    steps : DataFrame
        A study's steps table (with a ``draw`` column when it has several task draws).
    new, incumbents : sequence of str
        Rule labels; every one must have runs in ``steps``.
    fractions : sequence of float
        Targets as fractions of the baseline's mean final gain, in (0, 1] (placed per
        task draw).
    targets : sequence of float
        Absolute targets of ``metric`` instead (give one of the two).
    metric : str
        Held-out metric column.
    baseline : str
        The rule the targets and the first speed-ups are relative to (Random).
    n_boot : int
        Bootstrap replicates.

    Returns
    -------
    DataFrame
        One row per target: ``fraction`` (or ``target``), ``best_new,
        best_incumbent`` and their speed-ups over ``baseline`` (``new_vs_baseline,
        incumbent_vs_baseline``), then ``ratio,
        ci_low, ci_high, p_faster`` (the best new rule against the best incumbent, in
        steps) and ``rollout_ratio, rollout_ci_low, rollout_ci_high``, ``n_draws``,
        ``n_seeds``.

    Raises
    ------
    ValueError
        When a named rule has no runs, or the lists overlap.
    """
    new, incumbents = list(new), list(incumbents)
    if not new or not incumbents or set(new) & set(incumbents):
        raise ValueError(
            f"give non-empty, disjoint lists of new rules and incumbents, got {new} and "
            f"{incumbents}"
        )
    present = set(steps["rule"])
    missing = [r for r in (*new, *incumbents, baseline) if r not in present]
    if missing:
        raise ValueError(f"no runs of {missing} in this study (it has {sorted(present)})")
    reached = _reached(steps, fractions, targets, metric, baseline)
    column = "fraction" if len(fractions) else "target"
    against = bootstrap_speedups(reached, baseline=baseline, n_boot=n_boot).set_index(
        ["target", "rule"]
    )["speedup"]
    rows = []
    for fraction in sorted(set(reached["target"])):
        at = against.loc[fraction]
        best_new = max(new, key=lambda r: at[r])
        best_old = max(incumbents, key=lambda r: at[r])
        pair = reached[(reached["target"] == fraction) & reached["rule"].isin([best_new, best_old])]
        steps_ratio = bootstrap_speedups(pair, baseline=best_old, n_boot=n_boot)
        rollout_ratio = bootstrap_speedups(
            pair, baseline=best_old, measure="rollouts_to_target", n_boot=n_boot
        )
        s = steps_ratio.set_index("rule").loc[best_new]
        r = rollout_ratio.set_index("rule").loc[best_new]
        rows.append(
            {
                column: float(fraction),
                "best_new": best_new,
                "best_incumbent": best_old,
                "new_vs_baseline": float(at[best_new]),
                "incumbent_vs_baseline": float(at[best_old]),
                "ratio": float(s["speedup"]),
                "ci_low": float(s["ci_low"]),
                "ci_high": float(s["ci_high"]),
                "p_faster": float(s["p_faster"]),
                "rollout_ratio": float(r["speedup"]),
                "rollout_ci_low": float(r["ci_low"]),
                "rollout_ci_high": float(r["ci_high"]),
                "n_draws": int(s["n_draws"]) if "n_draws" in s else 1,
                "n_seeds": int(s["n_seeds"]),
            }
        )
    return pd.DataFrame(rows)


def _reached(steps, fractions, targets, metric, baseline) -> pd.DataFrame:
    """Steps to each target of every run: relative (placed per task draw) or absolute."""
    if bool(len(fractions)) == bool(len(targets)):
        raise ValueError("give fractions (relative targets) or targets (absolute), not both")
    if len(fractions):
        return draw_relative_steps_to_target(steps, fractions, metric=metric, baseline=baseline)
    return steps_to_target(steps, list(targets), metric=metric)


def speedups_over_baseline(
    steps: pd.DataFrame,
    *,
    fractions: Sequence[float] = (),
    targets: Sequence[float] = (),
    metric: str,
    baseline: str = "random",
    n_boot: int = 2000,
) -> pd.DataFrame:
    """Every rule's speed-up over ``baseline`` at each target of one study.

    The same targets and hierarchical paired bootstrap as :func:`decision_table` (which
    picks the best rules from these point estimates). Returns one row per (target, rule
    other than the baseline): ``fraction`` (or ``target``), ``rule, speedup, ci_low,
    ci_high, n_censored, n_seeds``.
    """
    reached = _reached(steps, fractions, targets, metric, baseline)
    table = bootstrap_speedups(reached, baseline=baseline, n_boot=n_boot)
    table = table[table["rule"] != baseline]
    column = "fraction" if len(fractions) else "target"
    out = table[["target", "rule", "speedup", "ci_low", "ci_high", "n_censored", "n_seeds"]]
    return out.rename(columns={"target": column}).reset_index(drop=True)


def design_ranking(speedups: pd.DataFrame) -> pd.DataFrame:
    r"""Rank rules over designs by the geometric mean of their speed-up over the baseline.

    For each target and rule seen on every design,

    .. math::
        G = \exp\Big(\frac{1}{D} \sum_{d=1}^{D} \log s_d\Big),

    the geometric mean of its point speed-ups :math:`s_d` over the :math:`D` designs (a
    rule twice as fast on one design and half as fast on another scores 1), with the worst
    design's speed-up beside it. Rank 1 is the highest :math:`G` at that target.

    Parameters
    ----------
    speedups : DataFrame
        :func:`speedups_over_baseline` rows with a ``design`` column.

    Returns
    -------
    DataFrame
        ``fraction`` (or ``target``), ``rule, geomean_speedup, worst_speedup,
        worst_design, n_designs, rank``, best first within each target.

    Raises
    ------
    ValueError
        When a speed-up is not positive and finite, or a rule misses a design.
    """
    column = "fraction" if "fraction" in speedups.columns else "target"
    values = speedups["speedup"].to_numpy(dtype=float)
    if not np.all(np.isfinite(values) & (values > 0)):
        raise ValueError("every speed-up must be positive and finite")
    designs = speedups["design"].nunique()
    rows = []
    for (at, rule), part in speedups.groupby([column, "rule"], sort=True):
        if part["design"].nunique() != designs:
            raise ValueError(f"rule {rule!r} has no speed-up on every design at {column} {at}")
        worst = part.loc[part["speedup"].idxmin()]
        rows.append({
            column: float(at), "rule": rule,
            "geomean_speedup": float(np.exp(np.log(part["speedup"].to_numpy(float)).mean())),
            "worst_speedup": float(worst["speedup"]), "worst_design": str(worst["design"]),
            "n_designs": int(designs),
        })  # fmt: skip
    out = pd.DataFrame(rows).sort_values([column, "geomean_speedup"], ascending=[True, False])
    out["rank"] = out.groupby(column).cumcount() + 1
    return out.reset_index(drop=True)


def verdict(
    table: pd.DataFrame,
    *,
    at: float = 1.0,
    goal: float = 1.10,
    floor: float = 0.95,
    min_wins: int = 2,
) -> dict[str, object]:
    """Whether a decision table (one row per (design, target)) meets the goal.

    The goal, fixed before the runs: at target ``at`` (a fraction, or an absolute
    target when the table has ``target`` rows), the best new rule is at least
    ``goal`` times the best incumbent with the interval's lower end above 1 on at least
    ``min_wins`` designs (so a table of fewer designs cannot meet it), and its point
    ratio is never below ``floor``.

    Returns ``{"designs", "clear_wins", "below_floor", "met"}``.
    """
    column = "fraction" if "fraction" in table.columns else "target"
    rows = table[table[column] == at]
    if rows.empty:
        raise ValueError(f"the table has no row at {column} {at}")
    wins = rows[(rows["ratio"] >= goal) & (rows["ci_low"] > 1.0)]
    below = rows[rows["ratio"] < floor]
    design = rows["design"] if "design" in rows.columns else pd.Series(range(len(rows)))
    return {
        "designs": int(len(rows)),
        "clear_wins": [str(d) for d in design.loc[wins.index]],
        "below_floor": [str(d) for d in design.loc[below.index]],
        "met": bool(len(wins) >= min_wins and below.empty),
    }
