"""The per-prompt information table: predicted information against realised learning.

:func:`prompt_information` joins each chosen prompt's *predicted* information at the
time it was chosen (weighted mutual information, mutual information, expected variance
reduction, all from its Beta belief before the update) with what *followed*: its own
success rate at its next visit, and the held-out gain of the step that trained on it.
It reads the ``choices`` and ``steps`` tables of :mod:`insight_bayes.results.schema`,
from a sweep kept with ``--choices`` or from a harness study.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from insight_bayes.acquisition import PAPER_ETA, PAPER_MU, wmi_score
from insight_bayes.beta import expected_variance_reduction, mutual_information
from insight_bayes.validation import check_int

__all__ = ["prompt_information"]


def _run(df: pd.DataFrame) -> list[str]:
    return [c for c in ("scenario", "rule", "seed") if c in df.columns]


def prompt_information(
    choices: pd.DataFrame,
    steps: pd.DataFrame,
    k: int,
    *,
    mu: float = PAPER_MU,
    eta: float = PAPER_ETA,
    pool: pd.DataFrame | None = None,
    metric: str = "eval/pass1",
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
    metric : str
        Held-out metric of ``interval_pass1_gain`` (``eval/pass1`` in the harness).

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
    df = df.sort_values([*_run(df), "prompt_id", "step"])
    grouped = df.groupby([*_run(df), "prompt_id"], sort=False)
    df["next_step"] = grouped["step"].shift(-1)
    df["next_success_rate"] = grouped["success_rate"].shift(-1)
    df["success_gain"] = df["next_success_rate"] - df["success_rate"]

    step_cols = [*[c for c in _run(df) if c in steps.columns], "step"]
    extra = steps[step_cols].copy()
    if "eval/answer_logprob_gain" in steps:
        extra["step_logprob_gain"] = steps["eval/answer_logprob_gain"].to_numpy()
    else:
        extra["step_logprob_gain"] = np.nan
    extra["interval_pass1_gain"] = _interval_gain(steps, metric)
    df = df.merge(extra, on=step_cols, how="left")
    if pool is not None:
        df = df.merge(pool, on="prompt_id", how="left", suffixes=("", "_pool"))
    return df.sort_values([*_run(df), "step", "rank"]).reset_index(drop=True)


def _interval_gain(steps: pd.DataFrame, metric: str) -> np.ndarray:
    """For each step, ``metric`` at the next evaluation minus at the previous one."""
    out = np.full(len(steps), np.nan)
    if metric not in steps:
        return out
    for _, idx in steps.groupby(_run(steps)).groups.items():
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
