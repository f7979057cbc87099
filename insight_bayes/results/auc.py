"""Learning-curve AUC: each run's time-averaged metric, and its paired difference per rule.

The trapezoid area under a run's held-out metric over its evaluated steps, divided by
their span (:func:`learning_curve_auc`); :func:`auc_table` gives its mean per rule and the
paired difference versus the baseline, with (hierarchical) bootstrap intervals
(:mod:`~insight_bayes.results.bootstrap`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from insight_bayes.results.bootstrap import (
    _group_keys,
    _paired_effects,
    _percentile_interval,
    _replicate_means,
    _run_keys,
    _shared_units,
    _unit_draws,
    _unit_keys,
    between_draw_share,
    hierarchical_bootstrap_index,
)
from insight_bayes.validation import RngLike, as_generator, check_int, check_real

__all__ = ["auc_table", "learning_curve_auc"]


def learning_curve_auc(steps: pd.DataFrame, *, metric: str = "eval/accuracy") -> pd.DataFrame:
    """Per run: the time-averaged ``metric``, ``trapz(metric, step) / (last - first)``.

    Over the run's evaluated steps (all of them, ``step = 0`` included). Returns
    ``[scenario,] rule, seed, auc, first_step, last_step``; a run with one evaluation
    gets that value.
    """
    if metric not in steps.columns:
        raise ValueError(f"steps table lacks the column {metric!r}")
    keys = _run_keys(steps)
    rows = []
    evaluated = steps[steps[metric].notna()].sort_values([*keys, "step"])
    for key, run in evaluated.groupby(keys, sort=True):
        s = run["step"].to_numpy(np.float64)
        v = run[metric].to_numpy(np.float64)
        span = s[-1] - s[0]
        area = float(np.sum((v[1:] + v[:-1]) / 2.0 * np.diff(s))) if s.size > 1 else 0.0
        auc = area / span if span > 0 else float(v[-1])
        rows.append(
            {**dict(zip(keys, key, strict=True)), "auc": auc, "first_step": int(s[0]),
             "last_step": int(s[-1])}
        )  # fmt: skip
    return pd.DataFrame(rows)


def auc_table(
    steps: pd.DataFrame,
    *,
    metric: str = "eval/accuracy",
    baseline: str = "random",
    n_boot: int = 2000,
    level: float = 0.95,
    rng: RngLike = 0,
) -> pd.DataFrame:
    """Learning-curve AUC per rule with bootstrap intervals, and its gain over ``baseline``.

    Returns one row per ([scenario,] rule): ``n_seeds, auc`` (mean over seeds),
    ``auc_ci_low, auc_ci_high`` (seeds resampled), ``auc_gain`` (mean over seeds of
    ``auc_rule - auc_baseline``, paired on the seeds both ran when they share at least
    two, else the difference of means), ``gain_ci_low, gain_ci_high``, ``paired``. With a ``draw``
    column the intervals are hierarchical over (draw, seed) runs and ``n_draws`` and
    ``between_draw_share`` (of the runs' AUC gains) are added (module docstring).
    """
    n_boot = check_int(n_boot, "n_boot", min_value=100)
    level = check_real(level, "level", low=0.0, high=1.0, low_inclusive=False, high_inclusive=False)
    gen = as_generator(rng)
    per_run = learning_curve_auc(steps, metric=metric)
    groups = _group_keys(per_run)
    units = _unit_keys(per_run)
    by_draw = "draw" in per_run.columns
    parts = per_run.groupby(groups, sort=False) if groups else [((), per_run)]
    rows = []
    for gkey, sdf in parts:
        gkey = gkey if isinstance(gkey, tuple) else (gkey,)
        label = dict(zip(groups, gkey, strict=True))
        base = sdf[sdf["rule"] == baseline].set_index(units)["auc"]
        if base.empty:
            raise ValueError(f"baseline rule {baseline!r} has no runs")
        for rule, rdf in sdf.groupby("rule", sort=False):
            auc = rdf.set_index(units)["auc"]
            values = auc.to_numpy(float)
            idx, weight = hierarchical_bootstrap_index(_unit_draws(auc.index), n_boot, gen)
            low, high = _percentile_interval(_replicate_means(values, idx, weight), level)
            keys = _shared_units(base.index, auc.index)
            paired = keys is not None
            if paired:
                diff = auc.loc[keys].to_numpy(float) - base.loc[keys].to_numpy(float)
                jdx, jw = hierarchical_bootstrap_index(
                    _unit_draws(auc.loc[keys].index), n_boot, gen
                )
                boot = _replicate_means(diff, jdx, jw)
                gain = float(diff.mean())
            else:
                tb = base.to_numpy(float)
                ib, wb = hierarchical_bootstrap_index(_unit_draws(base.index), n_boot, gen)
                boot = _replicate_means(values, idx, weight) - _replicate_means(tb, ib, wb)
                gain = float(values.mean() - tb.mean())
            g_low, g_high = _percentile_interval(boot, level)
            row = {
                **label, "rule": rule, "n_seeds": int(values.size), "auc": float(values.mean()),
                "auc_ci_low": low, "auc_ci_high": high, "auc_gain": gain,
                "gain_ci_low": g_low, "gain_ci_high": g_high, "paired": paired,
            }  # fmt: skip
            if by_draw:
                row["n_draws"] = int(rdf["draw"].nunique())
                row["between_draw_share"] = between_draw_share(*_paired_effects(base, auc, "diff"))
            rows.append(row)
    return pd.DataFrame(rows)
