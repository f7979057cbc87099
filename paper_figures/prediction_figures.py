"""Does the simulator predict the harness? The figure and table of ``results/sim-vs-harness``.

Reads the folder ``insight-bayes sim-vs-harness`` writes (``predictions.csv``,
``agreement.csv``, ``calibration.csv``, ``calibration_curves.csv``); draws only.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from insight_bayes.results.reader import read_table
from paper_figures.style import OKABE_ITO, apply_style, ordered_rules, rule_style

__all__ = ["PRIMARY_FRACTION", "agreement_line", "fig_sim_vs_harness", "sim_vs_harness_table"]

#: The target fraction fixed before the studies ran as the comparison's primary one.
PRIMARY_FRACTION = 0.5

_STUDY_COLOURS = [OKABE_ITO[c] for c in ("blue", "orange", "green", "purple", "grey")]


def agreement_line(folder: Path, fraction: float = PRIMARY_FRACTION) -> str:
    """One sentence: Spearman's rho and York's slope at ``fraction``."""
    stats = read_table(folder, "agreement")
    row = stats[np.isclose(stats["fraction"], fraction)].iloc[0]
    return (
        f"at {fraction:.0%} of Random's gain, over {int(row['n'])} (study, rule) points: "
        f"Spearman rho = {row['spearman_rho']:.2f} (p = {row['spearman_p']:.2g}); York slope "
        f"of log realised on log predicted = {row['slope']:.2f} "
        f"({row['slope_low']:.2f} to {row['slope_high']:.2f}), intercept "
        f"{row['intercept']:+.2f}, MSWD {row['mswd']:.1f}"
    )


def sim_vs_harness_table(folder: Path, fraction: float = PRIMARY_FRACTION) -> pd.DataFrame:
    """Per (study, rule): predicted and realised speed-up at ``fraction`` with intervals."""
    table = read_table(folder, "predictions")
    t = table[np.isclose(table["fraction"], fraction)]
    rows = []
    for study in dict.fromkeys(t["study"]):
        s = t[t["study"] == study]
        for rule in ordered_rules(s["rule"]):
            r = s[s["rule"] == rule].iloc[0]
            inside = r.predicted_low <= r.realised <= r.predicted_high
            rows.append(
                {"study": study, "rule": rule,
                 "predicted (95% CI)":
                     f"{r.predicted:.2f} ({r.predicted_low:.2f}-{r.predicted_high:.2f})",
                 "realised (95% CI)":
                     f"{r.realised:.2f} ({r.realised_low:.2f}-{r.realised_high:.2f})",
                 "realised inside predicted interval": "yes" if inside else "no"}
            )  # fmt: skip
    return pd.DataFrame(rows)


def fig_sim_vs_harness(folder: Path, fraction: float = PRIMARY_FRACTION) -> plt.Figure:
    """Left: realised against predicted speed-up (log axes, 95% intervals on both, the
    identity line). Right: Random's held-out gain in each harness study and in its
    calibrated simulator (the fit)."""
    apply_style()
    folder = Path(folder)
    table = read_table(folder, "predictions")
    curves = read_table(folder, "calibration_curves")
    t = table[np.isclose(table["fraction"], fraction)]
    studies = list(dict.fromkeys(table["study"]))
    colour = {s: _STUDY_COLOURS[i % len(_STUDY_COLOURS)] for i, s in enumerate(studies)}
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    ax = axes[0]
    for _, r in t.iterrows():
        style = rule_style(r.rule)
        ax.errorbar(
            r.predicted, r.realised,
            xerr=[[r.predicted - r.predicted_low], [r.predicted_high - r.predicted]],
            yerr=[[r.realised - r.realised_low], [r.realised_high - r.realised]],
            marker=style["marker"], color=colour[r.study], linestyle="none", capsize=2,
            markersize=6,
        )  # fmt: skip
    lo = min(t["predicted_low"].min(), t["realised_low"].min()) * 0.9
    hi = max(t["predicted_high"].max(), t["realised_high"].max()) * 1.1
    ax.plot([lo, hi], [lo, hi], color="0.5", linestyle=":", linewidth=1)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("predicted speed-up (calibrated simulator)")
    ax.set_ylabel("realised speed-up (harness)")
    ax.set_title(f"steps to {fraction:.0%} of Random's gain")
    handles = [plt.Line2D([], [], color=colour[s], marker="s", linestyle="none", label=s)
               for s in studies]  # fmt: skip
    handles += [plt.Line2D([], [], color="0.3", marker=rule_style(r)["marker"], linestyle="none",
                           label=r) for r in ordered_rules(t["rule"])]  # fmt: skip
    ax.legend(handles=handles, fontsize=7, loc="upper left")
    ax = axes[1]
    held = curves[curves["curve"] == "heldout_gain"]
    for study in studies:
        c = held[held["study"] == study]
        ax.errorbar(c["x"], c["harness"], yerr=1.96 * c["harness_se"], color=colour[study],
                    marker="o", linestyle="none", markersize=4, capsize=2,
                    label=f"{study}: harness")  # fmt: skip
        ax.plot(c["x"], c["simulator"], color=colour[study], linestyle="-", label="simulator")
    ax.set_xlabel("GRPO step")
    ax.set_ylabel("Random's held-out gain")
    ax.set_title("calibration on Random alone")
    ax.legend(fontsize=7)
    return fig
