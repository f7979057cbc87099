"""Steps-to-target, speed-ups versus Random with bootstrap intervals, and a summary table.

Steps-to-target ``T`` of a run is the first step at which ``eval/accuracy`` reaches the
target. A run that never reaches it is *censored*: we only know ``T > horizon``; here it
enters with ``T = horizon`` (so a speed-up against a censored baseline is a lower bound)
and is counted in ``n_censored``. The Bayesian model in
:mod:`insight_bayes.models.speedup` treats censoring properly.

Speed-up of rule ``r`` versus the baseline: ``mean(T_baseline) / mean(T_r)``
(> 1: ``r`` reaches the target in fewer steps). Bootstrap intervals resample seeds;
when both rules ran the same seeds, seeds are resampled jointly (paired: every rule
meets the same pool at the same seed).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from insight_bayes.validation import RngLike, as_generator, check_int, check_real

__all__ = ["bootstrap_speedups", "steps_to_target", "summary_table"]

_GROUP = ["scenario", "rule", "seed"]


def steps_to_target(
    steps: pd.DataFrame, target: float, *, metric: str = "eval/accuracy"
) -> pd.DataFrame:
    """First step at which ``metric`` reaches ``target``, per (scenario, rule, seed).

    Parameters
    ----------
    steps : DataFrame
        Tidy steps table (columns ``scenario``, ``rule``, ``seed``, ``step``, ``metric``).
    target : float
        Threshold on ``metric``.
    metric : str
        Column to threshold.

    Returns
    -------
    DataFrame
        Columns ``scenario, rule, seed, target, steps_to_target, censored, horizon``;
        ``steps_to_target`` equals ``horizon`` (the last evaluated step) when censored.
        With a ``rollouts`` column, also ``rollouts_to_target``: rollouts spent up to
        that step (Dynamic Sampling's extra rollouts included; all of them if censored).
    """
    target = check_real(target, "target")
    missing = {*_GROUP, "step", metric} - set(steps.columns)
    if missing:
        raise ValueError(f"steps table lacks column(s) {sorted(missing)}")
    cols = [*_GROUP, "step", metric] + (["rollouts"] if "rollouts" in steps.columns else [])
    df = steps[cols].sort_values([*_GROUP, "step"])
    if "rollouts" in df.columns:
        df["cum_rollouts"] = df.groupby(_GROUP)["rollouts"].cumsum()
    df = df[df[metric].notna()]
    if df.empty:
        raise ValueError(f"no evaluated steps: column {metric!r} is empty")
    hit = df[df[metric] >= target].groupby(_GROUP).head(1).set_index(_GROUP)
    last = df.groupby(_GROUP).tail(1).set_index(_GROUP)
    out = last[["step"]].rename(columns={"step": "horizon"})
    out["censored"] = ~out.index.isin(hit.index)
    out["steps_to_target"] = hit["step"].reindex(out.index).fillna(out["horizon"]).astype(float)
    out["target"] = target
    keep = [*_GROUP, "target", "steps_to_target", "censored", "horizon"]
    if "cum_rollouts" in df.columns:
        out["rollouts_to_target"] = (
            hit["cum_rollouts"].reindex(out.index).fillna(last["cum_rollouts"]).astype(float)
        )
        keep.append("rollouts_to_target")
    return out.reset_index()[keep]


def bootstrap_speedups(
    stt: pd.DataFrame,
    *,
    baseline: str = "random",
    measure: str = "steps_to_target",
    n_boot: int = 2000,
    level: float = 0.95,
    rng: RngLike = 0,
) -> pd.DataFrame:
    """Speed-up of every rule versus ``baseline`` with percentile bootstrap intervals.

    Parameters
    ----------
    stt : DataFrame
        Output of :func:`steps_to_target`.
    baseline : str
        Rule label of the reference (Random).
    measure : {"steps_to_target", "rollouts_to_target"}
        Cost to compare: training steps, or rollouts spent (compute).
    n_boot : int
        Bootstrap replicates (>= 100).
    level : float
        Interval level in (0, 1).
    rng : Generator, int or None
        Source of the resampling.

    Returns
    -------
    DataFrame
        One row per (scenario, rule): ``n_seeds, n_censored, mean_cost`` (mean of
        ``measure``), ``speedup,
        ci_low, ci_high, p_faster`` (share of replicates with speed-up > 1), ``paired``.
    """
    n_boot = check_int(n_boot, "n_boot", min_value=100)
    level = check_real(level, "level", low=0.0, high=1.0, low_inclusive=False, high_inclusive=False)
    if measure not in ("steps_to_target", "rollouts_to_target") or measure not in stt.columns:
        raise ValueError(
            f"measure must be 'steps_to_target' or 'rollouts_to_target' (a column of stt), "
            f"got {measure!r}"
        )
    gen = as_generator(rng)
    rows = []
    for scenario, sdf in stt.groupby("scenario", sort=False):
        base = sdf[sdf["rule"] == baseline].set_index("seed")[measure]
        if base.empty:
            raise ValueError(f"baseline rule {baseline!r} has no runs in scenario {scenario!r}")
        for rule, rdf in sdf.groupby("rule", sort=False):
            t = rdf.set_index("seed")[measure]
            paired = set(t.index) == set(base.index)
            if paired:
                seeds = np.array(sorted(t.index))
                tb, tr = base.loc[seeds].to_numpy(), t.loc[seeds].to_numpy()
                idx = gen.integers(seeds.size, size=(n_boot, seeds.size))
                boot = tb[idx].mean(axis=1) / tr[idx].mean(axis=1)
            else:
                tb, tr = base.to_numpy(), t.to_numpy()
                ib = gen.integers(tb.size, size=(n_boot, tb.size))
                ir = gen.integers(tr.size, size=(n_boot, tr.size))
                boot = tb[ib].mean(axis=1) / tr[ir].mean(axis=1)
            tail = (1.0 - level) / 2.0
            rows.append(
                {
                    "scenario": scenario,
                    "rule": rule,
                    "n_seeds": int(t.size),
                    "n_censored": int(rdf["censored"].sum()),
                    "mean_cost": float(tr.mean()),
                    "speedup": float(tb.mean() / tr.mean()),
                    "ci_low": float(np.quantile(boot, tail)),
                    "ci_high": float(np.quantile(boot, 1.0 - tail)),
                    "p_faster": float(np.mean(boot > 1.0)),
                    "paired": paired,
                }
            )
    return pd.DataFrame(rows)


def summary_table(
    steps: pd.DataFrame,
    speedups: pd.DataFrame | None = None,
    *,
    metric: str = "eval/accuracy",
) -> pd.DataFrame:
    """One row per (scenario, rule): final accuracy, informative share, cost, speed-up.

    Columns (those whose source columns exist): ``final_accuracy`` (mean over seeds of
    the last evaluated ``metric``) and its standard deviation, ``informative_share``
    (mean over steps and seeds of the share of groups with unequal rewards, as the
    learner sees them), ``expected_informative`` (the same for binary verified rewards,
    in expectation under the true rates), ``info_gain`` (mean realised entropy drop of
    the chosen beliefs per step, nats), ``belief_mae`` (final pool-wide mean absolute
    error of the mean belief), ``rollouts_per_step`` (Dynamic Sampling's extra rollouts
    included), then the columns of :func:`bootstrap_speedups` when ``speedups`` is
    given (sorted by speed-up).
    """
    keys = ["scenario", "rule"]
    trained = steps[steps["step"] > 0].groupby(keys)
    columns: dict[str, pd.Series] = {}
    if metric in steps.columns and steps[metric].notna().any():
        last = (
            steps[steps[metric].notna()].sort_values("step").groupby(_GROUP)[metric].last()
        ).groupby(keys)
        columns["final_accuracy"] = last.mean()
        columns["final_accuracy_sd"] = last.std(ddof=1)
    for name, source in (
        ("informative_share", "informative_share"),
        ("expected_informative", "train/expected_informative"),
        ("info_gain", "info/entropy_drop"),
    ):
        if source in steps.columns:
            columns[name] = trained[source].mean()
    if "belief/mae_pool" in steps.columns:
        final = steps.sort_values("step").groupby(_GROUP)["belief/mae_pool"].last()
        columns["belief_mae"] = final.groupby(keys).mean()
    columns["rollouts_per_step"] = trained["rollouts"].mean()
    out = pd.DataFrame(columns).reset_index()
    if speedups is None:
        return out.sort_values(keys).reset_index(drop=True)
    out = out.merge(speedups, on=keys, how="left")
    return out.sort_values(["scenario", "speedup"], ascending=[True, False]).reset_index(drop=True)
