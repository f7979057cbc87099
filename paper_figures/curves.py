"""Axes-level plots of sweep and study tables in the package style (one colour per rule).

Unlike :mod:`simulations.plots` (which assigns colours by position), every rule here has
the fixed colour, marker and line style of :data:`paper_figures.style.RULE_STYLE`, so a
rule looks the same in every figure of the paper.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter, NullFormatter

from paper_figures.style import ordered_rules, rule_style

__all__ = ["bar_by_rule", "curves_by_rule", "interval_by_rule"]


def curves_by_rule(
    ax: Axes,
    steps: pd.DataFrame,
    metric: str,
    *,
    rules: Sequence[str] | None = None,
    x: str = "step",
    n_markers: int = 6,
    band: bool = True,
) -> list[str]:
    """Mean of ``metric`` over seeds per ``x`` and rule, with a 95% band (+-1.96 SE).

    Returns the rules drawn, in the figure order.
    """
    df = steps[steps[metric].notna()]
    rules = ordered_rules(rules if rules is not None else df["rule"].unique())
    for rule in rules:
        g = df[df["rule"] == rule].groupby(x)[metric]
        mean = g.mean()
        if mean.empty:
            continue
        style = rule_style(rule)
        every = max(1, len(mean) // n_markers)
        ax.plot(mean.index, mean.to_numpy(), markevery=every, **style)
        if band:
            half = 1.96 * g.std(ddof=1).fillna(0.0) / np.sqrt(g.count())
            ax.fill_between(
                mean.index,
                (mean - half).to_numpy(),
                (mean + half).to_numpy(),
                color=style["color"],
                alpha=0.12,
                linewidth=0,
            )
    return rules


def interval_by_rule(
    ax: Axes,
    table: pd.DataFrame,
    *,
    estimate: str,
    low: str,
    high: str,
    rules: Sequence[str] | None = None,
    offset: float = 0.0,
    filled: bool = True,
    label: str | None = None,
) -> list[str]:
    """Horizontal intervals (one row per rule, InSight on top) on a log x axis."""
    df = table.set_index("rule")
    rules = ordered_rules(rules if rules is not None else df.index)
    y = np.arange(len(rules))[::-1] + offset
    for yi, rule in zip(y, rules, strict=True):
        if rule not in df.index or pd.isna(df.loc[rule, estimate]):
            continue
        row = df.loc[rule]
        style = rule_style(rule)
        ax.errorbar(
            row[estimate],
            yi,
            xerr=[[max(row[estimate] - row[low], 0.0)], [max(row[high] - row[estimate], 0.0)]],
            fmt=style["marker"],
            color=style["color"],
            markerfacecolor=style["color"] if filled else "white",
            ecolor=style["color"] if style["color"] != "#F0E442" else "#777777",
            capsize=2.5,
            markersize=5,
            linewidth=1.2,
            label=label if yi == y[0] else None,
        )
    ax.set_yticks(np.arange(len(rules))[::-1], rules)
    ax.axvline(1.0, color="0.4", linestyle="--", linewidth=0.9)
    ax.set_xscale("log")
    plain = FuncFormatter(lambda v, _: f"{v:g}")
    ax.xaxis.set_major_formatter(plain)
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.grid(axis="y", visible=False)
    return rules


def bar_by_rule(
    ax: Axes, values: pd.Series, *, rules: Sequence[str] | None = None, hatch: bool = True
) -> list[str]:
    """Horizontal bars of ``values`` (indexed by rule), InSight on top, hatched per rule."""
    rules = ordered_rules(rules if rules is not None else values.index)
    hatches = ["", "//", "\\\\", "xx", "..", "--", "++", "oo", "**", "||"]
    y = np.arange(len(rules))[::-1]
    for i, (yi, rule) in enumerate(zip(y, rules, strict=True)):
        style = rule_style(rule)
        ax.barh(
            yi,
            values.get(rule, np.nan),
            color=style["color"],
            edgecolor="black",
            linewidth=0.5,
            hatch=hatches[i % len(hatches)] if hatch else None,
            alpha=0.85,
        )
    ax.set_yticks(y, rules)
    ax.grid(axis="y", visible=False)
    return rules
