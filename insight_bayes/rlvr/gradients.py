r"""What one group's update does, as AdamW applies it: size, noise, transfer, memorisation.

At checkpoints of a Random run of the harness (the study's GRPO settings), the policy and
its AdamW state are copied and, without changing the run, probed with single groups:

1. **Prompts.** ``groups`` pool prompts spanning the success-rate range: the pool's exact
   success probability at the checkpoint, ``p_i`` (below), is cut into the bands of
   :data:`BAND_EDGES`, each band gets an equal share of the prompts (a band with too few
   prompts hands its share on), and within a band the prompts are drawn round-robin over
   the digit tiers present in it (:func:`stratified_prompts`).
2. **Rollouts.** ``replicates`` independent groups of ``K`` completions of each prompt
   (for every ``K`` asked for), sampled from the checkpoint's policy.
3. **The group's gradient** ``g``: the harness's clipped GRPO loss
   (:func:`insight_bayes.rlvr.grpo.clipped_policy_loss`, ratio 1 at the update as with
   ``updates_per_step = 1``; the KL term when ``kl_coef > 0``) of that group alone,
   normalised by the group's own completion tokens (the loss ``grpo_update`` would take on
   a batch of this one group); advantages from ``training_batch`` (binary or shaped, as
   configured).
4. **The applied update** :math:`\Delta\theta`: ``g`` clipped to ``max_grad_norm`` as
   :func:`torch.nn.utils.clip_grad_norm_` does
   (:func:`~insight_bayes.rlvr.applied_update.clip_gradient`), then one AdamW step from
   the checkpoint's moments (:func:`~insight_bayes.rlvr.applied_update.adamw_delta`:
   moments, bias correction at step ``t + 1``, the learning rate the scheduler has set
   for that step, decoupled weight decay). AdamW moves the weights even with a zero
   gradient (momentum and weight decay:
   the *drift* :math:`\Delta\theta(0)`, the same for every group), so the group's update is

   .. math::
       \Delta\theta_g = \Delta\theta(\operatorname{clip}(g)) - \Delta\theta(0),

   zero for a group with all-equal rewards (recorded, never dropped). The drift's
   effects are recorded once per checkpoint (``checkpoints.csv``); the whole step's effect
   is the sum of the two (the effects are linear in :math:`\Delta\theta`).
5. **First-order effects.** The held-out objective of tier ``t`` is the harness's exact
   held-out pass@1 on the probability scale (``eval/pass1_exact``) restricted to the test
   problems of that tier,

   .. math::
       J_t(\theta) = \frac{1}{|T_t|}\sum_{j \in T_t} \exp \sum_s \log
           \pi_\theta(y_{j,s} \mid x_j, y_{j,<s}),

   and a group's effect on it is :math:`\nabla J_t \cdot \Delta\theta_g` (``∇J_t`` once
   per checkpoint). The prompt's own gain is :math:`\nabla p_i \cdot \Delta\theta_g`,
   :math:`p_i` its exact success probability (the same formula for the prompt): training
   on a prompt raises its own success (memorisation) and, through shared weights, the
   held-out one (transfer). Each effect is checked against the actual change of the
   objective when :math:`\Delta\theta_g` is added to the weights (``*_actual`` columns).

Exact success probabilities need a task with a unique answer (``task.unique_answer``, the
addition tasks): ``p_hat`` is then the exact probability (no sampling noise), not a
Monte Carlo estimate.

Tables (:func:`run_gradients` writes them into ``out``)
-------------------------------------------------------
``groups.parquet``, one row per (draw, checkpoint, prompt_id, k, replicate):

- ``draw``: task draw (``task.seed`` and ``warmup.seed`` are the base config's plus it);
  ``checkpoint``: optimiser steps of the Random run before the probe (0: the warm-up);
- ``prompt_id``: pool index; ``tier``: its ``digits`` feature; ``band``: index of its
  success band in :data:`BAND_EDGES`; ``p_hat``: its exact success probability at the
  checkpoint; ``p_warmup``: the same under the warm-up policy;
- ``k``: group size; ``replicate``: rollout replicate; ``successes``: correct completions
  of the group (binary); ``mixed``: ``0 < successes < k``;
- ``grad_norm``: ``||g||`` before clipping; ``clipped``: whether clipping fired
  (``grad_norm > max_grad_norm``); ``update_norm``: ``||Δθ_g||``;
- ``grad_dot_mean``, ``update_dot_mean``: ``<g_r, mean_r g>`` and ``<Δθ_r, mean_r Δθ>``
  over the replicates of the same (prompt, k), so that the signal and noise of
  ``signal_noise.csv`` can be recomputed from these rows
  (``||mean||^2 = mean_r <x_r, mean>``, ``||x_r - mean||^2 = ||x_r||^2 - ||mean||^2`` on
  average);
- ``self_effect``: ``∇p_i · Δθ_g``; ``self_actual``: ``p_i(θ + Δθ_g) - p_i(θ)`` (measured
  on the first ``check_replicates`` replicates of a prompt, NaN on the others, as every
  ``*_actual`` column);
- ``heldout_effect``: ``∇J · Δθ_g`` with ``J`` the mean over all test problems (the
  tiers' effects weighted by their test counts); ``heldout_actual``: ``J(θ + Δθ_g) - J(θ)``;
- ``own_tier_effect``: the effect on the held-out objective of the prompt's own tier;
- ``grad_heldout_effect``: ``∇J · g`` (the plain, unclipped gradient's first-order
  effect per unit learning rate, for comparison with the earlier probe);
- ``lin_norm``, ``lin_self_effect``, ``lin_heldout_effect``, ``lin_dot_mean``: the same for
  ``c * g``, AdamW's step linearised in the (unclipped) gradient at the checkpoint's
  moments (:func:`~insight_bayes.rlvr.applied_update.adamw_linear`): what the group adds
  to a large batch's update per unit of its share of the batch (a group of a batch of
  ``M`` similar groups has a share of about ``1 / M``); NaN at a checkpoint where AdamW has
  not stepped;
- ``lr``: learning rate of the step; ``adam_step``: AdamW's step count before it.

``effects.parquet``, one row per (draw, checkpoint, prompt_id, k, replicate, target_tier):
``tier`` (the prompt's), ``target_tier``, ``effect`` (``∇J_t · Δθ_g``), ``actual``
(``J_t(θ + Δθ_g) - J_t(θ)``), ``grad_effect`` (``∇J_t · g``), ``lin_effect``
(``∇J_t · c g``).

``signal_noise.csv``, one row per (draw, checkpoint, prompt_id, k): ``tier``, ``band``,
``p_hat``, ``replicates``; ``mixed_share``; ``update_signal`` (``||mean_r Δθ_r||``),
``update_noise`` (mean squared deviation ``mean_r ||Δθ_r - mean||^2``),
``update_noise_rms`` (its square root), ``update_signal_sq_unbiased``
(``||mean||^2 - s^2 / R`` with ``s^2 = sum_r ||Δθ_r - mean||^2 / (R - 1)``, an unbiased
estimate of the squared norm of the expected update; may be negative),
``update_noise_to_signal`` (``s^2`` over that, NaN when it is not positive), the same
five for the raw gradient (``grad_*``) and the linearised update (``lin_*``); and the
effects averaged over replicates: ``self_effect``, ``heldout_effect``, ``own_tier_effect``,
``effect_tier_<t>``.

``checkpoints.csv``, one row per (draw, checkpoint, target_tier): ``lr``, ``adam_step``,
``n_test`` (test problems of the tier), ``J`` (its exact pass@1), ``grad_J_norm``
(``||∇J_t||``), ``drift_norm`` (``||Δθ(0)||``) and ``drift_effect`` (``∇J_t · Δθ(0)``),
``seconds`` (wall time of the checkpoint's probe).

``selection.csv``: see :mod:`insight_bayes.rlvr.selection_stats`. ``manifest.json`` and
``README.md`` (with the command line) complete the folder. Finished (draw, checkpoint)
parts live under ``runs/`` (each with a completion marker written last), so a killed job
resumes where it stopped.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from insight_bayes.rlvr.applied_update import (
    _flat,
    _params,
    _prompt_gradient,
    _tier_gradients,
    adamw_delta,
    adamw_linear,
    clip_gradient,
    group_gradient,
)
from insight_bayes.rlvr.checkpoint_probe import exact_success, iter_checkpoints, set_weights
from insight_bayes.rlvr.config import load_config
from insight_bayes.rlvr.gradient_tables import _write_part, gather_gradients, is_done
from insight_bayes.validation import check_int

__all__ = [
    "BAND_EDGES",
    "run_gradients",
    "stratified_prompts",
]

log = logging.getLogger(__name__)

#: Edges of the success-probability bands the probed prompts are spread over.
BAND_EDGES: tuple[float, ...] = (0.0, 0.02, 0.15, 0.35, 0.6, 0.85, 1.0)


# ----------------------------------------------------------------------------- prompts
def stratified_prompts(
    p: np.ndarray,
    tiers: np.ndarray,
    n: int,
    rng: np.random.Generator,
    edges: Sequence[float] = BAND_EDGES,
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` prompt indices spread over success bands and, within a band, over tiers.

    Band ``b`` holds the prompts with ``edges[b] <= p < edges[b + 1]`` (the last band
    includes 1). The ``n`` prompts are shared equally among the non-empty bands; a band
    holding fewer prompts than its share takes them all and the rest is shared among the
    others. Within a band, tiers take turns (in a random order) and each turn draws one
    prompt of that tier uniformly without replacement.

    Returns
    -------
    ids : ndarray of int, shape (n,)
        Sorted by band, then by draw order.
    bands : ndarray of int, shape (n,)
        Band of each prompt.

    Raises
    ------
    ValueError
        Fewer than ``n`` prompts in all.
    """
    p = np.asarray(p, dtype=np.float64)
    tiers = np.asarray(tiers)
    n = check_int(n, "n", min_value=1)
    if p.shape != tiers.shape or p.ndim != 1:
        raise ValueError("p and tiers must be 1-d arrays of one length")
    if n > p.size:
        raise ValueError(f"cannot choose {n} prompts from {p.size}")
    edges = np.asarray(edges, dtype=np.float64)
    band_of = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, edges.size - 2)
    sizes = np.bincount(band_of, minlength=edges.size - 1)
    quota = np.zeros_like(sizes)
    left = n
    open_bands = [b for b in range(sizes.size) if sizes[b] > 0]
    while left > 0:  # equal shares, capped by what a band holds
        share, extra = divmod(left, len(open_bands))
        for j, b in enumerate(open_bands):
            quota[b] += min(share + (j < extra), sizes[b] - quota[b])
        left = n - int(quota.sum())
        open_bands = [b for b in open_bands if quota[b] < sizes[b]]
    ids, bands = [], []
    for b in range(sizes.size):
        cells = {}
        for t in np.unique(tiers[band_of == b]):
            members = np.flatnonzero((band_of == b) & (tiers == t))
            cells[t] = list(rng.permutation(members))
        order = list(rng.permutation(list(cells)))
        taken = 0
        while taken < quota[b]:
            for t in order:
                if taken < quota[b] and cells[t]:
                    ids.append(int(cells[t].pop()))
                    bands.append(b)
                    taken += 1
    return np.array(ids, dtype=np.int64), np.array(bands, dtype=np.int64)


