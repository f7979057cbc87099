r"""Steps-to-target, speed-ups (one target or a curve over targets), learning-curve AUC.

**Steps-to-target.** A run's held-out metric is known at its evaluated steps
``s_0 < s_1 < ...`` with values ``a_0, a_1, ...``. With ``j`` the first evaluation
where ``a_j >= target``, the run reaches the target at the fractional step

.. math::

    T = s_{j-1} + \frac{\mathrm{target} - a_{j-1}}{a_j - a_{j-1}}\,(s_j - s_{j-1})

(linear interpolation between the two evaluations that bracket the crossing; ``T =
s_0`` when the first evaluation already reaches it). A run that never reaches the
target is **censored**: we only know ``T > H``, its horizon (last evaluated step); it
enters with ``T = H`` and ``censored = True``, so a speed-up against a censored
baseline is a lower bound (:func:`insight_bayes.models.fit_speedup` treats censoring
properly). Costs other than steps are read off the cumulative cost at ``T``, linear
between steps: ``rollouts_to_target`` (a rollout filter's extra rollouts included) and
``seconds_to_target`` when the table has ``step_seconds``.

**Speed-up** of rule ``r`` versus the baseline: ``mean_s(T_baseline) / mean_s(T_r)``
(> 1: ``r`` reaches the target with less cost). Percentile bootstrap intervals
resample seeds; on the seeds both rules ran (when they share at least two), seeds are
resampled **jointly** (paired: every rule meets the same pool, or the same warm-up, at a
given seed), and a seed only one of them ran is left out of the comparison.
:func:`speedup_curve` does this at several targets.

**Learning-curve AUC** of a run: the trapezoid area under the metric over its
evaluated steps divided by their span, i.e. the run's time-averaged metric (no target
needed). :func:`~insight_bayes.results.auc.auc_table` gives its mean per rule and the
paired difference versus the
baseline, with bootstrap intervals.

**Task draws.** A table with an integer ``draw`` column is one study replicated over
task draws (each draw its own pool, test set and warm-up; its ``scenario`` is the draw's
own study key, nested in the draw). Its runs are ``(draw, seed)`` units, comparisons are
split by target only, and every bootstrap is **hierarchical**
(:func:`~insight_bayes.results.bootstrap.hierarchical_bootstrap_index`): draws are
resampled with replacement, then seeds
within each drawn draw, a rule staying paired with the baseline on the same ``(draw,
seed)``. With one draw (or no ``draw`` column) this is exactly the seed bootstrap above.
The speed-up and AUC tables then also report ``between_draw_share``
(:func:`~insight_bayes.results.bootstrap.between_draw_share`) and ``n_draws``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

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

__all__ = [
    "bootstrap_speedups",
    "draw_relative_steps_to_target",
    "relative_steps_to_target",
    "relative_targets",
    "speedup_curve",
    "speedup_report",
    "steps_to_target",
]

_COSTS = ("steps_to_target", "rollouts_to_target", "seconds_to_target")


def _crossing(steps: np.ndarray, values: np.ndarray, target: float) -> tuple[float, bool]:
    """Interpolated crossing step of evaluated ``(steps, values)``; (horizon, True) if none."""
    hit = np.flatnonzero(values >= target)
    if hit.size == 0:
        return float(steps[-1]), True
    j = int(hit[0])
    if j == 0:
        return float(steps[0]), False
    a0, a1 = values[j - 1], values[j]
    s0, s1 = steps[j - 1], steps[j]
    return float(s0 + (target - a0) / (a1 - a0) * (s1 - s0)), False


def steps_to_target(
    steps: pd.DataFrame,
    target: float | Iterable[float],
    *,
    metric: str = "eval/accuracy",
) -> pd.DataFrame:
    """Interpolated steps (and rollouts, seconds) to reach ``target``, per run and target.

    Parameters
    ----------
    steps : DataFrame
        Tidy steps table (:mod:`insight_bayes.results.schema`): ``rule``, ``seed``,
        ``step``, ``metric``; ``scenario``, ``rollouts``, ``step_seconds`` when present.
    target : float or iterable of float
        Threshold(s) on ``metric``.
    metric : str
        Column to threshold (``eval/accuracy`` in sweeps, ``eval/pass1`` in studies).

    Returns
    -------
    DataFrame
        One row per run and target: ``[scenario,] rule, seed, target, steps_to_target,
        censored, horizon`` and, from the columns present, ``rollouts_to_target`` and
        ``seconds_to_target`` (see the module docstring). A censored run has
        ``steps_to_target = horizon``.

    Examples
    --------
    >>> df = pd.DataFrame({"rule": "r", "seed": 0, "step": [0, 1, 2],
    ...                    "eval/accuracy": [0.1, 0.3, 0.7], "rollouts": [0, 16, 16]})
    >>> steps_to_target(df, 0.5)[["steps_to_target", "rollouts_to_target"]].values.tolist()
    [[1.5, 24.0]]
    """
    targets = [target] if np.isscalar(target) else list(target)  # type: ignore[arg-type]
    if not targets:
        raise ValueError("target must name at least one threshold")
    targets = [check_real(t, "target") for t in targets]
    keys = _run_keys(steps)
    missing = {"rule", "seed", "step", metric} - set(steps.columns)
    if missing:
        raise ValueError(f"steps table lacks column(s) {sorted(missing)}")
    if not steps[metric].notna().any():
        raise ValueError(f"no evaluated steps: column {metric!r} is empty")
    costs = {"rollouts_to_target": "rollouts", "seconds_to_target": "step_seconds"}
    costs = {name: col for name, col in costs.items() if col in steps.columns}
    rows = []
    for key, run in steps.sort_values([*keys, "step"]).groupby(keys, sort=True):
        run_steps = run["step"].to_numpy(np.float64)
        cumulative = {n: run[c].fillna(0).cumsum().to_numpy(np.float64) for n, c in costs.items()}
        evaluated = run[run[metric].notna()]
        if evaluated.empty:
            continue
        e_steps = evaluated["step"].to_numpy(np.float64)
        e_values = evaluated[metric].to_numpy(np.float64)
        for t in targets:
            at, censored = _crossing(e_steps, e_values, t)
            row = dict(zip(keys, key, strict=True))
            row.update(target=t, steps_to_target=at, censored=censored, horizon=int(e_steps[-1]))
            for name, cum in cumulative.items():
                row[name] = float(np.interp(at, run_steps, cum))
            rows.append(row)
    return pd.DataFrame(rows)


def _cost_column(reached: pd.DataFrame, measure: str) -> str:
    if measure not in _COSTS or measure not in reached.columns:
        present = [c for c in _COSTS if c in reached.columns]
        raise ValueError(
            f"measure must be one of {present} (a column of the steps-to-target table), "
            f"got {measure!r}"
        )
    return measure


def bootstrap_speedups(
    reached: pd.DataFrame,
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
    reached : DataFrame
        Output of :func:`steps_to_target` (one or several targets and scenarios).
    baseline : str
        Rule label of the reference (Random).
    measure : {"steps_to_target", "rollouts_to_target", "seconds_to_target"}
        The cost compared: training steps, rollouts spent (compute), or wall time.
    n_boot : int
        Bootstrap replicates (>= 100).
    level : float
        Interval level in (0, 1).
    rng : Generator, int or None
        Source of the resampling.

    Returns
    -------
    DataFrame
        One row per ([scenario,] [target,] rule): ``n_seeds, n_censored, mean_cost``
        (mean of ``measure``), ``speedup`` (``mean(T_baseline) / mean(T_rule)``),
        ``ci_low, ci_high``, ``p_faster`` (share of replicates with speed-up > 1) and
        ``paired`` (seeds resampled jointly with the baseline's, on the seeds both ran:
        ``n_seeds`` and ``n_censored`` then count those). With a ``draw`` column
        (see the module docstring): ``n_seeds`` counts (draw, seed) runs, the speed-up
        is over all of them, the interval is hierarchical, and ``n_draws`` and
        ``between_draw_share`` (of the runs' log speed-ups) are added.
    """
    n_boot = check_int(n_boot, "n_boot", min_value=100)
    level = check_real(level, "level", low=0.0, high=1.0, low_inclusive=False, high_inclusive=False)
    measure = _cost_column(reached, measure)
    gen = as_generator(rng)
    groups = _group_keys(reached)
    units = _unit_keys(reached)
    by_draw = "draw" in reached.columns
    parts = reached.groupby(groups, sort=False) if groups else [((), reached)]
    rows = []
    for gkey, sdf in parts:
        gkey = gkey if isinstance(gkey, tuple) else (gkey,)
        label = dict(zip(groups, gkey, strict=True))
        base = sdf[sdf["rule"] == baseline].set_index(units)[measure]
        if base.empty:
            where = f" in {label}" if label else ""
            raise ValueError(f"baseline rule {baseline!r} has no runs{where}")
        for rule, rdf in sdf.groupby("rule", sort=False):
            cost = rdf.set_index(units)[measure]
            censored = rdf.set_index(units)["censored"]
            keys = _shared_units(base.index, cost.index)
            paired = keys is not None
            if paired:
                tb, tr = base.loc[keys].to_numpy(float), cost.loc[keys].to_numpy(float)
                censored = censored.loc[keys]
                idx, weight = hierarchical_bootstrap_index(
                    _unit_draws(cost.loc[keys].index), n_boot, gen
                )
                with np.errstate(invalid="ignore"):  # 0/0: no run needed a step (NaN)
                    boot = _replicate_means(tb, idx, weight) / _replicate_means(tr, idx, weight)
            else:
                tb, tr = base.to_numpy(float), cost.to_numpy(float)
                ib, wb = hierarchical_bootstrap_index(_unit_draws(base.index), n_boot, gen)
                ir, wr = hierarchical_bootstrap_index(_unit_draws(cost.index), n_boot, gen)
                with np.errstate(invalid="ignore"):
                    boot = _replicate_means(tb, ib, wb) / _replicate_means(tr, ir, wr)
            low, high = _percentile_interval(boot, level)
            with np.errstate(invalid="ignore"):  # 0/0: printed as undefined (headline)
                speedup = float(tb.mean() / tr.mean())
            row = {
                **label,
                "rule": rule,
                "n_seeds": int(tr.size),
                "n_censored": int(censored.sum()),
                "mean_cost": float(tr.mean()),
                "speedup": speedup,
                "ci_low": low,
                "ci_high": high,
                "p_faster": float(np.mean(boot > 1.0)),
                "paired": paired,
            }
            if by_draw:
                effects = _paired_effects(base, cost, "log")
                row["n_draws"] = int(rdf["draw"].nunique())
                row["between_draw_share"] = (
                    between_draw_share(*effects) if effects is not None else float("nan")
                )
            rows.append(row)
    return pd.DataFrame(rows)


