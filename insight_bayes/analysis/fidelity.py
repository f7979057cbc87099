"""Which of the paper's claims does the simulator reproduce, refute, or leave open, per cell?

Input: a sweep over the cells of the robustness grid (:mod:`simulations.grid`), one
``scenario`` per cell. For every cell the targets are relative (the step-0 held-out
accuracy plus fractions of Random's final gain in that cell), and every comparison is a
paired bootstrap over seeds (95% percentile intervals). A claim's status at one cell and
target is

* ``reproduced`` when the interval lies on the claim's side,
* ``refuted`` when it lies on the other side,
* ``unresolved`` when it straddles the boundary (more seeds could decide it).

Across cells and targets the claim **holds** (reproduced everywhere), is **refuted**
(refuted everywhere), or **depends** on the assumptions (anything else). The claims and
their tests, fixed before the grid ran:

* InSight > Random: insight vs random > 1;
* InSight > MoPPS: insight vs mopps > 1;
* Expected-Difficulty > MoPPS: expected-difficulty vs mopps > 1;
* Inverse-Evidence ~ Random: inverse-evidence vs random inside [0.95, 1.05];
* MI only < WMI: insight vs mi > 1;
* weight only < WMI: insight vs weight > 1;
* mu = 0.3 best of {0.1, 0.3, 0.7}: insight vs insight:mu=0.1 > 1 and vs mu=0.7 > 1;
* Dynamic Sampling costs more than it gains: dynamic-sampling vs random per rollout < 1;
* a speed-up of 1.5-2.2x: the interval of insight vs random meets [1.5, 2.2];
* gains shrink as the model strengthens: insight's speed-up on the weak pool above the
  strongest pool's.

("A vs B" is the paired speed-up ``mean steps of B / mean steps of A``.)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from insight_bayes.results.auc import auc_table
from insight_bayes.results.targets import (
    bootstrap_speedups,
    relative_steps_to_target,
    speedup_report,
)

__all__ = [
    "CLAIMS",
    "claim_summary",
    "fidelity_table",
    "grid_tables",
    "oracle_violations",
    "ranking_agreement",
]

#: Claim id -> (text, kind, rule A, rule B, bounds).
CLAIMS: dict[str, tuple[str, str, str, str, tuple[float, float]]] = {
    "insight>random": ("InSight beats Random", "greater", "insight", "random", (1, 1)),
    "insight>mopps": ("InSight beats MoPPS", "greater", "insight", "mopps", (1, 1)),
    "ed>mopps": ("Expected-Difficulty beats MoPPS", "greater", "expected-difficulty", "mopps",
                 (1, 1)),
    "ie~random": ("Inverse-Evidence is about Random (within 5%)", "equivalent",
                  "inverse-evidence", "random", (0.95, 1.05)),
    "mi<wmi": ("MI alone is slower than WMI", "greater", "insight", "mi", (1, 1)),
    "weight<wmi": ("the weight alone is slower than WMI", "greater", "insight", "weight", (1, 1)),
    "mu0.3best": ("mu = 0.3 is the best of {0.1, 0.3, 0.7}", "best", "insight",
                  "insight:mu=0.1|insight:mu=0.7", (1, 1)),
    "ds-costly": ("Dynamic Sampling costs more rollouts than it saves", "less-per-rollout",
                  "dynamic-sampling", "random", (1, 1)),
    "speedup1.5-2.2": ("InSight's speed-up is 1.5-2.2x", "range", "insight", "random",
                       (1.5, 2.2)),
    "shrinks": ("gains shrink as the model gets stronger", "strength", "insight", "random",
                (1, 1)),
}  # fmt: skip


def grid_tables(
    steps: pd.DataFrame,
    fractions: Sequence[float],
    *,
    metric: str = "eval/accuracy",
    baseline: str = "random",
    n_boot: int = 2000,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Per cell (``scenario``): the speed-up report at relative targets, and the AUC.

    Targets are relative to each seed's own start and Random's final accuracy at that
    seed (:func:`~insight_bayes.results.relative_steps_to_target`); ``target`` and
    ``fraction`` both hold the fraction.

    Returns
    -------
    report : DataFrame
        :func:`~insight_bayes.results.speedup_report` per cell with ``fraction``.
    auc : DataFrame
        :func:`~insight_bayes.results.auc_table` per cell.
    reached : DataFrame
        Steps-to-target of every run at its cell's targets (with ``fraction``), the input
        of the pairwise comparisons of :func:`fidelity_table`.
    """
    reached = relative_steps_to_target(steps, fractions, metric=metric, baseline=baseline)
    reached["fraction"] = reached["target"]
    report = speedup_report(None, reached=reached, baseline=baseline, n_boot=n_boot)
    report.insert(report.columns.get_loc("target") + 1, "fraction", report["target"])
    auc = auc_table(steps, metric=metric, baseline=baseline, n_boot=n_boot)
    return report, auc, reached


