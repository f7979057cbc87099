r"""The measured learner's structure, fitted once from the harness's gradient measurements.

What ``results/rlvr-gradients`` (and ``results/rlvr-gradients-k``)
measured on the GRPO harness is turned into the tables and constants of the measured
learner (:mod:`simulations.environments.learning`, ``learner="measured"``). Nothing here
reads a selective rule: the measurements are of single groups at checkpoints of Random
runs, and the one study-level constant (the coherent share) is read from Random's steps.

What is fitted
--------------
:func:`fit_structure`, on bands of the checkpoint's exact success rate ``p``, at
checkpoints after step 0, on mixed groups only unless said:

* ``group_energy``: per band, the mean squared gradient norm of a mixed group,
  ``mean ||g||^2`` (harness units, before clipping) at its median ``p``; its ``K``
  exponent ``a_e`` from the pooled means at ``K = 4, 8, 16``:
  ``log mean ||g||^2 = c - a_e log K`` (least squares).
* ``update_noise``: per band, the noise-to-signal of a mixed group's first-order
  held-out effect ``h = grad J . dtheta`` over replicate rollouts of one prompt,
  pooled as in the harness summary, ``sum_i s_i^2 / sum_i (hbar_i^2 - s_i^2 / R_i)``
  (prompts with at least two mixed replicates); its ``K`` exponent ``a_n`` likewise
  from ``K = 4, 8, 16`` (set to 1 when that fit is not positive).
* ``signal_weight``: per band, the mean held-out effect of a mixed group over the
  score-function signal the simulator gives it, ``E[std(r) | mixed, p, K]``
  (:func:`mixed_signal`), normalised to mean 1 over the bands (prompt-weighted).
* ``own_tier_share`` and ``transfer``: the share of a mixed group's held-out effect on
  its own tier (ratio of sums, test-count weighted, as the harness summary), and the
  ``transfer`` of :class:`~simulations.environments.LearningConfig`'s
  ``T = (1 - tau) I + tau 11^T / G`` whose first-order shares
  ``w_i s_i T_ii / sum_t w_t s_t T_ti`` (``w``: test shares, ``s_t = J_t (1 - J_t)``)
  match them best (least squares over ``tau`` in [0, 1]).
* ``memorization_logit_ratio`` ``R``: own-prompt logit step over the mean held-out logit
  step, ``sum self / (p (1 - p))`` over ``sum heldout / sum_t w_t J_t (1 - J_t)``.
  The study's ``memorization_rate`` follows from ``R``, ``tau`` and its ``G``
  (:func:`memorization_rate`).
* ``coherence`` ``c2``: from Random's steps of the given harness studies, the batch's
  squared gradient norm ``(M ||g_batch||)^2 = alpha n + beta n^2`` over its ``n`` mixed
  groups (least squares without intercept), ``c2 = beta / (alpha + beta)``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

__all__ = [
    "BAND_EDGES",
    "fit_structure",
    "learner_settings",
    "load_structure",
    "memorization_rate",
    "mixed_signal",
    "random_coherence",
    "write_structure",
]

#: Success-rate bands of the measurement (those of :mod:`insight_bayes.rlvr.gradients`).
BAND_EDGES = (-0.001, 0.02, 0.15, 0.35, 0.6, 0.85, 1.0)

#: Fewest prompts (energy: groups) a band needs to enter a table.
MIN_BAND = 10


def mixed_signal(p: np.ndarray, k: int) -> np.ndarray:
    r"""The simulator's mean GRPO signal of a mixed group, ``E[std(r) | mixed, p, K]``.

    For clean binary rewards the score-function gradient with respect to the logit is
    the population standard deviation of the rewards,
    :math:`\sqrt{(s/K)(1 - s/K)}` at ``s`` successes
    (:func:`simulations.environments.learning.grpo_logit_gradient`); averaged over
    :math:`s \sim \mathrm{Binomial}(K, p)` restricted to ``0 < s < K``.
    """
    p = np.atleast_1d(np.asarray(p, dtype=np.float64))
    s = np.arange(1, k)
    pmf = stats.binom.pmf(s[None, :], k, p[:, None])
    value = np.sqrt(s / k * (1 - s / k))
    return (pmf * value).sum(axis=1) / np.maximum(pmf.sum(axis=1), 1e-300)


def _bands(p: pd.Series) -> pd.Series:
    return pd.cut(p, list(BAND_EDGES))


def _pooled_noise(groups: pd.DataFrame) -> pd.DataFrame:
    """Per (k, band): prompts, median rate and the pooled held-out noise-to-signal."""
    keys = ["draw", "checkpoint", "prompt_id", "k"]
    mixed = groups[groups["mixed"]]
    per = mixed.groupby(keys).agg(
        p=("p_hat", "first"), m=("heldout_effect", "mean"),
        s2=("heldout_effect", "var"), r=("heldout_effect", "size"),
    ).reset_index()  # fmt: skip
    per = per[per["r"] >= 2]
    per["sig2"] = per["m"] ** 2 - per["s2"] / per["r"]
    per["band"] = _bands(per["p"])
    rows = []
    for (k, band), d in per.groupby(["k", "band"], observed=True):
        den = d["sig2"].sum()
        nts = d["s2"].sum() / den if den > 0 else np.nan
        rows.append({"k": k, "band": str(band), "prompts": len(d), "p": d["p"].median(),
                     "nts": nts})  # fmt: skip
    return pd.DataFrame(rows)


def _k_exponent(k: np.ndarray, value: np.ndarray) -> float:
    """``a`` of ``value ~ K^-a`` by least squares on the logs."""
    ok = np.isfinite(value) & (value > 0)
    if ok.sum() < 2 or np.unique(k[ok]).size < 2:
        return float("nan")
    slope = np.polyfit(np.log(k[ok]), np.log(value[ok]), 1)[0]
    return float(-slope)


def random_coherence(folders: Sequence[str | Path]) -> dict[str, float]:
    """``c2`` from Random's batch gradient norms (see the module docstring).

    Parameters
    ----------
    folders : sequence of path
        Harness study folders (``steps.parquet`` with ``train/grad_norm``,
        ``informative_share``, ``m``); Random's rows (``step > 0``) are pooled.

    Returns
    -------
    dict
        ``coherence``, ``alpha``, ``beta``, ``steps`` (rows used).
    """
    parts = []
    for folder in folders:
        steps = pd.read_parquet(Path(folder) / "steps.parquet")
        steps = steps[(steps["rule"] == "random") & (steps["step"] > 0)]
        parts.append(steps[["train/grad_norm", "informative_share", "m"]].dropna())
    rows = pd.concat(parts)
    n = (rows["informative_share"] * rows["m"]).to_numpy(np.float64)
    y = ((rows["train/grad_norm"] * rows["m"]) ** 2).to_numpy(np.float64)
    alpha, beta = np.linalg.lstsq(np.c_[n, n**2], y, rcond=None)[0]
    beta = max(float(beta), 0.0)
    return {"coherence": beta / (alpha + beta), "alpha": float(alpha), "beta": beta,
            "steps": int(n.size)}  # fmt: skip


def fit_structure(
    gradients: str | Path = "results/rlvr-gradients",
    gradients_k: str | Path | None = "results/rlvr-gradients-k",
    studies: Sequence[str | Path] = (),
    *,
    reference_k: int = 8,
) -> dict[str, Any]:
    """Fit the measured learner's structure (module docstring) and return it as a dict.

    Parameters
    ----------
    gradients : path
        ``rlvr-gradients`` folder (``groups.parquet``, ``effects.parquet``,
        ``checkpoints.csv``) at ``K = reference_k``.
    gradients_k : path, optional
        A folder of the same measurement at other ``K`` (the ``K`` exponents).
    studies : sequence of path
        Harness studies whose Random steps give ``coherence`` (0 when none).
    reference_k : int
        The ``K`` of the tables.
    """
    gradients = Path(gradients)
    groups = pd.read_parquet(gradients / "groups.parquet")
    checkpoints = pd.read_csv(gradients / "checkpoints.csv")
    later = groups[(groups["checkpoint"] > 0) & (groups["k"] == reference_k)]
    mixed = later[later["mixed"]].copy()
    mixed["band"] = _bands(mixed["p_hat"])

    # the energy table
    energy_rows = []
    for _band, d in mixed.groupby("band", observed=True):
        if len(d) >= MIN_BAND:
            energy_rows.append((float(d["p_hat"].median()), float((d["grad_norm"] ** 2).mean())))
    # the held-out noise and signal tables
    noise = _pooled_noise(later)
    noise = noise[(noise["prompts"] >= MIN_BAND) & (noise["nts"] > 0)]
    noise_rows = [(float(r.p), float(r.nts)) for r in noise.itertuples()]
    signal = mixed.groupby("band", observed=True).agg(
        p=("p_hat", "median"), h=("heldout_effect", "mean"), n=("heldout_effect", "size")
    )
    signal = signal[(signal["n"] >= MIN_BAND) & (signal["h"] > 0)]
    sim = np.array([mixed_signal(np.array([p]), reference_k)[0] for p in signal["p"]])
    ratio = signal["h"].to_numpy() / sim
    ratio = ratio / np.average(ratio, weights=signal["n"].to_numpy())
    signal_rows = [(float(p), float(r)) for p, r in zip(signal["p"], ratio, strict=True)]

    # K exponents
    a_e = a_n = float("nan")
    if gradients_k is not None and Path(gradients_k).exists():
        gk = pd.read_parquet(Path(gradients_k) / "groups.parquet")
        cps = set(gk["checkpoint"].unique())
        base = groups[(groups["draw"].isin(gk["draw"].unique())) & groups["checkpoint"].isin(cps)]
        both = pd.concat([gk, base])
        both = both[both["mixed"]]
        e_by_k = both.groupby("k")["grad_norm"].apply(lambda x: float((x**2).mean()))
        a_e = _k_exponent(e_by_k.index.to_numpy(np.float64), e_by_k.to_numpy())
        both_all = pd.concat([gk, base])
        nk = _pooled_noise(both_all.assign(p_hat=both_all["p_hat"]))
        nk = nk[(nk["p"] > BAND_EDGES[1]) & (nk["p"] < BAND_EDGES[-2])]
        pooled = nk.groupby("k")["nts"].median()
        a_n = _k_exponent(pooled.index.to_numpy(np.float64), pooled.to_numpy())
    if not np.isfinite(a_e):
        a_e = 0.5
    if not (np.isfinite(a_n) and a_n > 0):
        a_n = 1.0

    # transfer and memorisation
    n_test = checkpoints.groupby("target_tier")["n_test"].first()
    w = n_test / n_test.sum()
    j = checkpoints[checkpoints["checkpoint"] > 0].groupby("target_tier")["J"].mean()
    slope = (j * (1 - j)).reindex(w.index).fillna(0.0)
    effects = pd.read_parquet(gradients / "effects.parquet")
    keys = ["draw", "checkpoint", "prompt_id", "k", "replicate"]
    eff = effects.merge(mixed[keys], on=keys)
    eff = eff.join(w.rename("w"), on="target_tier")
    own = eff[eff["target_tier"] == eff["tier"]]
    own_sum = (own["effect"] * own["w"]).groupby(own["tier"]).sum()
    all_sum = mixed.groupby("tier")["heldout_effect"].sum()
    share = (own_sum / all_sum).dropna()
    share = share[(all_sum.reindex(share.index) > 0) & (share > 0) & (share < 1)]
    tiers = w.index.to_numpy()
    g = tiers.size

    def predicted(tau: float) -> np.ndarray:
        out = []
        for tier in share.index:
            col = tau / g + (1 - tau) * (tiers == tier)
            total = np.sum(w.to_numpy() * slope.to_numpy() * col)
            own_part = w[tier] * slope[tier] * (tau / g + 1 - tau)
            out.append(own_part / total if total > 0 else np.nan)
        return np.asarray(out)

    grid = np.linspace(0.0, 1.0, 201)
    errors = [np.nansum((predicted(t) - share.to_numpy()) ** 2) for t in grid]
    tau = float(grid[int(np.argmin(errors))])
    slope_h = float(np.sum(w.to_numpy() * slope.to_numpy()))
    p = mixed["p_hat"].to_numpy()
    own_logit = np.sum(mixed["self_effect"].to_numpy() / np.maximum(p * (1 - p), 1e-6))
    held_logit = np.sum(mixed["heldout_effect"].to_numpy()) / slope_h
    ratio_logit = float(own_logit / held_logit)

    coherence = random_coherence(studies) if studies else {"coherence": 0.0}
    return {
        "reference_k": reference_k,
        "group_energy": energy_rows,
        "energy_k_exponent": a_e,
        "update_noise": noise_rows,
        "noise_k_exponent": a_n,
        "signal_weight": signal_rows,
        "own_tier_share": {str(k): float(v) for k, v in share.items()},
        "transfer": tau,
        "memorization_logit_ratio": ratio_logit,
        "coherence": float(coherence["coherence"]),
        "coherence_fit": coherence,
        "sources": {
            "gradients": str(gradients),
            "gradients_k": str(gradients_k),
            "studies": [str(s) for s in studies],
        },  # fmt: skip
    }


def memorization_rate(structure: dict[str, Any], n_groups: int) -> float:
    r"""The simulator's ``memorization_rate`` for ``G = n_groups`` skill groups.

    A group's unit step moves its own prompt's logit by ``T_ii + mem`` and the mean
    held-out logit by ``1 / G`` (``T`` is doubly stochastic and held-out prompts spread
    over the groups), so the measured ratio ``R`` gives
    :math:`\mathrm{mem} = R / G - T_{ii}`, ``T_ii = 1 - tau + tau / G`` (floored at 0).
    """
    tau = float(structure["transfer"])
    t_ii = 1.0 - tau + tau / n_groups
    return max(float(structure["memorization_logit_ratio"]) / n_groups - t_ii, 0.0)


def learner_settings(structure: dict[str, Any], n_groups: int) -> dict[str, Any]:
    """The :class:`~simulations.environments.LearningConfig` fields the structure sets."""
    return {
        "learner": "measured",
        "measured_optimizer": "shared",
        "group_energy": tuple(tuple(r) for r in structure["group_energy"]),
        "energy_k_exponent": float(structure["energy_k_exponent"]),
        "update_noise": tuple(tuple(r) for r in structure["update_noise"]),
        "noise_k_exponent": float(structure["noise_k_exponent"]),
        "signal_weight": tuple(tuple(r) for r in structure["signal_weight"]),
        "table_reference_k": int(structure["reference_k"]),
        "coherence": float(structure["coherence"]),
        "transfer": float(structure["transfer"]),
        "memorization_rate": memorization_rate(structure, n_groups),
        "memorize_through_optimizer": True,
    }


def write_structure(structure: dict[str, Any], path: str | Path) -> Path:
    """Write ``structure`` as JSON (atomically) and return the path."""
    from insight_bayes.results.io import atomic_write_bytes

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, json.dumps(structure, indent=2).encode())
    return path


def load_structure(path: str | Path) -> dict[str, Any]:
    """Read a structure written by :func:`write_structure`."""
    return json.loads(Path(path).read_text())