def relative_targets(
    steps: pd.DataFrame,
    fractions: Sequence[float],
    *,
    metric: str = "eval/accuracy",
    baseline: str = "random",
) -> list[float]:
    r"""Targets placed between the start and the baseline's final value of ``metric``.

    .. math::
        \mathrm{target}_f = a_0 + f\,(\bar a_{\mathrm{final}} - a_0), \qquad 0 < f \le 1,

    with ``a_0`` the mean of ``metric`` at ``step = 0`` over every run (every rule
    starts from the same warm-up or pool at a given seed) and ``a_final`` the mean over
    the baseline's seeds of its last evaluated value. No target is met at step 0 when the
    baseline gains at all; ``f = 1`` is "steps to the baseline's final accuracy".

    Raises ``ValueError`` when the table has no step-0 evaluation or no baseline run, or
    when the baseline did not improve (no target can be placed above the start).
    """
    fractions = [
        check_real(f, "fraction", low=0.0, high=1.0, low_inclusive=False) for f in fractions
    ]
    if not fractions:
        raise ValueError("fractions must hold at least one value in (0, 1]")
    if metric not in steps.columns:
        raise ValueError(f"steps table lacks the column {metric!r}")
    evaluated = steps[steps[metric].notna()]
    start = evaluated.loc[evaluated["step"] == 0, metric]
    if start.empty:
        raise ValueError(f"no step-0 evaluation of {metric!r}: relative targets need the start")
    base = evaluated[evaluated["rule"] == baseline]
    if base.empty:
        raise ValueError(f"baseline rule {baseline!r} has no evaluated runs")
    keys = [k for k in _run_keys(base) if k != "rule"]
    final = base.sort_values("step").groupby(keys)[metric].last().mean()
    a0 = float(start.mean())
    if not final > a0:
        raise ValueError(
            f"the baseline's final {metric} ({final:.4g}) is not above the start ({a0:.4g}): "
            "no relative target can be placed"
        )
    return [a0 + f * (float(final) - a0) for f in fractions]