# ----------------------------------------------------------------------------- one checkpoint
@torch.no_grad()
def measure_checkpoint(
    env,
    optimizer_state: dict[str, Any],
    *,
    groups: int,
    replicates: int,
    ks: Sequence[int],
    rng: np.random.Generator,
    p_warmup: np.ndarray,
    check_replicates: int = 1,
    progress: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Probe one checkpoint (``env`` holds its weights; nothing of it is changed for good).

    The actual changes (``*_actual``) are measured on the first ``check_replicates``
    replicates of each prompt (NaN on the others; 0 for a zero update).

    Returns the rows of ``groups``, ``effects`` and ``checkpoints`` (without the draw and
    checkpoint columns) for :func:`run_gradients`; see the module docstring.
    """
    from tqdm.auto import tqdm

    started = time.perf_counter()
    params = _params(env)
    pool_tiers = np.array([p.features["digits"] for p in env.pool], dtype=np.int64)
    test_tiers = np.array([p.features["digits"] for p in env.test], dtype=np.int64)
    tier_list = [int(t) for t in np.unique(test_tiers)]
    n_test = np.array([(test_tiers == t).sum() for t in tier_list], dtype=np.float64)
    weights = n_test / n_test.sum()
    p_pool = exact_success(env, "pool")
    test_p = exact_success(env, "test")
    J = np.array([test_p[test_tiers == t].mean() for t in tier_list])
    grad_J = _tier_gradients(env, test_tiers)
    G = torch.stack([grad_J[t] for t in tier_list])  # (tiers, params)
    max_norm = env.grpo.max_grad_norm
    zero = [torch.zeros_like(p) for p in params]
    base = [p.detach().clone() for p in params]
    drift = _flat(adamw_delta(params, zero, optimizer_state)).double()
    lin = _flat(adamw_linear(params, optimizer_state)).double()
    group = optimizer_state["param_groups"][0]
    lr = float(group["lr"])
    first = optimizer_state["state"].get(group["params"][0]) if optimizer_state["state"] else None
    adam_step = int(float(first["step"])) if first else 0

    ids, bands = stratified_prompts(p_pool, pool_tiers, groups, rng)
    group_rows: list[dict[str, Any]] = []
    effect_rows: list[dict[str, Any]] = []
    bar = tqdm(total=len(ids) * len(ks) * replicates, desc="groups", disable=not progress)
    for pid, band in zip(ids, bands, strict=True):
        own = _prompt_gradient(env, int(pid))
        tier = int(pool_tiers[pid])
        own_row = tier_list.index(tier) if tier in tier_list else None
        for k in ks:
            out = env.rollout(np.full(replicates, pid), int(k), rng)
            grads, updates, lins, rows = [], [], [], []
            for r in range(replicates):
                g = group_gradient(env, int(pid), out.take([r]))
                clipped, gnorm, fired = clip_gradient(g, max_norm)
                delta = _flat(adamw_delta(params, clipped, optimizer_state)).double() - drift
                g_flat = _flat(g).double()
                lin_delta = lin * g_flat
                lin_effects = (G @ lin_delta).numpy()
                effects = (G @ delta).numpy()
                grad_effects = (G @ g_flat).numpy()
                # the actual change of the objectives when the group's update is applied (a
                # forward pass over the test set: on the first replicates only; exactly 0
                # for a zero update)
                if not bool(torch.any(delta != 0)):
                    test_new, self_new = test_p, float(p_pool[pid])
                elif r < check_replicates:
                    set_weights(params, base, delta)
                    try:
                        test_new = exact_success(env, "test")
                        self_new = float(exact_success(env, "pool", np.array([pid]))[0])
                    finally:
                        set_weights(params, base, None)
                else:
                    test_new, self_new = np.full_like(test_p, np.nan), float("nan")
                actual = np.array([(test_new - test_p)[test_tiers == t].mean() for t in tier_list])
                successes = int(out.correct[r].sum())
                rows.append(
                    {
                        "prompt_id": int(pid),
                        "tier": tier,
                        "band": int(band),
                        "p_hat": float(p_pool[pid]),
                        "p_warmup": float(p_warmup[pid]),
                        "k": int(k),
                        "replicate": r,
                        "successes": successes,
                        "mixed": bool(0 < successes < k),
                        "grad_norm": gnorm,
                        "clipped": fired,
                        "update_norm": float(delta.norm()),
                        "self_effect": float(own @ delta),
                        "self_actual": self_new - float(p_pool[pid]),
                        "heldout_effect": float(weights @ effects),
                        "heldout_actual": float(test_new.mean() - test_p.mean()),
                        "own_tier_effect": (
                            float(effects[own_row]) if own_row is not None else float("nan")
                        ),
                        "grad_heldout_effect": float(weights @ grad_effects),
                        "lin_norm": float(lin_delta.norm()),
                        "lin_self_effect": float(own @ lin_delta),
                        "lin_heldout_effect": float(weights @ lin_effects),
                        "lr": lr,
                        "adam_step": adam_step,
                    }
                )
                for j, t in enumerate(tier_list):
                    effect_rows.append(
                        {
                            "prompt_id": int(pid),
                            "tier": tier,
                            "k": int(k),
                            "replicate": r,
                            "target_tier": t,
                            "effect": float(effects[j]),
                            "actual": float(actual[j]),
                            "grad_effect": float(grad_effects[j]),
                            "lin_effect": float(lin_effects[j]),
                        }
                    )
                grads.append(g_flat)
                lins.append(lin_delta)
                updates.append(delta)
                bar.update(1)
            g_mean = torch.stack(grads).mean(0)
            l_mean = torch.stack(lins).mean(0)
            u_mean = torch.stack(updates).mean(0)
            for row, g_flat, delta in zip(rows, grads, updates, strict=True):
                row["grad_dot_mean"] = float(g_flat @ g_mean)
                row["lin_dot_mean"] = float(lins[row["replicate"]] @ l_mean)
                row["update_dot_mean"] = float(delta @ u_mean)
            group_rows += rows
    bar.close()
    seconds = time.perf_counter() - started
    checkpoint_rows = [
        {
            "target_tier": t,
            "lr": lr,
            "adam_step": adam_step,
            "n_test": int(n_test[j]),
            "J": float(J[j]),
            "grad_J_norm": float(G[j].norm()),
            "drift_norm": float(drift.norm()),
            "drift_effect": float(G[j] @ drift),
            "seconds": seconds,
        }
        for j, t in enumerate(tier_list)
    ]
    return pd.DataFrame(group_rows), pd.DataFrame(effect_rows), pd.DataFrame(checkpoint_rows)


# ----------------------------------------------------------------------------- the study
def run_gradients(
    raw: dict[str, Any],
    out: str | os.PathLike[str],
    *,
    draws: Sequence[int] = (0,),
    checkpoints: Sequence[int] = (0, 25, 50, 100),
    groups: int = 48,
    replicates: int = 4,
    ks: Sequence[int] | None = None,
    check_replicates: int = 1,
    seed: int = 0,
    device: str = "cpu",
    cache_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
    runs_per_process: int | None = None,
) -> dict[str, pd.DataFrame]:
    """Probe checkpoints of a Random run for every task draw; write and return the tables.

    For each draw (:meth:`~insight_bayes.rlvr.config.StudyConfig.draw_config`), the
    harness is built (the warm-up is trained or loaded from the cache), Random runs with
    the study's settings (``config.loop``, up to the last checkpoint, evaluating as the
    study does, so the run is the study's Random run at ``seed``), and at each checkpoint
    step, before that step's update, the weights and the AdamW state are copied and probed
    (:func:`measure_checkpoint`) on a separate environment with its own random numbers:
    the run is not changed. The draws' Random runs are trained as batched blocks of
    ``runs_per_process`` (default
    :func:`~insight_bayes.rlvr.study_jobs.default_runs_per_process`: every draw in one
    block on CUDA, blocks of up to 8 on CPU; 1: one at a time), each run as it trains
    alone (:func:`~insight_bayes.rlvr.checkpoint_probe.iter_checkpoints`). A (draw,
    checkpoint) already finished in ``out`` is skipped, and a draw whose checkpoints are
    all finished is not run at all.

    Returns
    -------
    dict of str to DataFrame
        ``groups``, ``effects``, ``checkpoints``, ``signal_noise`` of every finished part.
    """

    from insight_bayes.results.io import remove_stale_temporaries
    from insight_bayes.rlvr.harness import harness_for
    from insight_bayes.rlvr.study_jobs import default_runs_per_process

    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(root)
    checkpoints = sorted({check_int(c, "checkpoint", min_value=0) for c in checkpoints})
    replicates = check_int(replicates, "replicates", min_value=2)
    groups = check_int(groups, "groups", min_value=1)
    k_values = tuple(ks) if ks else None
    for k in k_values or ():
        check_int(k, "k", min_value=2)
    jobs = {(d, seed): [c for c in checkpoints if not is_done(root, d, c)] for d in draws}
    for (d, _), todo in jobs.items():
        if not todo:
            log.info("draw %d: every checkpoint done", d)
    harnesses = {
        d: harness_for(load_config(raw).draw_config(d), device, cache_dir, progress)
        for (d, _), todo in jobs.items()
        if todo
    }
    probes: dict[int, tuple] = {}  # draw -> its probe environment and warm-up success
    per_block = runs_per_process or default_runs_per_process(device, len(harnesses))
    for d, _, step, weights, opt_state, _ in iter_checkpoints(harnesses, jobs, per_block, progress):
        if d not in probes:
            probe = harnesses[d].environment()
            probes[d] = probe, exact_success(probe, "pool")
        probe, p_warmup = probes[d]
        probe.policy.model.load_state_dict(weights)
        rng = np.random.default_rng([seed, d, step, 977])
        tables = measure_checkpoint(
            probe,
            opt_state,
            groups=groups,
            replicates=replicates,
            ks=k_values or (harnesses[d].config.loop.k,),
            check_replicates=check_replicates,
            rng=rng,
            p_warmup=p_warmup,
            progress=progress,
        )
        _write_part(
            root,
            d,
            step,
            dict(zip(("groups", "effects", "checkpoints"), tables, strict=True)),
        )
        log.info("draw %d checkpoint %d done", d, step)
    return gather_gradients(root, draws, checkpoints)
