"""Tidy tables from the harness's records: per-prompt information, steps-to-target.

:func:`prompt_information` joins each chosen prompt's *predicted* information at the
time it was chosen (weighted mutual information, mutual information, expected variance
reduction, all from its Beta belief before the update) with what *followed*: its own
success rate at its next visit, and the held-out gain of the step that trained on it.
:func:`steps_to_target` and :func:`speedups` summarise learning speed per rule.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from insight_bayes.acquisition import wmi_score
from insight_bayes.beta import expected_variance_reduction, mutual_information
from insight_bayes.validation import check_int, check_real

__all__ = ["prompt_information", "speedups", "steps_to_target"]

_RUN = ["rule", "seed"]


def prompt_information(
    choices: pd.DataFrame,
    steps: pd.DataFrame,
    k: int,
    *,
    mu: float = 0.3,
    eta: float = 3.0,
    pool: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per chosen prompt and step: predicted information and realised learning.

    Parameters
    ----------
    choices : DataFrame
        The loop's choices table (``rule, seed, step, prompt_id, rank, alpha, beta,
        score, successes, trials``), beliefs taken before the update.
    steps : DataFrame
        The loop's steps table; uses ``eval/answer_logprob_gain`` (held-out gain of the
        step, nats per token) and ``eval/pass1`` (held-out pass@1 at evaluated steps).
    k : int
        Rollouts per prompt (the ``K`` of the information measures).
    mu, eta : float
        Weight parameters of the WMI score.
    pool : DataFrame, optional
        Per-prompt features keyed by ``prompt_id`` (joined in).

    Returns
    -------
    DataFrame
        ``choices`` plus ``wmi`` and ``mutual_information`` (nats),
        ``variance_reduction``, ``success_rate``, ``next_step``, ``next_success_rate``,
        ``success_gain`` (next minus now; NaN when never revisited),
        ``step_logprob_gain`` and ``interval_pass1_gain`` (the pass@1 change over the
        evaluation interval that contains the step, shared by its steps).
    """
    k = check_int(k, "k", min_value=1)
    df = choices.copy()
    a = df["alpha"].to_numpy(np.float64)
    b = df["beta"].to_numpy(np.float64)
    df["wmi"] = np.asarray(wmi_score(a, b, k, mu, eta)) if len(df) else np.empty(0)
    df["mutual_information"] = np.asarray(mutual_information(a, b, k)) if len(df) else []
    df["variance_reduction"] = np.asarray(expected_variance_reduction(a, b, k)) if len(df) else []
    df["success_rate"] = df["successes"] / df["trials"]
    df = df.sort_values([*_RUN, "prompt_id", "step"])
    grouped = df.groupby([*_RUN, "prompt_id"], sort=False)
    df["next_step"] = grouped["step"].shift(-1)
    df["next_success_rate"] = grouped["success_rate"].shift(-1)
    df["success_gain"] = df["next_success_rate"] - df["success_rate"]

    step_cols = [*_RUN, "step"]
    extra = steps[step_cols].copy()
    if "eval/answer_logprob_gain" in steps:
        extra["step_logprob_gain"] = steps["eval/answer_logprob_gain"].to_numpy()
    else:
        extra["step_logprob_gain"] = np.nan
    extra["interval_pass1_gain"] = _interval_gain(steps, "eval/pass1")
    df = df.merge(extra, on=step_cols, how="left")
    if pool is not None:
        df = df.merge(pool, on="prompt_id", how="left", suffixes=("", "_pool"))
    return df.sort_values([*_RUN, "step", "rank"]).reset_index(drop=True)


