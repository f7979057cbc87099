r"""A causal test of InSight's two terms: batches that vary one term while the other is held.

Does a batch whose prompts carry more *evidence* (the mutual information of Eq. 13 at the
belief, :func:`insight_bayes.beta.mutual_information`) teach the policy more, at a fixed
*difficulty weight* (Eq. 15, :func:`insight_bayes.acquisition.difficulty_weight`), and
the reverse? At checkpoints of Random runs of the harness (the study's GRPO settings,
:func:`insight_bayes.rlvr.checkpoint_probe.random_checkpoints`), for every task draw and run:

1. **Terms.** Each pool prompt's weight ``w_i`` and evidence term ``I_i`` at the Random
   run's belief, under two priors: ``flat`` (the run's own ``Beta(1, 1)`` belief) and
   ``eb`` (the same counts under the empirical-Bayes prior of
   :mod:`insight_bayes.beliefs.prior`, per digit tier with partial pooling, fitted to all counts
   so far: ``alpha_i = a0[tier_i] + S_i``, ``beta_i = b0[tier_i] + F_i``).
2. **Strata** (:func:`stratified_batches`). For each prior, two families of batches of
   ``M`` prompts. ``vary-evidence``: the pool is cut into ``strata`` equal bins of the
   weight (ranked, ties at random), each bin into ``levels`` equal bins of the evidence
   term, and one batch is drawn uniformly from each cell: within a weight stratum the
   batches differ in evidence. ``vary-weight``: the same with the roles swapped. Plus
   ``controls`` uniform batches (family ``uniform``): the batches Random itself trains on,
   the control arm the others are compared with.
3. **The update as training applies it** (:func:`measure_batches`). Each batch is rolled
   out once (``K`` completions per prompt, from the checkpoint's policy); its GRPO
   gradient ``g`` over the whole batch
   (:func:`~insight_bayes.rlvr.applied_update.batch_gradient`) is clipped to ``max_grad_norm``
   and passed through one AdamW step from the checkpoint's own moments
   (:func:`~insight_bayes.rlvr.applied_update.adamw_delta`); the batch's update is that step
   minus the step with a zero gradient (the drift, the same for every batch):
   :math:`\Delta\theta_b = \Delta\theta(\operatorname{clip}(g_b)) - \Delta\theta(0)`.
4. **Effect.** :math:`y_b = \nabla J \cdot \Delta\theta_b` with ``J`` the exact held-out
   pass@1 (``eval/pass1_exact``, probability scale, all test problems), checked against
   the actual change ``J(θ + Δθ_b) - J(θ)`` on the first ``check_batches`` batches of a
   checkpoint.

Checkpoint 0 is refused: every belief is then the prior, so both terms are the same for
every prompt and no batch can differ in either (the old test's "quintiles" there were
random batches). The analysis is :mod:`insight_bayes.analysis.causal_slopes`.

Table (one row per (draw, seed, checkpoint, prior, family, stratum, level, batch)):
``prior`` (``flat``, ``eb``; ``none`` for the uniform control), ``family``
(``vary-evidence``, ``vary-weight``, ``uniform``), ``stratum``, ``level`` (0 lowest; -1
for the control), ``batch`` (index within the checkpoint); for both priors ``P``:
``log_weight_P`` and ``log_mi_P`` (logs of the batch means of ``w`` and ``I``, nats),
``mean_belief_P``, ``mean_evidence_P`` (``alpha + beta``); ``seen_share`` (prompts
already trained on), ``mixed_share`` (groups with mixed binary rewards), ``grad_norm``,
``clipped``, ``update_norm``, ``effect`` (``∇J · Δθ_b``), ``grad_effect`` (``∇J · g``, the
plain gradient's, for comparison with the old test), ``actual`` (NaN when not checked),
``drift_effect`` (``∇J · Δθ(0)``, per checkpoint), ``J``, ``lr``, ``adam_step``.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from insight_bayes.validation import check_int

__all__ = [
    "FAMILIES",
    "PRIORS",
    "belief_terms",
    "design_batches",
    "measure_batches",
    "run_intervention",
    "stratified_batches",
]

log = logging.getLogger(__name__)

#: The priors under which the terms are computed.
PRIORS: tuple[str, ...] = ("flat", "eb")
#: Batch families: which term varies within a stratum of the other; and the control.
FAMILIES: tuple[str, ...] = ("vary-evidence", "vary-weight", "uniform")


# ----------------------------------------------------------------------------- terms
def belief_terms(
    alpha: np.ndarray,
    beta: np.ndarray,
    k: int,
    groups: np.ndarray,
    *,
    alpha0: float = 1.0,
    beta0: float = 1.0,
) -> dict[str, dict[str, np.ndarray]]:
    """Each prompt's weight (Eq. 15) and evidence term (Eq. 13) under both priors.

    Parameters
    ----------
    alpha, beta : ndarray, shape (N,)
        A belief with the fixed prior ``Beta(alpha0, beta0)`` (Random's), so that its
        counts are ``S = alpha - alpha0`` and ``F = beta - beta0``.
    k : int
        Group size (the ``K`` of the mutual information).
    groups : ndarray of int, shape (N,)
        Feature group of each prompt (the digit tier): the empirical-Bayes prior is fitted
        per group with partial pooling (:class:`insight_bayes.beliefs.prior.EmpiricalBayesPrior`).

    Returns
    -------
    dict
        ``{prior: {"alpha", "beta", "weight", "mi"}}`` for ``prior`` in :data:`PRIORS`.
    """
    from insight_bayes import difficulty_weight, mutual_information
    from insight_bayes.beliefs.prior import EmpiricalBayesPrior

    alpha = np.asarray(alpha, dtype=np.float64)
    beta = np.asarray(beta, dtype=np.float64)
    groups = np.asarray(groups, dtype=np.int64)
    S, F = alpha - alpha0, beta - beta0
    prior = EmpiricalBayesPrior(alpha.size, groups - groups.min())
    prior.refit(S, F)
    a0, b0 = prior.alpha_beta()
    out = {}
    for name, (a, b) in (("flat", (alpha, beta)), ("eb", (a0 + S, b0 + F))):
        out[name] = {
            "alpha": a,
            "beta": b,
            "weight": np.asarray(difficulty_weight(a / (a + b)), dtype=np.float64),
            "mi": np.asarray(mutual_information(a, b, k), dtype=np.float64),
        }
    return out


# ----------------------------------------------------------------------------- design
def _ranked_bins(values: np.ndarray, members: np.ndarray, n: int, rng) -> list[np.ndarray]:
    """``members`` cut into ``n`` equal bins of ``values`` (ascending; ties at random)."""
    order = np.lexsort((rng.random(members.size), values[members]))
    return np.array_split(members[order], n)


def stratified_batches(
    held: np.ndarray,
    varied: np.ndarray,
    m: int,
    rng: np.random.Generator,
    *,
    strata: int = 4,
    levels: int = 3,
) -> list[tuple[int, int, np.ndarray]]:
    """Batches that vary one term within strata of another (the design of the module).

    The pool is ranked by ``held`` (ties at random) and cut into ``strata`` bins of equal
    size; each stratum is ranked by ``varied`` and cut into ``levels`` bins; from each
    (stratum, level) cell ``m`` distinct prompts are drawn uniformly.

    Returns
    -------
    list of (stratum, level, ids)
        ``strata * levels`` batches, stratum-major; ``ids`` sorted.

    Raises
    ------
    ValueError
        A cell holds fewer than ``m`` prompts.
    """
    held = np.asarray(held, dtype=np.float64)
    varied = np.asarray(varied, dtype=np.float64)
    if held.shape != varied.shape or held.ndim != 1:
        raise ValueError("held and varied must be 1-d arrays of one length")
    m = check_int(m, "m", min_value=1)
    strata = check_int(strata, "strata", min_value=1)
    levels = check_int(levels, "levels", min_value=1)
    if held.size // (strata * levels) < m:
        raise ValueError(
            f"{held.size} prompts make cells of {held.size // (strata * levels)} for "
            f"{strata} strata x {levels} levels; each needs m={m}"
        )
    out = []
    for s, stratum in enumerate(_ranked_bins(held, np.arange(held.size), strata, rng)):
        for lev, cell in enumerate(_ranked_bins(varied, stratum, levels, rng)):
            out.append((s, lev, np.sort(rng.choice(cell, size=m, replace=False))))
    return out


def design_batches(
    terms: dict[str, dict[str, np.ndarray]],
    m: int,
    rng: np.random.Generator,
    *,
    strata: int = 4,
    levels: int = 3,
    controls: int = 4,
) -> list[dict[str, Any]]:
    """Every batch of one checkpoint: both families under each prior, and the controls.

    Strata are cut on the logs of the terms (the same ranks as the terms themselves).
    Returns dicts with ``prior``, ``family``, ``stratum``, ``level``, ``ids``.
    """
    n = next(iter(terms.values()))["weight"].size
    batches = []
    for prior, t in terms.items():
        for family, held, varied in (
            ("vary-evidence", t["weight"], t["mi"]),
            ("vary-weight", t["mi"], t["weight"]),
        ):
            for s, lev, ids in stratified_batches(
                np.log(held), np.log(varied), m, rng, strata=strata, levels=levels
            ):
                batches.append(
                    {"prior": prior, "family": family, "stratum": s, "level": lev, "ids": ids}
                )
    for _ in range(check_int(controls, "controls", min_value=0)):
        ids = np.sort(rng.choice(n, size=m, replace=False))
        batches.append({"prior": "none", "family": "uniform", "stratum": -1, "level": -1,
                        "ids": ids})  # fmt: skip
    return batches


def batch_terms(terms: dict[str, dict[str, np.ndarray]], ids: np.ndarray) -> dict[str, float]:
    """The batch's regressors under every prior: logs of the batch means of ``w`` and ``I``."""
    row = {}
    for prior, t in terms.items():
        a, b = t["alpha"][ids], t["beta"][ids]
        row[f"log_weight_{prior}"] = float(np.log(t["weight"][ids].mean()))
        row[f"log_mi_{prior}"] = float(np.log(t["mi"][ids].mean()))
        row[f"mean_belief_{prior}"] = float((a / (a + b)).mean())
        row[f"mean_evidence_{prior}"] = float((a + b).mean())
    return row


# ----------------------------------------------------------------------------- measuring
def measure_batches(
    env,
    optimizer_state: dict[str, Any],
    batches: Sequence[dict[str, Any]],
    *,
    k: int,
    rng: np.random.Generator,
    check_batches: int = 2,
    progress: bool = False,
) -> list[dict[str, Any]]:
    """The first-order held-out effect of each batch's update as AdamW applies it.

    ``env`` holds the checkpoint's weights (restored after every check); see the module
    docstring for the update and the effect. Returns one dict per batch (``ids`` dropped;
    ``batch`` its index) with ``mixed_share``, ``grad_norm``, ``clipped``,
    ``update_norm``, ``effect``, ``grad_effect``, ``actual``, ``drift_effect``, ``J``,
    ``lr``, ``adam_step``.
    """
    from tqdm.auto import tqdm

    from insight_bayes.rlvr.applied_update import (
        _flat,
        _params,
        _tier_gradients,
        adamw_delta,
        batch_gradient,
        clip_gradient,
    )
    from insight_bayes.rlvr.checkpoint_probe import exact_success, set_weights

    params = _params(env)
    test_tiers = np.array([p.features["digits"] for p in env.test], dtype=np.int64)
    tier_list = [int(t) for t in np.unique(test_tiers)]
    shares = np.array([(test_tiers == t).mean() for t in tier_list])
    grad_tiers = _tier_gradients(env, test_tiers)
    grad_J = sum(float(w) * grad_tiers[t] for w, t in zip(shares, tier_list, strict=True))
    test_p = exact_success(env, "test")
    base = [p.detach().clone() for p in params]
    zero = [torch.zeros_like(p) for p in params]
    drift = _flat(adamw_delta(params, zero, optimizer_state)).double()
    group = optimizer_state["param_groups"][0]
    first = optimizer_state["state"].get(group["params"][0]) if optimizer_state["state"] else None
    common = {
        "drift_effect": float(grad_J @ drift),
        "J": float(test_p.mean()),
        "lr": float(group["lr"]),
        "adam_step": int(float(first["step"])) if first else 0,
    }
    rows = []
    for index, spec in enumerate(tqdm(batches, desc="batches", disable=not progress)):
        ids = np.asarray(spec["ids"], dtype=np.int64)
        rollout = env.rollout(ids, int(k), rng)
        g = batch_gradient(env, ids, rollout)
        clipped, gnorm, fired = clip_gradient(g, env.grpo.max_grad_norm)
        delta = _flat(adamw_delta(params, clipped, optimizer_state)).double() - drift
        actual = float("nan")
        if not bool(torch.any(delta != 0)):
            actual = 0.0
        elif index < check_batches:
            set_weights(params, base, delta)
            try:
                actual = float(exact_success(env, "test").mean() - test_p.mean())
            finally:
                set_weights(params, base, None)
        successes = rollout.correct.sum(axis=1)
        rows.append(
            {
                **{key: v for key, v in spec.items() if key != "ids"},
                "batch": index,
                "mixed_share": float(((successes > 0) & (successes < k)).mean()),
                "grad_norm": gnorm,
                "clipped": fired,
                "update_norm": float(delta.norm()),
                "effect": float(grad_J @ delta),
                "grad_effect": float(grad_J @ _flat(g).double()),
                "actual": actual,
                **common,
            }
        )
    return rows


# ----------------------------------------------------------------------------- the study
def _part(root: Path, draw: int, seed: int, checkpoint: int) -> tuple[Path, Path]:
    base = root / "runs" / f"draw-{draw:04d}" / f"seed-{seed:04d}"
    stem = f"checkpoint-{checkpoint:05d}"
    return base / f"{stem}.batches.parquet", base / f"{stem}.done.json"


def is_done(root: str | os.PathLike[str], draw: int, seed: int, checkpoint: int) -> bool:
    """Whether (draw, seed, checkpoint) finished: its marker parses and names its file size."""
    table, marker = _part(Path(root), draw, seed, checkpoint)
    try:
        size = json.loads(marker.read_text())["size"]
    except (OSError, ValueError, KeyError):
        return False
    return table.exists() and table.stat().st_size == size


def check_checkpoints(checkpoints: Sequence[int]) -> tuple[int, ...]:
    """Sorted distinct checkpoints, all > 0 (checkpoint 0 is refused; see the module)."""
    out = tuple(sorted({check_int(c, "checkpoint", min_value=0) for c in checkpoints}))
    if not out or out[0] == 0:
        raise ValueError(
            "checkpoint 0 cannot carry this test: every belief is the prior there, so the "
            "weight and the evidence term are the same for every prompt and no batch can "
            "vary either; give checkpoints > 0"
        )
    return out


def run_intervention(
    raw: dict[str, Any],
    out: str | os.PathLike[str],
    *,
    draws: Sequence[int] = (0, 1, 2),
    seeds: Sequence[int] = (0, 1, 2),
    checkpoints: Sequence[int] = (25, 50),
    strata: int = 4,
    levels: int = 3,
    controls: int = 4,
    check_batches: int = 2,
    device: str = "cpu",
    cache_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
    runs_per_process: int | None = None,
) -> pd.DataFrame:
    """Every (draw, Random seed, checkpoint) of the design; write parts; return all batches.

    For each task draw (:meth:`~insight_bayes.rlvr.config.StudyConfig.draw_config`) with
    work left the harness is built once; Random runs for each (draw, seed)
    (:func:`~insight_bayes.rlvr.checkpoint_probe.iter_checkpoints`: one at a time, or
    ``runs_per_process`` runs, of any draws, as one batched block; default
    :func:`~insight_bayes.rlvr.study_jobs.default_runs_per_process`: every run on CUDA,
    blocks of up to 8 on CPU) and at each checkpoint a separate environment with the
    checkpoint's weights measures the batches of :func:`design_batches` (random numbers
    from ``(seed, draw, checkpoint)``). Finished parts (``runs/``) are skipped, so a killed
    job resumes; ``batches.parquet`` gathers them.
    """
    from insight_bayes.results.io import (
        atomic_write_json,
        atomic_write_parquet,
        remove_stale_temporaries,
    )
    from insight_bayes.rlvr.checkpoint_probe import iter_checkpoints
    from insight_bayes.rlvr.config import load_config
    from insight_bayes.rlvr.harness import harness_for
    from insight_bayes.rlvr.study_jobs import default_runs_per_process

    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(root)
    checkpoints = check_checkpoints(checkpoints)
    jobs = {
        (d, s): [c for c in checkpoints if not is_done(root, d, s, c)] for d in draws for s in seeds
    }
    harnesses = {
        d: harness_for(load_config(raw).draw_config(d), device, cache_dir, progress)
        for d in draws
        if any(jobs[(d, s)] for s in seeds)
    }
    probes: dict[int, tuple] = {}  # draw -> its probe environment and prompts' tiers
    per_block = runs_per_process or default_runs_per_process(
        device, sum(1 for c in jobs.values() if c)
    )
    for d, s, step, weights, opt_state, belief in iter_checkpoints(
        harnesses, jobs, per_block, progress
    ):
        if d not in probes:
            probe = harnesses[d].environment()
            tiers = np.array([p.features["digits"] for p in probe.pool], dtype=np.int64)
            probes[d] = probe, tiers
        probe, groups = probes[d]
        k, m = harnesses[d].config.loop.k, harnesses[d].config.loop.m
        started = time.perf_counter()
        probe.policy.model.load_state_dict(weights)
        terms = belief_terms(
            belief.alpha, belief.beta, k, groups,
            alpha0=belief.alpha0, beta0=belief.beta0,
        )  # fmt: skip
        rng = np.random.default_rng([s, d, step, 1811])
        batches = design_batches(terms, m, rng, strata=strata, levels=levels, controls=controls)
        rows = measure_batches(
            probe, opt_state, batches, k=k, rng=rng,
            check_batches=check_batches, progress=progress,
        )  # fmt: skip
        seen = belief.evidence > belief.alpha0 + belief.beta0
        for row, spec in zip(rows, batches, strict=True):
            row.update(batch_terms(terms, spec["ids"]))
            row["seen_share"] = float(seen[spec["ids"]].mean())
        table = pd.DataFrame(rows)
        table.insert(0, "checkpoint", step)
        table.insert(0, "seed", s)
        table.insert(0, "draw", d)
        table["seconds"] = time.perf_counter() - started
        path, marker = _part(root, d, s, step)
        size = atomic_write_parquet(path, table)
        atomic_write_json(marker, {"draw": d, "seed": s, "checkpoint": step,
                                   "size": size})  # fmt: skip
        log.info("draw %d seed %d checkpoint %d done", d, s, step)
    return gather(root, draws, seeds, checkpoints)


def gather(
    root: str | os.PathLike[str],
    draws: Sequence[int],
    seeds: Sequence[int],
    checkpoints: Sequence[int],
) -> pd.DataFrame:
    """The finished parts as one table, written to ``batches.parquet`` (empty if none)."""
    from insight_bayes.results.io import atomic_write_parquet

    root = Path(root)
    parts = [
        pd.read_parquet(_part(root, d, s, c)[0])
        for d in draws
        for s in seeds
        for c in checkpoints
        if is_done(root, d, s, c)
    ]
    if not parts:
        return pd.DataFrame()
    table = pd.concat(parts, ignore_index=True)
    atomic_write_parquet(root / "batches.parquet", table)
    return table
