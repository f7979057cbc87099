"""Axes-level plots of sweep and study tables in the package style (one colour per rule).

Every rule has the fixed colour, marker and line style of
:data:`paper_figures.style.RULE_STYLE` (the package's one plot style), so a rule looks the
same in every figure of the paper.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import MaxNLocator

from paper_figures.style import RULE_STYLE, ordered_rules, rule_style

#: One hatch per rule (same order as RULE_STYLE), so bars read in black and white.
HATCHES = ["", "..", "//", "\\\\", "xx", "--", "++", "oo", "||", "**"]

__all__ = ["bar_by_rule", "curves_by_rule", "interval_by_rule", "interval_legend"]


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
) -> list[str]:
    """Horizontal intervals, one row per rule: by default the largest estimate on top.

    The x axis is linear (speed-ups of interest lie between about 0.5 and 3) with a
    dashed line at 1.
    """
    df = table.set_index("rule")
    if rules is None:
        rules = list(df[estimate].sort_values(ascending=False).index)
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
        )
    ax.set_yticks(np.arange(len(rules))[::-1], rules)
    ax.axvline(1.0, color="0.4", linestyle="--", linewidth=0.9)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=6))
    ax.grid(axis="y", visible=False)
    return rules


def bar_by_rule(
    ax: Axes,
    values: pd.Series,
    *,
    rules: Sequence[str] | None = None,
    hatch: bool = True,
    notes: pd.Series | None = None,
) -> list[str]:
    """Horizontal bars of ``values`` (indexed by rule), InSight on top, hatched per rule.

    ``notes`` (indexed by rule) are written just right of each bar's end.
    """
    rules = ordered_rules(rules if rules is not None else values.index)
    order = list(RULE_STYLE)
    y = np.arange(len(rules))[::-1]
    for yi, rule in zip(y, rules, strict=True):
        style = rule_style(rule)
        i = order.index(rule) if rule in order else len(order) - 1
        ax.barh(
            yi,
            values.get(rule, np.nan),
            color=style["color"],
            edgecolor="black",
            linewidth=0.5,
            hatch=HATCHES[i % len(HATCHES)] if hatch else None,
            alpha=0.85,
        )
        if notes is not None and rule in notes:
            ax.annotate(
                notes[rule],
                (values.get(rule, 0.0), yi),
                xytext=(3, 0),
                textcoords="offset points",
                va="center",
                fontsize=7,
            )
    ax.set_yticks(y, rules)
    ax.grid(axis="y", visible=False)
    ax.set_axisbelow(True)
    ax.set_xlim(0, 1.3 * np.nanmax(values.to_numpy(dtype=float)))
    return rules


def interval_legend(ax: Axes, filled: str, hollow: str | None = None, **kwargs) -> None:
    """A rule-neutral legend (black markers) for filled and open intervals."""
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color="black", marker="o", linestyle="-", label=filled)]
    if hollow:
        handles.append(
            Line2D([], [], color="black", marker="o", markerfacecolor="white", linestyle="-",
                   label=hollow)
        )  # fmt: skip
    ax.legend(handles=handles, **kwargs)