def _interval_gain(steps: pd.DataFrame, metric: str) -> np.ndarray:
    """For each step, ``metric`` at the next evaluation minus at the previous one."""
    out = np.full(len(steps), np.nan)
    if metric not in steps:
        return out
    for _, idx in steps.groupby(_RUN).groups.items():
        sub = steps.loc[idx].sort_values("step")
        evals = sub[sub[metric].notna()]
        e_steps = evals["step"].to_numpy()
        e_vals = evals[metric].to_numpy(np.float64)
        for row, step in zip(sub.index, sub["step"].to_numpy(), strict=True):
            j = np.searchsorted(e_steps, step)  # first evaluation at or after this step
            if step == 0 or j == 0 or j >= e_steps.size:
                continue
            out[steps.index.get_loc(row)] = e_vals[j] - e_vals[j - 1]
    return out


def steps_to_target(
    steps: pd.DataFrame, target: float, *, metric: str = "eval/pass1"
) -> pd.DataFrame:
    """First evaluated step at which ``metric >= target``, per (rule, seed).

    A run that never reaches the target is *censored* and enters with the last
    evaluated step (its horizon), so speed-ups against it are bounds. Also gives the
    rollouts and wall-clock seconds spent up to that step.

    Returns
    -------
    DataFrame
        ``rule, seed, target, steps_to_target, rollouts_to_target, seconds_to_target,
        censored, horizon``.
    """
    target = check_real(target, "target")
    if metric not in steps:
        raise ValueError(f"steps table lacks the column {metric!r}")
    rows = []
    for (rule, seed), sub in steps.sort_values("step").groupby(_RUN, sort=True):
        cum_rollouts = sub["rollouts"].cumsum().to_numpy()
        cum_seconds = sub["step_seconds"].cumsum().to_numpy()
        evaluated = sub[metric].notna().to_numpy()
        hit = evaluated & (sub[metric].to_numpy() >= target)
        horizon_pos = np.flatnonzero(evaluated)[-1] if evaluated.any() else len(sub) - 1
        pos = int(np.flatnonzero(hit)[0]) if hit.any() else int(horizon_pos)
        rows.append(
            {
                "rule": rule,
                "seed": int(seed),
                "target": target,
                "steps_to_target": int(sub["step"].to_numpy()[pos]),
                "rollouts_to_target": int(cum_rollouts[pos]),
                "seconds_to_target": float(cum_seconds[pos]),
                "censored": not bool(hit.any()),
                "horizon": int(sub["step"].to_numpy()[horizon_pos]),
            }
        )
    return pd.DataFrame(rows)


def speedups(table: pd.DataFrame, baseline: str = "random") -> pd.DataFrame:
    """Speed-up of each rule versus ``baseline`` in steps and rollouts to target.

    ``speedup = mean_seeds(T_baseline) / mean_seeds(T_rule)`` (> 1: faster than the
    baseline), and the per-seed ratios ``T_baseline(s) / T_rule(s)`` over the seeds both
    ran (paired: same seed, same warm-up), summarised by their mean, min and max.
    """
    if baseline not in set(table["rule"]):
        raise ValueError(f"baseline rule {baseline!r} is not in the table")
    base = table[table["rule"] == baseline].set_index("seed")
    rows = []
    for rule, sub in table.groupby("rule", sort=True):
        sub = sub.set_index("seed")
        common = sub.index.intersection(base.index)
        row = {
            "rule": rule,
            "seeds": int(len(sub)),
            "censored": int(sub["censored"].sum()),
            "steps_mean": float(sub["steps_to_target"].mean()),
            "steps_sd": float(sub["steps_to_target"].std(ddof=1)) if len(sub) > 1 else np.nan,
        }
        for unit in ("steps", "rollouts"):
            col = f"{unit}_to_target"
            ratio = base.loc[common, col] / sub.loc[common, col].clip(lower=1)
            row[f"{unit}_speedup"] = float(base[col].mean() / max(sub[col].mean(), 1.0))
            row[f"{unit}_speedup_seed_mean"] = float(ratio.mean()) if len(ratio) else np.nan
            row[f"{unit}_speedup_seed_min"] = float(ratio.min()) if len(ratio) else np.nan
            row[f"{unit}_speedup_seed_max"] = float(ratio.max()) if len(ratio) else np.nan
        rows.append(row)
    return pd.DataFrame(rows)
