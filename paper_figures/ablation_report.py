"""The ablation tables and figure (data from :mod:`simulations.ablations`).

:func:`load_ablations` reads or completes ``RESULTS/sim-ablations`` (the five ablations
on the paper-shaped scenario, 10 seeds; about half a minute on 2 cores) or, with
``quick``, runs them on the small ``quick`` scenario with 2 seeds into
``RESULTS/scratch/sim-ablations-quick``.
"""

from __future__ import annotations

import functools
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from paper_figures.style import SEQUENTIAL, apply_style, rule_style
from paper_figures.tables import fmt_interval
from simulations.ablations import Ablation, ablation_plan, ablation_table, run_ablations

__all__ = ["fig_ablations", "load_ablations", "printable"]


@functools.lru_cache(maxsize=4)
def load_ablations(results: Path, quick: bool) -> tuple[list[Ablation], pd.DataFrame, str]:
    """``(plan, table, source)``: the ablation plan, its table and where the runs are."""
    results = Path(results)
    if quick:
        base, seeds, out = "quick", 2, results / "scratch" / "sim-ablations-quick"
    else:
        base, seeds, out = "countdown-paper", 10, results / "sim-ablations"
    plan = ablation_plan(base)
    steps = run_ablations(plan, seeds, out)
    source = (
        f"{'QUICK: ' if quick else ''}ablations of scenario {base} with {seeds} seeds in {out} "
        "(runs found there are read, missing ones simulated)"
    )
    return plan, ablation_table(plan, steps), source


def printable(table: pd.DataFrame, ablation: str) -> pd.DataFrame:
    """One ablation's rows, formatted for the paper."""
    sub = table[table["ablation"] == ablation]
    return pd.DataFrame(
        {
            "variant": sub["variant"],
            "rule": sub["rule"],
            "final accuracy": [
                f"{a:.3f} ± {s:.3f}"
                for a, s in zip(sub["final_accuracy"], sub["final_accuracy_sd"], strict=True)
            ],
            "steps to target": sub["steps_to_target"].round(1),
            "speed-up [95% CI]": [
                fmt_interval(a, b, c)
                for a, b, c in zip(sub["speedup"], sub["ci_low"], sub["ci_high"], strict=True)
            ],
            "informative share": sub["informative_share"],
        }
    )


def fig_ablations(plan: list[Ablation], table: pd.DataFrame) -> plt.Figure:
    """One panel per ablation: each variant's speed-up versus Random (95% bootstrap)."""
    apply_style()
    fig, axes = plt.subplots(1, len(plan), figsize=(12.0, 2.4), constrained_layout=True,
                             sharex=True)  # fmt: skip
    for ax, ablation in zip(np.atleast_1d(axes), plan, strict=True):
        sub = table[table["ablation"] == ablation.name].reset_index(drop=True)
        y = np.arange(len(sub))[::-1]
        bases = [r.split(":")[0] for r in sub["rule"]]
        by_rule = len(set(bases)) == len(bases)  # components, belief: the rules' own styles
        for i, row in sub.iterrows():
            style = rule_style(bases[i])
            colour = style["color"] if by_rule else SEQUENTIAL[i % len(SEQUENTIAL)]
            marker = style["marker"] if by_rule else "os^Dv"[i % 5]
            ax.errorbar(
                row["speedup"], y[i],
                xerr=[[row["speedup"] - row["ci_low"]], [row["ci_high"] - row["speedup"]]],
                fmt=marker, color=colour, capsize=2.5, markersize=5,
            )  # fmt: skip
            ax.annotate(f"{row['speedup']:.2f}", (row["ci_high"], y[i]), xytext=(4, 0),
                        textcoords="offset points", va="center", fontsize=7)  # fmt: skip
        ax.set_yticks(y, sub["variant"])
        ax.axvline(1.0, color="0.4", linestyle="--", linewidth=0.9)
        ax.set_ylim(-0.6, len(sub) - 0.4)
        ax.set_title(ablation.title)
        ax.grid(axis="y", visible=False)
        ax.set_xlabel("speed-up vs random")
    axes[0].set_xlim(left=min(0.9, float(table["ci_low"].min()) - 0.05),
                     right=float(table["ci_high"].max()) + 0.25)  # fmt: skip
    return fig
