"""How good the predictions were: the realised speed-ups of a study, and the scores of a
prediction table against them (log error, interval coverage, Spearman)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from simulations.study_data import ROLLOUT_RULES, StudyData

__all__ = ["realised_table", "scores", "scores_markdown"]


def realised_table(study: StudyData) -> pd.DataFrame:
    """The harness's realised speed-ups of ``study`` in :func:`predict_study`'s rows."""
    if study.realised is None:
        raise ValueError(f"{study.folder} has no speedup_curve.csv to compare with")
    cur = study.realised
    rows = []
    for r in cur.itertuples():
        if r.rule == "random":
            continue
        rows.append({"study": study.name, "rule": r.rule, "fraction": float(r.fraction),
                     "realised": r.speedup, "realised_low": r.ci_low,
                     "realised_high": r.ci_high})  # fmt: skip
        if r.rule in ROLLOUT_RULES and hasattr(r, "rollout_speedup"):
            rows.append({"study": study.name, "rule": f"{r.rule}/rollouts",
                         "fraction": float(r.fraction), "realised": r.rollout_speedup,
                         "realised_low": r.rollout_ci_low,
                         "realised_high": r.rollout_ci_high})  # fmt: skip
    return pd.DataFrame(rows)


def scores(table: pd.DataFrame, fractions: Sequence[float] = (0.5, 0.75, 1.0)) -> pd.DataFrame:
    r"""The issue's three scores of a predictions table, overall and per study.

    Over the rows at ``fractions`` (one row per (study, rule, fraction), Random
    excluded): mean absolute log error ``mean |log predicted - log realised|``; share
    of realised values inside ``[predicted_low, predicted_high]``; and, per study at
    fraction 1, Spearman's rho of predicted vs realised (NaN with fewer than 3 rules).
    Rows ``scope = "all"`` hold every rule; ``scope = "per-step"`` leaves out the
    ``<rule>/rollouts`` rows (each rule counted once).
    """
    from scipy import stats

    t = table[table["fraction"].isin(fractions) & (table["rule"] != "random")]
    t = t.dropna(subset=["predicted", "realised"])
    rows = []
    for scope, sub in (("all", t), ("per-step", t[~t["rule"].str.endswith("/rollouts")])):
        for study, part in [("all", sub), *sub.groupby("study")]:
            err = np.abs(np.log(part["predicted"]) - np.log(part["realised"]))
            inside = (part["realised"] >= part["predicted_low"]) & (
                part["realised"] <= part["predicted_high"]
            )
            top = part[part["fraction"] == 1.0]
            if study == "all":
                rhos = [
                    stats.spearmanr(g["predicted"], g["realised"])[0]
                    for _, g in top.groupby("study")
                    if len(g) >= 3
                ]
                rho = float(np.nanmean(rhos)) if rhos else float("nan")
            else:
                rho = (
                    float(stats.spearmanr(top["predicted"], top["realised"])[0])
                    if len(top) >= 3
                    else float("nan")
                )
            rows.append({
                "scope": scope, "study": study, "points": len(part),
                "male": float(err.mean()), "coverage": float(inside.mean()),
                "spearman_at_1": rho,
            })  # fmt: skip
    return pd.DataFrame(rows)


def scores_markdown(score: pd.DataFrame, scope: str = "per-step") -> str:
    """The scores table of ``scope`` as a Markdown table (the docs page embeds it verbatim).

    One row per study and one for all of them: points, mean absolute log error, 90%
    coverage, within-study Spearman at fraction 1, each to three decimals.
    """
    rows = score[score["scope"] == scope]
    lines = [
        "| study | points | MALE (goal <= 0.10) | 90% coverage (goal >= 0.80) "
        "| Spearman at 100% (goal >= 0.5) |",
        "|---|---|---|---|---|",
    ]
    order = [s for s in rows["study"] if s != "all"] + ["all"]
    for study in order:
        r = rows[rows["study"] == study].iloc[0]
        name = "all studies (Spearman: mean over studies)" if study == "all" else study
        lines.append(
            f"| {name} | {int(r['points'])} | {r['male']:.3f} | {r['coverage']:.3f} "
            f"| {r['spearman_at_1']:.3f} |"
        )
    return "\n".join(lines)