def relative_steps_to_target(
    steps: pd.DataFrame,
    fractions: Sequence[float],
    *,
    metric: str = "eval/accuracy",
    baseline: str = "random",
) -> pd.DataFrame:
    """Steps-to-target at targets relative to each seed's own start and baseline.

    For a simulator every seed draws its own pool, so the starting accuracy differs by
    seed: the target of seed ``s`` is ``a_0(s) + f (a_final(s) - a_0(s))``, with
    ``a_0(s)`` the step-0 value of ``metric`` (the same for every rule at that seed) and
    ``a_final(s)`` the baseline's last value at that seed. No target is met at step 0
    when the baseline gains; ``f = 1`` is "steps to the baseline's final accuracy".

    Returns :func:`steps_to_target`'s table with ``target`` holding the **fraction** (so
    that :func:`bootstrap_speedups` groups by it) and ``target_value`` the seed's own
    absolute target.
    """
    fractions = [
        check_real(f, "fraction", low=0.0, high=1.0, low_inclusive=False) for f in fractions
    ]
    if not fractions:
        raise ValueError("fractions must hold at least one value in (0, 1]")
    if metric not in steps.columns:
        raise ValueError(f"steps table lacks the column {metric!r}")
    group = [c for c in ("scenario", "seed") if c in steps.columns]
    parts = []
    for key, run_group in steps.groupby(group, sort=True):
        evaluated = run_group[run_group[metric].notna()]
        start = evaluated.loc[evaluated["step"] == 0, metric]
        base = evaluated[evaluated["rule"] == baseline]
        if start.empty or base.empty:
            raise ValueError(
                f"{dict(zip(group, np.atleast_1d(key), strict=True))}: relative targets need "
                f"a step-0 evaluation and a {baseline!r} run"
            )
        a0 = float(start.mean())
        final = float(base.sort_values("step")[metric].iloc[-1])
        for f in fractions:
            reached = steps_to_target(run_group, a0 + f * (final - a0), metric=metric)
            reached["target_value"] = reached["target"]
            reached["target"] = f
            parts.append(reached)
    return pd.concat(parts, ignore_index=True)


