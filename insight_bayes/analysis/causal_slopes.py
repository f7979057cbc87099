r"""The causal test's analysis: both terms' partial slopes in one model, on logs.

Reads the batch table of :func:`insight_bayes.rlvr.intervention.run_intervention` and
fits, for each prior ``P`` on the stratified batches designed under ``P``,

.. math::
    100\, y_b = a_{c(b)} + \beta_w \log \bar w_b^{P} + \beta_I \log \bar I_b^{P}
        + \varepsilon_b

with ``y_b`` the first-order change of exact held-out pass@1 of batch ``b``'s applied
update (so ``100 y`` is in percentage points), ``a_c`` one intercept per cell ``c`` =
(task draw, Random seed, checkpoint), and ``\bar w``, ``\bar I`` the batch means of the
difficulty weight (Eq. 15) and the evidence term (Eq. 13). ``beta_I`` is the change of
the held-out effect, in points, per e-fold of the evidence term at a fixed weight (the
partial effect); ``beta_w`` the reverse. OLS on the within-cell deviations
(:func:`within_slopes`).

- **Collinearity** (:func:`vif`): the variance inflation factor of each term, from the
  within-cell deviations (``1 / (1 - R^2)`` of a term on the others).
- **Intervals**: percentile intervals of a hierarchical bootstrap
  (:func:`hierarchical_bootstrap`): task draws resampled with replacement, Random seeds
  within each draw, batches within each (draw, seed, checkpoint) cell; and, narrower, a
  batch bootstrap (batches within cells only).
- **Placebo** (:func:`permutation_p`): the evidence term's slope when the evidence term
  is permuted across the batches of a cell (a regressor with no link to the batch's
  content, the weight kept): the two-sided share of permutations at least as far from 0
  as the observed slope (a permutation p-value).
- **Control arm** (:func:`arm_table`): each family's level means against the uniform
  batches of the same cell (the batches Random trains on).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from insight_bayes.validation import RngLike, as_generator, check_int

__all__ = [
    "CELL",
    "MODELS",
    "arm_table",
    "causal_slopes",
    "hierarchical_bootstrap",
    "permutation_p",
    "vif",
    "within_slopes",
]

#: The columns naming a cell (one intercept each).
CELL: tuple[str, ...] = ("draw", "seed", "checkpoint")
#: Model name -> the terms it regresses on (``{P}`` is the prior).
MODELS: dict[str, tuple[str, ...]] = {
    "both terms": ("log_weight_{P}", "log_mi_{P}"),
    "evidence only": ("log_mi_{P}",),
    "weight only": ("log_weight_{P}",),
}
#: The response: the applied update's first-order held-out effect, in points of pass@1.
SCALE = 100.0


def _demean(values: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """``values`` (n, p) minus their mean within each cell (``cells`` integer codes)."""
    n_cells = int(cells.max()) + 1 if cells.size else 0
    sums = np.zeros((n_cells, values.shape[1]))
    np.add.at(sums, cells, values)
    counts = np.bincount(cells, minlength=n_cells)[:, None]
    return values - (sums / np.maximum(counts, 1))[cells]


def within_slopes(y: np.ndarray, X: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """OLS slopes of ``y`` on the columns of ``X`` with one intercept per cell.

    By the Frisch-Waugh-Lovell theorem these are the slopes of the within-cell deviations
    of ``y`` on those of ``X``. NaN where the deviations are rank-deficient.
    """
    y = np.asarray(y, dtype=np.float64).reshape(-1, 1)
    X = np.asarray(X, dtype=np.float64).reshape(y.shape[0], -1)
    cells = np.asarray(cells, dtype=np.int64)
    Xd, yd = _demean(X, cells), _demean(y, cells)[:, 0]
    if np.linalg.matrix_rank(Xd) < Xd.shape[1]:
        return np.full(Xd.shape[1], np.nan)
    return np.linalg.lstsq(Xd, yd, rcond=None)[0]


def vif(X: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """Variance inflation factor of each column of ``X`` after the cell intercepts.

    ``1 / (1 - R_j^2)``, ``R_j^2`` of column ``j``'s within-cell deviations regressed on
    the others' (1 for a single column).
    """
    Xd = _demean(np.asarray(X, dtype=np.float64), np.asarray(cells, dtype=np.int64))
    out = np.ones(Xd.shape[1])
    for j in range(Xd.shape[1]):
        others = np.delete(Xd, j, axis=1)
        if others.shape[1] == 0:
            continue
        coef = np.linalg.lstsq(others, Xd[:, j], rcond=None)[0]
        resid = Xd[:, j] - others @ coef
        total = float(Xd[:, j] @ Xd[:, j])
        out[j] = total / float(resid @ resid) if resid @ resid > 0 else np.inf
    return out


def _codes(df: pd.DataFrame, cell: Sequence[str]) -> np.ndarray:
    return df.groupby(list(cell), sort=True).ngroup().to_numpy()


def hierarchical_bootstrap(
    df: pd.DataFrame,
    y: str,
    terms: Sequence[str],
    *,
    n_boot: int = 2000,
    rng: RngLike = 0,
    levels: Sequence[str] = ("draw", "seed"),
    cell: Sequence[str] = CELL,
) -> np.ndarray:
    """Bootstrap slopes, shape ``(n_boot, len(terms))``: resample ``levels`` nested, then
    batches within cells.

    Each replicate draws the first level's units with replacement, within each drawn unit
    the next level's, and so on; then, within each (drawn) cell, its rows with
    replacement. A unit drawn twice counts as two units (its cells get distinct
    intercepts). ``levels=()`` gives the batch bootstrap within cells.
    """
    gen = as_generator(rng)
    n_boot = check_int(n_boot, "n_boot", min_value=1)
    rows_by_cell = {key: g.index.to_numpy() for key, g in df.groupby(list(cell), sort=True)}
    Y = df[y].to_numpy(np.float64)
    X = df[list(terms)].to_numpy(np.float64)
    pos = {idx: i for i, idx in enumerate(df.index)}

    def expand(prefix: tuple, depth: int) -> list[tuple]:
        if depth == len(levels):
            return [prefix]
        known = sorted({key[depth] for key in rows_by_cell if key[:depth] == prefix})
        drawn = gen.choice(len(known), size=len(known), replace=True)
        out: list[tuple] = []
        for j in drawn:
            out += expand((*prefix, known[j]), depth + 1)
        return out

    out = np.empty((n_boot, len(terms)))
    for b in range(n_boot):
        picks, codes = [], []
        for u, prefix in enumerate(expand((), 0)):
            for c, key in enumerate(k for k in rows_by_cell if k[: len(prefix)] == prefix):
                members = rows_by_cell[key]
                picks.append(gen.choice(members, size=members.size, replace=True))
                codes.append(np.full(members.size, u * 10_000 + c))
        idx = np.array([pos[i] for i in np.concatenate(picks)])
        cells = np.unique(np.concatenate(codes), return_inverse=True)[1]
        out[b] = within_slopes(Y[idx], X[idx], cells)
    return out


def permutation_p(
    df: pd.DataFrame,
    y: str,
    terms: Sequence[str],
    permuted: str,
    *,
    n_perm: int = 2000,
    rng: RngLike = 0,
    cell: Sequence[str] = CELL,
) -> float:
    """Two-sided permutation p-value of ``permuted``'s slope (its values shuffled within
    cells, the other terms kept): ``(1 + #{|b*| >= |b|}) / (1 + n_perm)``."""
    gen = as_generator(rng)
    cells = _codes(df, cell)
    Y = df[y].to_numpy(np.float64)
    X = df[list(terms)].to_numpy(np.float64)
    j = list(terms).index(permuted)
    observed = abs(within_slopes(Y, X, cells)[j])
    groups = [np.flatnonzero(cells == c) for c in np.unique(cells)]
    hits = 0
    for _ in range(check_int(n_perm, "n_perm", min_value=1)):
        Xp = X.copy()
        for members in groups:
            Xp[members, j] = X[gen.permutation(members), j]
        hits += abs(within_slopes(Y, Xp, cells)[j]) >= observed
    return (1 + hits) / (1 + n_perm)


def causal_slopes(
    batches: pd.DataFrame,
    *,
    priors: Sequence[str] = ("flat", "eb"),
    n_boot: int = 2000,
    n_perm: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """The slopes table: one row per (prior, model, term).

    Each prior's models are fitted on the stratified batches designed under it (families
    ``vary-evidence`` and ``vary-weight``). Columns: ``prior``, ``model``, ``term``
    (``weight`` or ``evidence``), ``slope`` (points of held-out pass@1 per e-fold),
    ``ci_low``/``ci_high`` (hierarchical bootstrap, 95%), ``batch_ci_low``/``batch_ci_high``
    (batch bootstrap), ``vif``, ``placebo_p`` (permutation p-value of the term's slope;
    two-term model only), ``n_batches``, ``n_cells``, ``n_draws``, ``n_seeds``.
    """
    rows = []
    for prior in priors:
        df = batches[
            (batches["prior"] == prior) & batches["family"].isin(["vary-evidence", "vary-weight"])
        ].reset_index(drop=True)
        if df.empty:
            continue
        df = df.assign(y=SCALE * df["effect"])
        cells = _codes(df, CELL)
        for model, templates in MODELS.items():
            terms = [t.format(P=prior) for t in templates]
            X = df[terms].to_numpy(np.float64)
            slopes = within_slopes(df["y"].to_numpy(), X, cells)
            gen = np.random.default_rng([seed, len(rows)])
            hier = hierarchical_bootstrap(df, "y", terms, n_boot=n_boot, rng=gen)
            flat = hierarchical_bootstrap(df, "y", terms, n_boot=n_boot, rng=gen, levels=())
            inflation = vif(X, cells)
            for j, term in enumerate(terms):
                placebo = (
                    permutation_p(df, "y", terms, term, n_perm=n_perm, rng=gen)
                    if len(terms) > 1
                    else float("nan")
                )
                rows.append(
                    {
                        "prior": prior,
                        "model": model,
                        "term": "weight" if term.startswith("log_weight") else "evidence",
                        "slope": float(slopes[j]),
                        "ci_low": float(np.nanpercentile(hier[:, j], 2.5)),
                        "ci_high": float(np.nanpercentile(hier[:, j], 97.5)),
                        "batch_ci_low": float(np.nanpercentile(flat[:, j], 2.5)),
                        "batch_ci_high": float(np.nanpercentile(flat[:, j], 97.5)),
                        "vif": float(inflation[j]),
                        "placebo_p": placebo,
                        "n_batches": len(df),
                        "n_cells": int(cells.max()) + 1,
                        "n_draws": int(df["draw"].nunique()),
                        "n_seeds": int(df["seed"].nunique()),
                    }
                )
    return pd.DataFrame(rows)


def arm_table(batches: pd.DataFrame) -> pd.DataFrame:
    """Each (prior, family, level)'s mean effect and its difference from the uniform arm.

    Differences are taken within cells (the arm's mean minus the uniform batches' mean of
    the same draw, seed and checkpoint) and then averaged over cells; effects in points of
    held-out pass@1. Columns: ``prior``, ``family``, ``level``, ``batches``, ``effect``,
    ``vs_uniform``, ``mixed_share``, ``log_weight``, ``log_mi`` (the arm's prior's terms;
    the flat prior's for the uniform arm).
    """
    df = batches.assign(y=SCALE * batches["effect"])
    uniform = df[df["family"] == "uniform"].groupby(list(CELL))["y"].mean().rename("y_uniform")
    df = df.join(uniform, on=list(CELL))
    rows = []
    for (prior, family, level), g in df.groupby(["prior", "family", "level"], sort=True):
        p = "flat" if prior == "none" else prior
        per_cell = g.groupby(list(CELL)).agg(y=("y", "mean"), u=("y_uniform", "first"))
        rows.append(
            {
                "prior": prior,
                "family": family,
                "level": int(level),
                "batches": len(g),
                "effect": float(g["y"].mean()),
                "vs_uniform": float((per_cell["y"] - per_cell["u"]).mean()),
                "mixed_share": float(g["mixed_share"].mean()),
                "log_weight": float(g[f"log_weight_{p}"].mean()),
                "log_mi": float(g[f"log_mi_{p}"].mean()),
            }
        )
    return pd.DataFrame(rows)