def _versus(
    reached: pd.DataFrame, rule: str, other: str, measure: str, n_boot: int
) -> pd.DataFrame:
    """Paired speed-up of ``rule`` versus ``other`` per (scenario, target)."""
    both = reached[reached["rule"].isin([rule, other])]
    out = bootstrap_speedups(both, baseline=other, measure=measure, n_boot=n_boot)
    return out[out["rule"] == rule]


def _status(kind: str, low: float, high: float, bounds: tuple[float, float]) -> str:
    lo, hi = bounds
    if kind in ("greater",):
        return "reproduced" if low > lo else "refuted" if high < lo else "unresolved"
    if kind == "less-per-rollout":
        return "reproduced" if high < lo else "refuted" if low > lo else "unresolved"
    if kind == "equivalent":
        inside = low >= lo and high <= hi
        outside = low > hi or high < lo
        return "reproduced" if inside else "refuted" if outside else "unresolved"
    if kind == "range":
        return "reproduced" if high >= lo and low <= hi else "refuted"
    raise ValueError(f"unknown claim kind {kind!r}")


def fidelity_table(
    reached: pd.DataFrame,
    cells: pd.DataFrame,
    *,
    n_boot: int = 2000,
    strengths: Sequence[str] = ("weak", "strongest"),
) -> pd.DataFrame:
    """Every claim's status per cell and target (see the module docstring).

    Parameters
    ----------
    reached : DataFrame
        From :func:`grid_tables` (``scenario, target, fraction, rule, seed, ...``).
    cells : DataFrame
        One row per cell: ``scenario`` (key) and ``strength`` (``"base"`` for the
        product cells).
    strengths : (weak, strong)
        The two pool strengths whose speed-ups the "gains shrink" claim compares.

    Returns
    -------
    DataFrame
        ``claim, text, scenario, fraction, estimate, ci_low, ci_high, status``.
    """
    fraction_of = reached.drop_duplicates(["scenario", "target"]).set_index(["scenario", "target"])[
        "fraction"
    ]
    rules = set(reached["rule"])
    rows = []
    for claim, (text, kind, a, b, bounds) in CLAIMS.items():
        if kind == "strength":
            continue
        others = b.split("|")
        if a not in rules or any(o not in rules for o in others):
            continue
        measure = "rollouts_to_target" if kind == "less-per-rollout" else "steps_to_target"
        parts = [_versus(reached, a, o, measure, n_boot) for o in others]
        for row_parts in zip(*(p.itertuples(index=False) for p in parts), strict=True):
            statuses = [
                _status("greater" if kind == "best" else kind, r.ci_low, r.ci_high, bounds)
                for r in row_parts
            ]
            if kind == "best":
                status = (
                    "refuted" if "refuted" in statuses
                    else "reproduced" if all(s == "reproduced" for s in statuses)
                    else "unresolved"
                )  # fmt: skip
            else:
                status = statuses[0]
            first = row_parts[0]
            rows.append(
                {"claim": claim, "text": text, "scenario": first.scenario,
                 "fraction": fraction_of[(first.scenario, first.target)],
                 "estimate": min(r.speedup for r in row_parts),
                 "ci_low": min(r.ci_low for r in row_parts),
                 "ci_high": min(r.ci_high for r in row_parts), "status": status}
            )  # fmt: skip
    rows += _strength_rows(reached, cells, strengths, n_boot)
    return pd.DataFrame(rows)


