"""The tiered harness study and the intervention study: figures and tables.

Reads ``results/rlvr-cpu-tiered`` (``insight-bayes rlvr-study configs/rlvr/cpu-tiered.toml``)
and ``results/rlvr-intervention`` (``insight-bayes rlvr-intervention ...``); draws only.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from insight_bayes.results.reader import read_table
from paper_figures.curves import curves_by_rule
from paper_figures.style import apply_style, ordered_rules, rule_style

__all__ = ["fig_intervention", "fig_tiered", "intervention_table", "tiered_table"]


def _binary_informative(choices: pd.DataFrame) -> pd.Series:
    """Per rule: share of trained groups whose binary outcomes are mixed (from choices)."""
    mixed = (choices["successes"] > 0) & (choices["successes"] < choices["trials"])
    return mixed.groupby(choices["rule"]).mean()


def tiered_table(folder: Path) -> pd.DataFrame:
    """Per rule: binary informative share (from the choices), speed-up to Random's final
    gain (fraction 1) per step and per rollout with intervals, AUC gain with interval."""
    folder = Path(folder)
    curve = read_table(folder, "speedup_curve")
    auc = read_table(folder, "auc").set_index("rule")
    choices = read_table(folder, "choices", columns=["rule", "successes", "trials"])
    share = _binary_informative(choices)
    rows = []
    for rule in ordered_rules(curve["rule"].unique()):
        c = curve[(curve["rule"] == rule)].sort_values("fraction")
        last = c.iloc[-1]
        a = auc.loc[rule]
        rows.append(
            {"rule": rule, "informative share": round(float(share.get(rule, np.nan)), 3),
             "speed-up (25/50/75/100% of Random's gain)":
                 " / ".join(f"{v:.2f}" for v in c["speedup"]),
             "at 100% (95% CI)": f"{last.speedup:.2f} ({last.ci_low:.2f}-{last.ci_high:.2f})",
             "per rollout at 100%": f"{last.rollout_speedup:.2f}",
             "AUC gain (95% CI)":
                 f"{a.auc_gain:+.4f} ({a.gain_ci_low:+.4f} to {a.gain_ci_high:+.4f})"}
        )  # fmt: skip
    return pd.DataFrame(rows)


def fig_tiered(folder: Path, metric: str = "eval/pass1_exact") -> plt.Figure:
    """Left: held-out exact pass@1 per rule (mean and band over seeds). Right: the speed-up
    curve over the relative targets with 95% intervals."""
    apply_style()
    folder = Path(folder)
    steps = read_table(folder, "steps")
    curve = read_table(folder, "speedup_curve")
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), constrained_layout=True)
    curves_by_rule(axes[0], steps, metric)
    axes[0].set(
        xlabel="GRPO step",
        ylabel="held-out exact pass@1",
        title="held-out exact pass@1 (mean and 95% band over seeds)",
    )
    rules = ordered_rules(curve["rule"].unique())
    for i, rule in enumerate(rules):
        c = curve[curve["rule"] == rule].sort_values("fraction")
        dodge = 0.01 * (i - (len(rules) - 1) / 2)  # side by side, so each interval shows
        axes[1].errorbar(
            c["fraction"] + dodge, c["speedup"],
            yerr=[c["speedup"] - c["ci_low"], c["ci_high"] - c["speedup"]],
            capsize=2, **rule_style(rule),
        )  # fmt: skip
    axes[1].axhline(1.0, color="0.5", linewidth=0.8)
    axes[1].set(
        xlabel="target: fraction of Random's final gain",
        ylabel="speed-up vs Random",
        title="speed-up to each target (95% CI; >1: faster)",
    )
    fig.legend(*axes[1].get_legend_handles_labels(), loc="outside right upper", fontsize=7)
    return fig


def intervention_table(folder: Path) -> pd.DataFrame:
    """The slopes table of the causal test (``slopes.csv``): per prior, model and term, the
    slope in points of held-out pass@1 per e-fold, its intervals, VIF and placebo p."""
    slopes = read_table(folder, "slopes")
    columns = ["prior", "model", "term", "slope", "ci_low", "ci_high", "batch_ci_low",
               "batch_ci_high", "vif", "placebo_p", "n_batches", "n_cells"]  # fmt: skip
    return slopes[columns].round(4)


def fig_intervention(folder: Path) -> plt.Figure:
    """The causal test's arms: for each prior and family, the mean first-order held-out
    effect of the applied update at each level of the varied term (its batch-mean log on
    x), against the uniform control batches (dotted)."""
    apply_style()
    arms = read_table(folder, "arms")
    uniform = arms[arms["family"] == "uniform"]
    families = [("vary-evidence", "log_mi", "log mean evidence term (MI, nats)"),
                ("vary-weight", "log_weight", "log mean difficulty weight")]  # fmt: skip
    fig, axes = plt.subplots(1, 2, figsize=(7.0, 3.2), constrained_layout=True, sharey=True)
    for ax, (family, x, label) in zip(axes, families, strict=True):
        for prior, part in arms[arms["family"] == family].groupby("prior"):
            part = part.sort_values("level")
            ax.plot(part[x], part["effect"], marker="o", label=f"{prior} prior")
        if not uniform.empty:
            ax.axhline(float(uniform["effect"].mean()), color="0.4", linestyle=":",
                       label="uniform batches")  # fmt: skip
        ax.set(title=f"{family} (other term held in strata)", xlabel=label)
    axes[0].set_ylabel("first-order held-out change (points)")
    axes[-1].legend(fontsize=7)
    return fig
