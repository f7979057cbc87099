"""What a sweep or a study prints: a one-line headline, then one readable summary table.

:func:`summary_text` is the one home of that text; ``insight-bayes sweep``,
``insight-bayes rlvr-study`` and ``insight-bayes plot`` all print it. It reads the
summary of :func:`insight_bayes.results.summary.analysis_summary` (one row per rule, or
per scenario and rule): the speed-up in steps to the target versus the baseline with its
95% paired-bootstrap interval (``speedup, ci_low, ci_high``), the same in rollouts
(``rollout_*``), the final held-out metric and the censored runs.

>>> import pandas as pd
>>> summary = pd.DataFrame({
...     "rule": ["random", "insight"], "final_accuracy": [0.90, 0.95],
...     "final_accuracy_sd": [0.01, 0.01], "n_seeds": [10, 10], "n_censored": [0, 0],
...     "speedup": [1.0, 1.42], "ci_low": [1.0, 1.21], "ci_high": [1.0, 1.66]})
>>> print(summary_text(summary, baseline="random", metric="accuracy", target=0.6))
insight reaches accuracy >= 0.6 1.42x faster than random (95% CI 1.21-1.66), 10 seeds; best: insight
<BLANKLINE>
rule       speed-up (steps)  final accuracy  reached
insight  1.42x [1.21, 1.66]   0.950 ± 0.010    10/10
random     1.00x (baseline)   0.900 ± 0.010    10/10
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pandas as pd

__all__ = ["early_target_note", "headline", "summary_table_text", "summary_text"]

#: The rule a headline speaks of when the folder holds it (the package's own rule).
FOCUS_RULE = "insight"


def _privileged(label: str) -> bool:
    """Whether a rule label names a privileged rule (reads true rates; a ceiling)."""
    from insight_bayes.selectors import selector_from_label

    try:
        return bool(selector_from_label(label).privileged)
    except (ValueError, TypeError):
        return False


def _has_speedups(summary: pd.DataFrame) -> bool:
    return "speedup" in summary.columns and summary["speedup"].notna().any()


def _candidates(summary: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """Rows of usable rules: not the baseline, not privileged (all others when none is)."""
    rows = summary[summary["rule"] != baseline]
    usable = rows[~rows["rule"].map(_privileged)]
    return usable if not usable.empty else rows


def _times(value: float, low: float, high: float, baseline: str) -> str:
    """``1.42x faster than random (95% CI 1.21-1.66)``, or slower for a speed-up below 1."""
    interval = f"95% CI {low:.2f}-{high:.2f}" if pd.notna(low) else "interval undefined*"
    if value >= 1.0:
        return f"{value:.2f}x faster than {baseline} ({interval})"
    return f"{1.0 / value:.2f}x slower than {baseline} (speed-up {value:.2f}, {interval})"


def headline(summary: pd.DataFrame, *, baseline: str, metric: str, target: float) -> str:
    """One line: how much faster the focus rule reaches the target than the baseline.

    The focus rule is InSight when the summary holds it, else the fastest usable rule
    (privileged rules such as the oracle read true success rates and are left out);
    ``best`` is the fastest usable rule. With several scenarios the line counts the
    scenarios where the speed-up's interval lies above 1 and gives the median speed-up.
    Without a speed-up (no held-out evaluation) it names the rule with the highest final
    metric.
    """
    if summary.empty:
        return "no complete run to summarise"
    candidates = _candidates(summary, baseline)
    if candidates.empty:
        return f"only {baseline} was run: no speed-up to report"
    n_seeds = int(summary["n_seeds"].max()) if "n_seeds" in summary.columns else None
    seeds = f"{n_seeds} seeds" if n_seeds is not None else "all seeds"
    if not _has_speedups(summary):
        if "final_accuracy" not in summary.columns:
            return f"{len(summary)} rules run over {seeds}; no held-out metric to compare"
        best = summary.loc[summary["final_accuracy"].idxmax()]
        return (
            f"{best['rule']} ends highest: final {metric} {best['final_accuracy']:.3f}, "
            f"{seeds} (no speed-ups: no held-out evaluation reached the analysis)"
        )
    ranked = candidates.dropna(subset=["speedup"])
    rules = list(dict.fromkeys(ranked["rule"]))
    focus = FOCUS_RULE if FOCUS_RULE in rules else None
    several = "scenario" in summary.columns and summary["scenario"].nunique() > 1
    if several:
        median = ranked.groupby("rule")["speedup"].median()
        best = str(median.idxmax())
        focus = focus or best
        rows = ranked[ranked["rule"] == focus]
        above = int((rows["ci_low"] > 1.0).sum())
        return (
            f"{focus} reaches {metric} >= {target:g} faster than {baseline} (95% CI above 1) "
            f"in {above} of {len(rows)} scenarios, median speed-up "
            f"{median[focus]:.2f}x, {seeds}; best median: {best} ({median[best]:.2f}x)"
        )
    best_row = ranked.loc[ranked["speedup"].idxmax()]
    focus = focus or str(best_row["rule"])
    row = ranked[ranked["rule"] == focus].iloc[0]
    base = summary[summary["rule"] == baseline]
    if "n_censored" in summary.columns and not base.empty:
        never = int(row["n_censored"]) == int(row["n_seeds"])
        if never and int(base["n_censored"].iloc[0]) == int(base["n_seeds"].iloc[0]):
            top = summary.loc[summary["final_accuracy"].idxmax()]
            return (
                f"neither {focus} nor {baseline} reaches {metric} >= {target:g} in any of "
                f"{seeds}: no speed-up to report; highest final {metric}: {top['rule']} "
                f"({top['final_accuracy']:.3f})"
            )
    if n_seeds is not None and int(row["n_seeds"]) != n_seeds:  # a study cut short
        seeds = f"{int(row['n_seeds'])} seeds paired"
    text = (
        f"{focus} reaches {metric} >= {target:g} "
        f"{_times(row['speedup'], row['ci_low'], row['ci_high'], baseline)}, {seeds}; "
        f"best: {best_row['rule']}"
    )
    extra = []
    if best_row["rule"] != focus:
        extra.append(f"{best_row['speedup']:.2f}x")
    rollout = best_row.get("rollout_speedup", math.nan)
    if pd.notna(rollout) and abs(rollout / best_row["speedup"] - 1.0) > 0.01:
        extra.append(f"{rollout:.2f}x in rollouts")
    if extra:
        text += f" ({', '.join(extra)})"
    notes = []
    for rule in (focus, baseline):
        match = summary[summary["rule"] == rule]
        if "n_censored" in summary.columns and not match.empty:
            censored = int(match["n_censored"].iloc[0])
            if censored:
                total = int(match["n_seeds"].iloc[0]) if n_seeds is not None else censored
                notes.append(f"{censored} of {total} {rule} runs never reached it")
    return "; ".join([text, *notes])


def _interval(value: float, low: float, high: float, is_baseline: bool) -> str:
    if is_baseline:
        return "1.00x (baseline)"
    if pd.isna(value):
        return "-"
    if pd.isna(low) or pd.isna(high):
        return f"{value:.2f}x [undefined*]"
    return f"{value:.2f}x [{low:.2f}, {high:.2f}]"


#: The footnote of an undefined interval (a 0/0 ratio of mean steps in some replicates).
UNDEFINED_NOTE = (
    "* interval undefined: in some bootstrap replicates every resampled run of both rules met "
    "the target before training (0 steps), so the ratio of mean steps is 0/0 there; the target "
    "is too low for some task draw or seed (steps_to_target.csv)"
)


def _columns(
    summary: pd.DataFrame, metric: str, baseline: str
) -> list[tuple[str, Callable[[pd.Series], str]]]:
    """``(header, row -> text)`` in priority order: the first two are always shown."""
    cols = summary.columns
    out: list[tuple[str, Callable[[pd.Series], str]]] = [("rule", lambda r: str(r["rule"]))]
    if _has_speedups(summary):
        out.append(
            (
                "speed-up (steps)",
                lambda r: _interval(r["speedup"], r["ci_low"], r["ci_high"], r["rule"] == baseline),
            )
        )
    if "scenario" in cols and summary["scenario"].nunique() > 1:
        out.insert(1, ("scenario", lambda r: str(r["scenario"])))
    if "final_accuracy" in cols:
        sd = "final_accuracy_sd" in cols

        def final(r: pd.Series) -> str:
            if pd.isna(r["final_accuracy"]):
                return "-"
            spread = f" ± {r['final_accuracy_sd']:.3f}" if sd and pd.notna(r.get(
                "final_accuracy_sd")) else ""  # fmt: skip
            return f"{r['final_accuracy']:.3f}{spread}"

        out.append((f"final {metric}", final))
    if {"n_seeds", "n_censored"} <= set(cols) and _has_speedups(summary):
        out.append(
            ("reached", lambda r: f"{int(r['n_seeds']) - int(r['n_censored'])}/{int(r['n_seeds'])}")
        )
    if "rollout_speedup" in cols and summary["rollout_speedup"].notna().any():
        out.append(
            (
                "speed-up (rollouts)",
                lambda r: _interval(
                    r["rollout_speedup"],
                    r["rollout_ci_low"],
                    r["rollout_ci_high"],
                    r["rule"] == baseline,
                ),
            )
        )
    if "between_draw_share" in cols and summary["between_draw_share"].notna().any():
        out.append(("between-draw share", lambda r: f"{r['between_draw_share']:.2f}"))
    if "informative_share" in cols:
        out.append(("informative", lambda r: f"{r['informative_share']:.2f}"))
    if "rollouts_per_step" in cols:
        out.append(("rollouts/step", lambda r: f"{r['rollouts_per_step']:,.0f}"))
    return out


def _render(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]

    def line(cells: list[str]) -> str:
        parts = [cells[0].ljust(widths[0])]
        parts += [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        return "  ".join(parts).rstrip()

    return [line(header), *(line(r) for r in rows)]


def summary_table_text(
    summary: pd.DataFrame,
    *,
    metric: str,
    baseline: str,
    width: int = 100,
    max_rows: int = 40,
) -> str:
    """The summary as one plain-text table, fastest rule first, at most ``width`` wide.

    The rule and its speed-up in steps (with the 95% interval) are always shown; the
    other columns (final metric, seeds that reached the target, speed-up in rollouts,
    informative share, rollouts per step) are dropped from the last while the table is
    wider than ``width``. Rule labels longer than a third of the width are shortened
    with ``...``. At most ``max_rows`` rows (the rest are counted in a last line).
    """
    if summary.empty:
        return "(no rows)"
    several = "scenario" in summary.columns and summary["scenario"].nunique() > 1
    if _has_speedups(summary):
        keys = ["speedup", "final_accuracy" if "final_accuracy" in summary else "rule"]
        order = summary.sort_values(
            ["scenario", *keys] if several else keys,
            ascending=[True, False, False] if several else False,
            na_position="last",
            kind="stable",
        )
    elif "final_accuracy" in summary.columns:
        order = summary.sort_values("final_accuracy", ascending=False, kind="stable")
    else:
        order = summary
    shown = order.head(max_rows)
    columns = _columns(summary, metric, baseline)
    limit = max(12, width // 3)
    cells = []
    for _, row in shown.iterrows():
        values = [fn(row) for _, fn in columns]
        if len(values[0]) > limit:
            values[0] = values[0][: limit - 3] + "..."
        cells.append(values)
    keep = len(columns)
    lines = _render([h for h, _ in columns], cells)
    while keep > 2 and max(len(x) for x in lines) > width:
        keep -= 1
        lines = _render([h for h, _ in columns[:keep]], [c[:keep] for c in cells])
    if len(order) > len(shown):
        lines.append(f"... {len(order) - len(shown)} more rows (summary.csv holds them all)")
    privileged = [r for r in shown["rule"].unique() if _privileged(r)]
    if privileged:
        lines.append(
            f"{', '.join(privileged)}: privileged (reads the true success rates), a ceiling"
        )
    return "\n".join(lines)


def summary_text(
    summary: pd.DataFrame,
    *,
    baseline: str,
    metric: str,
    target: float,
    width: int = 100,
    max_rows: int = 40,
    horizon: int | None = None,
) -> str:
    """The headline (:func:`headline`), a blank line, then :func:`summary_table_text`, and
    with ``horizon`` (the runs' steps) :func:`early_target_note` when it applies.

    Parameters
    ----------
    summary : DataFrame
        :func:`~insight_bayes.results.summary.analysis_summary`'s summary (or
        :func:`~insight_bayes.results.summary.summary_table`'s, without speed-ups).
    baseline : str
        Reference rule of the speed-ups.
    metric : str
        Held-out metric of the steps-to-target analysis.
    target : float
        Its threshold.
    width : int, default 100
        Widest line of the table, in characters (the headline is one line however long).
    max_rows : int, default 40
        Most table rows printed.
    horizon : int, optional
        Training steps of the runs: a target every rule meets within its first steps is
        then said to be one.
    """
    if not (isinstance(target, int | float) and math.isfinite(target)):
        raise ValueError(f"target must be a finite number, got {target!r}")
    table = summary_table_text(
        summary, metric=metric, baseline=baseline, width=width, max_rows=max_rows
    )
    text = f"{headline(summary, baseline=baseline, metric=metric, target=target)}\n\n{table}"
    if _has_speedups(summary):
        rows = summary[(summary["rule"] != baseline) & summary["speedup"].notna()]
        if (rows["ci_low"].isna() | rows["ci_high"].isna()).any():
            text += f"\n{UNDEFINED_NOTE}"
    note = early_target_note(summary, horizon) if horizon is not None else None
    return f"{text}\n{note}" if note else text


#: A target every rule meets, on average, within this share of the horizon is "early".
EARLY_SHARE = 0.05


def early_target_note(summary: pd.DataFrame, horizon: int) -> str | None:
    """A note when every rule meets the target within the first steps, else ``None``.

    When every rule's mean steps-to-target (``mean_cost``, in steps) is at most
    ``EARLY_SHARE`` of the ``horizon`` (at least one step), the speed-ups at that target
    describe the first few steps of training only: typically a target fixed before the
    warm-up was known and lying at its level. The note points to the speed-up curve, whose
    targets are placed between the start and the baseline's final value.
    """
    if not isinstance(horizon, int) or horizon < 1:
        raise ValueError(f"horizon must be a positive integer, got {horizon!r}")
    if "mean_cost" not in summary.columns or summary.empty:
        return None
    costs = summary["mean_cost"].astype(float)
    if costs.isna().any():
        return None
    latest = float(costs.max())
    if latest > max(1.0, EARLY_SHARE * horizon):
        return None
    when = (
        "before training (step 0)" if latest == 0
        else f"within {latest:.1f} steps on average (of {horizon})"
    )  # fmt: skip
    return (
        f"note: every rule reaches the target {when}, so these speed-ups describe the first "
        "steps of training only; speedup_curve.csv places targets between the start and the "
        "baseline's final value"
    )