def _strength_rows(reached, cells, strengths, n_boot) -> list[dict]:
    weak, strong = strengths
    if "strength" not in cells:
        return []
    by = cells.drop_duplicates("strength").set_index("strength")["scenario"]
    if weak not in by.index or strong not in by.index:
        return []
    fraction_of = reached.drop_duplicates(["scenario", "target"]).set_index(["scenario", "target"])[
        "fraction"
    ]

    def curve(label: str) -> pd.DataFrame:
        part = _versus(reached[reached["scenario"] == by[label]], "insight", "random",
                       "steps_to_target", n_boot)  # fmt: skip
        part = part.assign(
            fraction=[fraction_of[k] for k in zip(part["scenario"], part["target"], strict=True)]
        )
        return part.set_index("fraction")

    w_curve, s_curve = curve(weak), curve(strong)
    rows = []
    for f in w_curve.index.intersection(s_curve.index):
        w, s = w_curve.loc[f], s_curve.loc[f]
        status = (
            "reproduced" if w.ci_low > s.ci_high
            else "refuted" if w.ci_high < s.ci_low
            else "unresolved"
        )  # fmt: skip
        rows.append(
            {"claim": "shrinks", "text": CLAIMS["shrinks"][0], "scenario": f"{weak} vs {strong}",
             "fraction": float(f), "estimate": float(w.speedup - s.speedup),
             "ci_low": np.nan, "ci_high": np.nan, "status": status}
        )  # fmt: skip
    return rows


def claim_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per claim: counts of each status over cells and targets, and the verdict
    (``holds`` / ``refuted`` / ``depends``)."""
    rows = []
    for claim, part in table.groupby("claim", sort=False):
        counts = part["status"].value_counts()
        n = len(part)
        verdict = (
            "holds" if counts.get("reproduced", 0) == n
            else "refuted" if counts.get("refuted", 0) == n
            else "depends"
        )  # fmt: skip
        rows.append(
            {"claim": claim, "text": part["text"].iloc[0], "cases": n,
             "reproduced": int(counts.get("reproduced", 0)),
             "refuted": int(counts.get("refuted", 0)),
             "unresolved": int(counts.get("unresolved", 0)), "verdict": verdict}
        )  # fmt: skip
    return pd.DataFrame(rows)


def oracle_violations(report: pd.DataFrame, pre_rollout: Sequence[str]) -> pd.DataFrame:
    """Cells and targets where a rule that chooses before the rollouts is significantly
    faster than the oracle (``oracle_fraction`` interval above 1): the ceiling check."""
    if "oracle_fraction" not in report:
        return report.iloc[0:0]
    rows = report[report["rule"].isin(pre_rollout) & (report["oracle_fraction_ci_low"] > 1.0)]
    return rows[["scenario", "fraction", "rule", "oracle_fraction", "oracle_fraction_ci_low",
                 "oracle_fraction_ci_high"]]  # fmt: skip


def ranking_agreement(report: pd.DataFrame, base: str) -> pd.DataFrame:
    """Kendall's tau between each cell's ranking of the rules and the base cell's.

    A cell's ranking orders the rules by their speed-up averaged over the targets.
    Returns ``scenario, tau, p_value, n_rules``.
    """
    from scipy.stats import kendalltau

    mean = report.groupby(["scenario", "rule"])["speedup"].mean().unstack("rule")
    if base not in mean.index:
        raise ValueError(f"base cell {base!r} is not in the report")
    rows = []
    for scenario, row in mean.iterrows():
        common = row.dropna().index.intersection(mean.loc[base].dropna().index)
        tau, p = kendalltau(row[common], mean.loc[base, common])
        rows.append({"scenario": scenario, "tau": float(tau), "p_value": float(p),
                     "n_rules": int(common.size)})  # fmt: skip
    return pd.DataFrame(rows)
