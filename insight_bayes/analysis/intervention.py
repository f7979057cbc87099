"""Does predicted information rank a batch's realised first-order effect?

Reads the tidy table of :func:`insight_bayes.rlvr.intervention.run_intervention` (one row
per checkpoint, batch family, quintile and rollout replicate) and fits, for each measure
(``heldout``: the first-order change of exact held-out success; ``chosen``: of the chosen
prompts' exact success minus the unchosen prompts'):

.. math::
    y_{cbr} / s_c = a_c + \\sum_j \\beta_j z_{j,cb} + \\varepsilon_{cbr}

with a checkpoint intercept ``a_c``, the measure scaled by its standard deviation ``s_c``
within checkpoint (so checkpoints weigh alike), and ``z_j`` the batch's summed predicted
score ``j`` standardised over all batches. ``beta_j`` is the change of the effect, in
within-checkpoint standard deviations, per standard deviation of the predicted score.
Intervals: a bootstrap that resamples batches (with their replicates, which share the
same prompts) within each checkpoint. The hopeless batches (the control) are left out of
the fits and summarised apart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from insight_bayes.validation import RngLike, as_generator, check_int

__all__ = ["MODELS", "control_summary", "intervention_slopes", "quintile_means"]

#: Model name -> the summed predicted scores it regresses on.
MODELS: dict[str, tuple[str, ...]] = {
    "wmi": ("sum_wmi",),
    "mi only": ("sum_mi",),
    "weight only": ("sum_weight",),
    "both terms": ("sum_weight", "sum_mi"),
    "difficulty m(1-m)": ("sum_difficulty",),
    "evidence 1/(n+1)": ("sum_evidence",),
}


def _design(df: pd.DataFrame, predictors: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    dummies = pd.get_dummies(df["checkpoint"], prefix="cp", dtype=float)
    z = [(df[p] - df[p].mean()) / df[p].std(ddof=0) for p in predictors]
    x = np.column_stack([dummies.to_numpy(), *[v.to_numpy(float) for v in z]])
    return x, list(predictors)


def _scaled(df: pd.DataFrame, measure: str) -> np.ndarray:
    sd = df.groupby("checkpoint")[measure].transform(lambda v: v.std(ddof=0))
    return (df[measure] / sd.replace(0.0, np.nan)).to_numpy(float)


def _fit(df: pd.DataFrame, measure: str, predictors: Sequence[str]) -> np.ndarray:
    x, _ = _design(df, predictors)
    y = _scaled(df, measure)
    ok = np.isfinite(y) & np.all(np.isfinite(x), axis=1)
    if ok.sum() <= x.shape[1]:  # too few rows, or a score without variance: no estimate
        return np.full(len(predictors), np.nan)
    coef, *_ = np.linalg.lstsq(x[ok], y[ok], rcond=None)
    return coef[-len(predictors) :]


def intervention_slopes(
    effects: pd.DataFrame,
    *,
    measures: Sequence[str] = ("heldout", "chosen"),
    models: Mapping[str, Sequence[str]] = MODELS,
    n_boot: int = 1000,
    level: float = 0.95,
    rng: RngLike = 0,
) -> pd.DataFrame:
    """Standardised slopes of each measure on each model's predicted scores, with
    batch-cluster bootstrap intervals (see the module docstring).

    Returns one row per (measure, model, predictor): ``slope, ci_low, ci_high, n_rows,
    n_batches``.
    """
    n_boot = check_int(n_boot, "n_boot", min_value=100)
    gen = as_generator(rng)
    df = effects[effects["family"] != "hopeless"].reset_index(drop=True)
    if df.empty:
        raise ValueError("no batches besides the hopeless control")
    batch = df["checkpoint"].astype(str) + "/" + df["family"] + "/" + df["quintile"].astype(str)
    groups = {cp: np.unique(batch[df["checkpoint"] == cp]) for cp in df["checkpoint"].unique()}
    rows_of = {b: np.flatnonzero(batch.to_numpy() == b) for b in np.unique(batch)}
    tail = (1.0 - level) / 2.0
    out = []
    for measure in measures:
        for name, predictors in models.items():
            point = _fit(df, measure, predictors)
            boots = []
            for _ in range(n_boot):
                picked = np.concatenate(
                    [rows_of[b] for bs in groups.values() for b in gen.choice(bs, size=bs.size)]
                )
                boots.append(_fit(df.iloc[picked], measure, predictors))
            boots = np.asarray(boots)
            for j, predictor in enumerate(predictors):
                out.append(
                    {"measure": measure, "model": name, "predictor": predictor,
                     "slope": float(point[j]),
                     "ci_low": float(np.nanquantile(boots[:, j], tail)),
                     "ci_high": float(np.nanquantile(boots[:, j], 1 - tail)),
                     "n_rows": int(len(df)), "n_batches": int(len(rows_of))}
                )  # fmt: skip
    return pd.DataFrame(out)


def quintile_means(effects: pd.DataFrame, measure: str = "heldout") -> pd.DataFrame:
    """Mean and standard error of ``measure`` and the mixed share per (checkpoint,
    family, quintile), over replicates: the figure's points."""
    g = effects.groupby(["checkpoint", "family", "quintile"])
    out = g.agg(
        mean=(measure, "mean"),
        sd=(measure, "std"),
        n=(measure, "size"),
        mixed_share=("mixed_share", "mean"),
    ).reset_index()
    out["se"] = out["sd"] / np.sqrt(out["n"])
    return out.drop(columns=["sd"])


def control_summary(effects: pd.DataFrame) -> pd.DataFrame:
    """The hopeless control against the other batches, per checkpoint: mean mixed share
    and mean first-order effects (a design that measures the batch's own gradient gives
    the control about 0)."""
    kind = np.where(effects["family"] == "hopeless", "hopeless", "quintile batches")
    g = effects.assign(kind=kind).groupby(["checkpoint", "kind"])
    out = g.agg(
        mixed_share=("mixed_share", "mean"),
        heldout=("heldout", "mean"),
        heldout_sd=("heldout", "std"),
        chosen=("chosen", "mean"),
        n=("heldout", "size"),
    ).reset_index()
    return out