def draw_relative_steps_to_target(
    steps: pd.DataFrame,
    fractions: Sequence[float],
    *,
    metric: str = "eval/accuracy",
    baseline: str = "random",
) -> pd.DataFrame:
    r"""Steps-to-target at relative targets placed **per task draw**.

    Draw ``d``'s target at fraction ``f`` is :func:`relative_targets` on that draw's
    runs alone,

    .. math::
        \mathrm{target}_{d,f} = a_0(d) + f\,(\bar a_{\mathrm{final}}(d) - a_0(d)),

    its own step-0 mean plus ``f`` of its own baseline's mean final gain. Per draw, not
    pooled: each draw has its own test set and warm-up, so its start and the gain
    Random makes differ from draw to draw. A pooled target can sit below one draw's start
    (met at step 0 by every rule: a speed-up of 1 by construction) and above another
    draw's Random final (every run censored), so the draws' speed-ups would measure
    different stretches of learning and their spread would mix target placement with the
    rules' effects. Placed per draw, ``f`` means the same thing (``f`` of the way to
    Random's final value) in every draw, and the between-draw variance of the speed-ups
    is the rules' own. With one draw (or no ``draw`` column) the targets are exactly
    :func:`relative_targets`'.

    Returns :func:`steps_to_target`'s table (with ``draw`` when given) where ``target``
    holds the **fraction** (so that :func:`bootstrap_speedups` compares the draws at a
    fraction together) and ``target_value`` the draw's own absolute target.

    Raises ``ValueError`` (naming the draw) when a draw has no step-0 evaluation or no
    baseline run, or its baseline did not improve.
    """
    fractions = [
        check_real(f, "fraction", low=0.0, high=1.0, low_inclusive=False) for f in fractions
    ]
    groups = steps.groupby("draw", sort=True) if "draw" in steps.columns else [(0, steps)]
    parts = []
    for draw, draw_steps in groups:
        try:
            targets = relative_targets(draw_steps, fractions, metric=metric, baseline=baseline)
        except ValueError as err:
            raise ValueError(f"draw {draw}: {err}") from None
        reached = steps_to_target(draw_steps, targets, metric=metric)
        reached["target_value"] = reached["target"]
        reached["target"] = reached["target"].map(dict(zip(targets, fractions, strict=True)))
        parts.append(reached)
    return pd.concat(parts, ignore_index=True)


