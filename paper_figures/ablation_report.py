"""The ablation tables and figure, drawn from the saved ablation sweeps.

:func:`load_ablations` reads ``RESULTS/sim-ablations/summary.csv`` (written by
``insight-bayes ablations countdown-paper --seeds 10``: the five ablations on the
paper-shaped scenario) or, with ``quick``, the small stand-in
``RESULTS/scratch/sim-ablations-quick``. Nothing here simulates: a missing folder raises
:class:`~paper_figures.sources.MissingResult` naming the command (``insight-bayes
reproduce`` runs it).
"""

from __future__ import annotations

import functools
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from insight_bayes.results.reader import read_manifest, read_table
from paper_figures.sources import ABLATIONS, pick, shown
from paper_figures.style import SEQUENTIAL, apply_style, greek, rule_style
from paper_figures.tables import fmt_interval

__all__ = ["ablation_titles", "fig_ablations", "load_ablations", "printable"]


@functools.lru_cache(maxsize=4)
def load_ablations(results: Path, quick: bool = False) -> tuple[pd.DataFrame, str]:
    """``(table, source)``: the saved ablation table and where it comes from.

    The table has one row per (ablation, variant), in the paper's order (see
    :func:`simulations.ablations.ablation_table`).
    """
    saved = pick(ABLATIONS, quick)
    folder = saved.require(Path(results))
    manifest = read_manifest(folder)
    info = manifest.get("ablations", {})
    table = read_table(folder, "summary")
    source = (
        f"{'QUICK: ' if quick else ''}saved ablations {shown(folder)} of scenario "
        f"{info.get('base', '?')} with {len(info.get('seeds', [])) or '?'} seeds "
        f"(git {str(manifest.get('git_revision'))[:10]})"
    )
    return table, source


def ablation_titles(table: pd.DataFrame) -> dict[str, str]:
    """Ablation name -> title, in the table's order."""
    return dict(zip(table["ablation"], table["title"], strict=True))


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


def fig_ablations(table: pd.DataFrame) -> plt.Figure:
    """One panel per ablation: each variant's speed-up versus Random (95% bootstrap)."""
    apply_style()
    titles = ablation_titles(table)
    fig, axes = plt.subplots(1, len(titles), figsize=(12.0, 2.4), constrained_layout=True,
                             sharex=True)  # fmt: skip
    for ax, (name, title) in zip(np.atleast_1d(axes), titles.items(), strict=True):
        sub = table[table["ablation"] == name].reset_index(drop=True)
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
                fmt=marker, color=colour, capsize=4, markersize=6, elinewidth=2.0,
                capthick=1.5,
            )  # fmt: skip
            ax.annotate(f"{row['speedup']:.2f}", (row["ci_high"], y[i]), xytext=(4, 0),
                        textcoords="offset points", va="center", fontsize=7)  # fmt: skip
        ax.set_yticks(y, [greek(v) for v in sub["variant"]])
        ax.axvline(1.0, color="0.4", linestyle="--", linewidth=0.9)
        ax.set_ylim(-0.6, len(sub) - 0.4)
        ax.set_title(greek(title))
        ax.grid(axis="y", visible=False)
        ax.set_xlabel("speed-up vs random")
    np.atleast_1d(axes)[0].set_xlim(left=min(0.9, float(table["ci_low"].min()) - 0.05),
                     right=float(table["ci_high"].max()) + 0.25)  # fmt: skip
    return fig
