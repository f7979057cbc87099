"""The rules beyond InSight: the speed-up curve, belief coverage, the table.

Reads ``RESULTS/sim-beyond`` (every rule of ``BEYOND_RULES`` with InSight, Random and the
oracle on ``countdown-paper``; see ``paper_figures.sources.BEYOND`` for the command)
or, with ``quick``, its stand-in ``RESULTS/scratch/sim-beyond-quick``. Draws only: the
numbers come from :mod:`insight_bayes.analysis.beyond` and
:func:`insight_bayes.results.speedup_curve`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from insight_bayes.analysis.beyond import beyond_table, coverage_over_time
from insight_bayes.results.reader import read_manifest, read_table
from insight_bayes.results.targets import relative_targets, speedup_curve
from paper_figures.style import apply_style, ordered_rules, rule_style
from paper_figures.tables import fmt_interval
from simulations.scenarios import Scenario, get_scenario

__all__ = ["BeyondResults", "beyond_printable", "fig_beyond", "load_beyond"]

#: Fractions of Random's gain used as curve targets when a scenario names none.
RELATIVE_FRACTIONS = (0.25, 0.5, 0.75, 1.0)


@dataclass(frozen=True)
class BeyondResults:
    """The saved sweep of the rules beyond InSight and its analysis (tidy frames)."""

    scenario: Scenario
    steps: pd.DataFrame
    targets: tuple[float, ...]
    table: pd.DataFrame
    curve: pd.DataFrame
    coverage: pd.DataFrame
    seeds: int
    folder: Path

    @property
    def rules(self) -> list[str]:
        return ordered_rules(self.steps["rule"].unique())


def curve_targets(scenario: Scenario, steps: pd.DataFrame) -> tuple[float, ...]:
    """The scenario's own curve targets, else targets at 25-100% of Random's mean gain."""
    if scenario.curve_targets:
        return tuple(scenario.curve_targets)
    return tuple(round(t, 4) for t in relative_targets(steps, RELATIVE_FRACTIONS))


def load_beyond(folder: Path, scenario: str, *, n_boot: int = 2000) -> BeyondResults:
    """Read a saved sweep of the beyond rules and compute its tables (never simulates).

    Parameters
    ----------
    folder : Path
        The sweep's folder (``manifest.json``, ``steps.parquet``).
    scenario : str
        The scenario it must hold (``countdown-paper``, or ``quick`` for the stand-in).
    n_boot : int
        Bootstrap replicates of every interval.
    """
    folder = Path(folder)
    sc = get_scenario(scenario)
    manifest = read_manifest(folder)
    keys = list(manifest.get("config", {}).get("scenarios") or manifest.get("scenarios", {}))
    if sc.key not in keys:
        raise ValueError(f"{folder} holds scenarios {keys}, not {sc.key}")
    steps = read_table(folder, "steps")
    steps = steps[steps["scenario"] == sc.key].reset_index(drop=True)
    targets = curve_targets(sc, steps)
    table = beyond_table(steps, sc.target_accuracy, n_boot=n_boot)
    curve = speedup_curve(steps, targets, n_boot=n_boot)
    coverage = coverage_over_time(steps, every=max(1, sc.loop.steps // 20))
    seeds = int(steps["seed"].nunique())
    return BeyondResults(sc, steps, targets, table, curve, coverage, seeds, folder)


def beyond_printable(b: BeyondResults) -> pd.DataFrame:
    """The table for the paper: one row per rule, in the order of the speed-up."""
    windows = [c for c in b.table.columns if c.startswith("coverage_")]
    rows = []
    for _, r in b.table.iterrows():
        row = {
            "rule": r["rule"],
            "speed-up vs random (95% CI)": fmt_interval(r["speedup"], r["ci_low"], r["ci_high"]),
            "ratio to insight (95% CI)": fmt_interval(
                r["ratio_to_reference"],
                r["ratio_to_reference_ci_low"],
                r["ratio_to_reference_ci_high"],
            ),  # fmt: skip
            "share of oracle (95% CI)": fmt_interval(
                r["oracle_fraction"], r["oracle_fraction_ci_low"], r["oracle_fraction_ci_high"]
            ),
            "final accuracy": f"{r['final_accuracy']:.3f} ± {r['final_accuracy_sd']:.3f}",
            "censored": int(r["n_censored"]),
        }
        for column in windows:
            value = float(r[column])
            label = f"coverage, steps {column.removeprefix('coverage_')}"
            row[label] = f"{value:.2f}" if np.isfinite(value) else "-"
        rows.append(row)
    return pd.DataFrame(rows)


def fig_beyond(b: BeyondResults) -> plt.Figure:
    """Left: speed-up versus Random over the accuracy targets, every rule, paired bootstrap
    95% intervals. Right: coverage of the chosen prompts' true rates by the belief's 90%
    interval over training (mean over seeds, 95% band), with the nominal 0.9 dotted."""
    apply_style()
    fig, axes = plt.subplots(1, 2, figsize=(11.0, 4.2), constrained_layout=True)
    rules = b.rules
    spacing = np.diff(b.targets).min() if len(b.targets) > 1 else 0.05
    dodge = 0.5 * spacing / max(len(rules), 1)
    for i, rule in enumerate(rules):
        c = b.curve[b.curve["rule"] == rule].sort_values("target")
        if c.empty:
            continue
        x = c["target"].to_numpy() + (i - (len(rules) - 1) / 2) * dodge
        axes[0].errorbar(
            x, c["speedup"], yerr=[c["speedup"] - c["ci_low"], c["ci_high"] - c["speedup"]],
            capsize=1.5, markersize=3.5, linewidth=1.1, elinewidth=0.8, **rule_style(rule),
        )  # fmt: skip
    axes[0].axhline(1.0, color="0.5", linewidth=0.8)
    axes[0].set(
        xlabel="held-out accuracy target",
        ylabel="speed-up vs random (steps to target)",
        title=f"{b.scenario.key}: speed-up curve ({b.seeds} seeds, 95% paired bootstrap)",
    )
    for rule in rules:
        c = b.coverage[b.coverage["rule"] == rule].sort_values("step")
        if c.empty:
            continue
        style = rule_style(rule)
        axes[1].plot(c["step"], c["mean"], markevery=max(1, len(c) // 6), **style)
        half = 1.96 * c["se"].fillna(0.0)
        axes[1].fill_between(c["step"], c["mean"] - half, c["mean"] + half,
                             color=style["color"], alpha=0.07, linewidth=0)  # fmt: skip
    axes[1].axhline(0.9, color="0.3", linestyle=":", linewidth=1)
    axes[1].set(
        xlabel="training step",
        ylabel="share of chosen rates inside the 90% interval",
        ylim=(-0.02, 1.02),
        title="belief coverage of the chosen prompts (nominal 0.9 dotted)",
    )
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=min(6, len(labels)), fontsize=7)
    return fig
