"""Figures of sweep results: learning curves with bands, and a speed-up forest plot.

Colours are the Okabe-Ito palette (colour-blind safe); every rule also gets its own
line style and marker, so the figures read in black and white. Functions take tidy
tables (as written by :mod:`simulations.sweep` and :mod:`insight_bayes.results.targets`), draw on
a given or new matplotlib ``Axes`` and return it; they never save or show.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["OKABE_ITO", "forest_plot", "learning_curves", "rule_style"]

#: Okabe & Ito (2008) colour-blind-safe palette (black first, the pale yellow last).
OKABE_ITO = (
    "#000000",
    "#E69F00",
    "#56B4E9",
    "#009E73",
    "#D55E00",
    "#0072B2",
    "#CC79A7",
    "#999999",
    "#F0E442",
)
_LINESTYLES = ("-", "--", "-.", ":", (0, (5, 1)), (0, (3, 1, 1, 1, 1, 1)), (0, (1, 3)))
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<")


def rule_style(rules: Sequence[str]) -> dict[str, dict[str, Any]]:
    """A fixed colour, line style and marker per rule (``random`` always black, solid)."""
    ordered = sorted(rules, key=lambda r: (r != "random", r))
    return {
        rule: {
            "color": OKABE_ITO[i % len(OKABE_ITO)],
            "linestyle": _LINESTYLES[i % len(_LINESTYLES)],
            "marker": _MARKERS[i % len(_MARKERS)],
        }
        for i, rule in enumerate(ordered)
    }


def _axes(ax: Any) -> Any:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(6.4, 4.0))[1]


def learning_curves(
    steps: pd.DataFrame,
    *,
    metric: str = "eval/accuracy",
    rules: Sequence[str] | None = None,
    band: str = "se",
    target: float | None = None,
    ax: Any = None,
    markevery: int = 10,
) -> Any:
    """Mean of ``metric`` over seeds per step and rule, with a shaded band.

    Parameters
    ----------
    steps : DataFrame
        Tidy steps table (``rule, seed, step, metric``), one scenario.
    metric : str
        Column to plot.
    rules : sequence of str, optional
        Rules to draw, in legend order (default: all).
    band : {"se", "sd", "range"}
        Band: mean +- 1.96 standard errors, +- 1 standard deviation, or min-max.
    target : float, optional
        Draws a dotted horizontal line at the accuracy target.
    ax : matplotlib Axes, optional
    markevery : int
        Marker spacing in points along each curve.
    """
    if band not in ("se", "sd", "range"):
        raise ValueError(f"band must be 'se', 'sd' or 'range', got {band!r}")
    if metric not in steps.columns:
        raise ValueError(f"steps has no column {metric!r}")
    ax = _axes(ax)
    df = steps[steps[metric].notna()]
    rules = list(rules) if rules is not None else sorted(df["rule"].unique())
    styles = rule_style(rules)
    for rule in rules:
        g = df[df["rule"] == rule].groupby("step")[metric]
        mean = g.mean()
        if band == "se":
            half = 1.96 * g.std(ddof=1).fillna(0.0) / np.sqrt(g.count())
            lo, hi = mean - half, mean + half
        elif band == "sd":
            sd = g.std(ddof=1).fillna(0.0)
            lo, hi = mean - sd, mean + sd
        else:
            lo, hi = g.min(), g.max()
        st = styles[rule]
        ax.plot(
            mean.index,
            mean.to_numpy(),
            label=rule,
            color=st["color"],
            linestyle=st["linestyle"],
            marker=st["marker"],
            markevery=max(1, markevery),
            markersize=4,
            linewidth=1.5,
        )
        ax.fill_between(mean.index, lo.to_numpy(), hi.to_numpy(), color=st["color"], alpha=0.15)
    if target is not None:
        ax.axhline(target, color="0.3", linestyle=":", linewidth=1)
    ax.set_xlabel("training step")
    ax.set_ylabel(metric)
    ax.legend(fontsize="small", frameon=False)
    return ax


def forest_plot(
    speedups: pd.DataFrame,
    *,
    estimate: str = "speedup",
    low: str = "ci_low",
    high: str = "ci_high",
    ax: Any = None,
    label: str = "speed-up vs random (steps to target)",
) -> Any:
    """Speed-up of each rule with its interval, on a log axis with a line at 1.

    Works with :func:`insight_bayes.results.bootstrap_speedups` (defaults) and with the
    posterior summary of :func:`insight_bayes.models.speedup_fit.fit_speedup`
    (``estimate="speedup_median", low="hdi_low", high="hdi_high"``).
    """
    for col in (estimate, low, high, "rule"):
        if col not in speedups.columns:
            raise ValueError(f"speedups has no column {col!r}")
    ax = _axes(ax)
    df = speedups.sort_values(estimate).reset_index(drop=True)
    styles = rule_style(list(df["rule"]))
    y = np.arange(len(df))
    for i, row in df.iterrows():
        st = styles[row["rule"]]
        ax.errorbar(
            row[estimate],
            y[i],
            xerr=[[row[estimate] - row[low]], [row[high] - row[estimate]]],
            fmt=st["marker"],
            color=st["color"],
            ecolor="0.2",
            capsize=3,
            markersize=6,
        )
    ax.axvline(1.0, color="0.4", linestyle="--", linewidth=1)
    from matplotlib.ticker import FuncFormatter

    ax.set_xscale("log")
    plain = FuncFormatter(lambda x, _: f"{x:g}")
    ax.xaxis.set_major_formatter(plain)
    ax.xaxis.set_minor_formatter(plain)
    ax.set_yticks(y, df["rule"])
    ax.set_xlabel(label)
    return ax