def speedup_curve(
    steps: pd.DataFrame,
    targets: Sequence[float],
    *,
    metric: str = "eval/accuracy",
    baseline: str = "random",
    measure: str = "steps_to_target",
    n_boot: int = 2000,
    level: float = 0.95,
    rng: RngLike = 0,
) -> pd.DataFrame:
    """Speed-up versus ``baseline`` as a curve over ``targets`` (one row per target, rule).

    :func:`steps_to_target` at every target, then :func:`bootstrap_speedups` per target
    (same columns, with ``target``). A rule's advantage that holds only at low targets
    (early learning) or only at high ones shows up here and not at a single target.
    """
    reached = steps_to_target(steps, targets, metric=metric)
    return bootstrap_speedups(
        reached, baseline=baseline, measure=measure, n_boot=n_boot, level=level, rng=rng
    )


def speedup_report(
    steps: pd.DataFrame | None,
    targets: Sequence[float] | None = None,
    *,
    reached: pd.DataFrame | None = None,
    metric: str = "eval/accuracy",
    baseline: str = "random",
    oracle: str | None = "oracle",
    n_boot: int = 2000,
    level: float = 0.95,
    rng: RngLike = 0,
) -> pd.DataFrame:
    """The speed-up curve of every rule, per step and per rollout, and against the oracle.

    One row per ([scenario,] target, rule) with :func:`speedup_curve`'s columns (speed-up
    in training steps versus ``baseline``), ``rollout_speedup, rollout_ci_low,
    rollout_ci_high`` (the same in rollouts spent: a rollout filter pays for the groups
    it drops) and, when ``oracle`` ran, ``oracle_fraction`` with its interval: the rule's
    speed-up as a fraction of the oracle's, ``mean(T_oracle) / mean(T_rule)`` (the ratio
    of the two speed-ups; paired bootstrap over seeds). Give ``steps`` and ``targets``,
    or an already computed ``reached`` table (e.g. :func:`relative_steps_to_target`).
    """
    if reached is None:
        if steps is None or targets is None:
            raise ValueError("give steps and targets, or reached")
        reached = steps_to_target(steps, targets, metric=metric)
    keys = [k for k in ("scenario", "target", "rule") if k in reached.columns]

    def curve(measure: str, reference: str, prefix: str) -> pd.DataFrame:
        out = bootstrap_speedups(
            reached, baseline=reference, measure=measure, n_boot=n_boot, level=level, rng=rng
        )
        out = out[[*keys, "speedup", "ci_low", "ci_high"]]
        return out.rename(columns={c: f"{prefix}{c}" for c in ("speedup", "ci_low", "ci_high")})

    report = bootstrap_speedups(reached, baseline=baseline, n_boot=n_boot, level=level, rng=rng)
    report = report.merge(curve("rollouts_to_target", baseline, "rollout_"), on=keys)
    if oracle is not None and oracle in set(reached["rule"]):
        fraction = curve("steps_to_target", oracle, "oracle_")
        fraction = fraction.rename(
            columns={"oracle_speedup": "oracle_fraction", "oracle_ci_low": "oracle_fraction_ci_low",
                     "oracle_ci_high": "oracle_fraction_ci_high"}
        )  # fmt: skip
        report = report.merge(fraction, on=keys)
    return report
