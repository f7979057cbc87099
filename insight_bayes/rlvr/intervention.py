"""A causal test of the decomposition: does predicted information rank a batch's effect?

At a fixed checkpoint (policy and belief), batches of ``M`` prompts are built from the
quintiles of a predicted score (WMI, difficulty only ``m(1 - m)``, evidence only
``1 / (n + 1)``), rolled out with several rollout seeds, and each batch's effect on
learning is measured **to first order, without an optimizer**:

.. math::
    \\Delta_{\\text{held-out}} = \\langle \\nabla_\\theta J_{\\text{batch}},
        \\nabla_\\theta \\bar S_{\\text{test}} \\rangle, \\qquad
    \\Delta_{\\text{chosen}} = \\langle \\nabla_\\theta J_{\\text{batch}},
        \\nabla_\\theta (\\bar S_{\\text{chosen}} - \\bar S_{\\text{unchosen}}) \\rangle

where ``J_batch`` is the GRPO objective of the batch's own rollouts (minus the clipped
loss at ratio 1: ``(1/N_tok) sum_i A_i sum_t log pi(o_it)``) and ``S`` the exact success
probability of a problem (:meth:`GRPOEnvironment.exact_success`). ``Delta`` is the change
one plain gradient step of unit size would make. A naive one-step change under AdamW
measures mostly the optimizer's momentum (a batch with no gradient still moves the model);
the inner product has no optimizer state and no update noise, and a batch whose groups are
all uninformative gives exactly 0 (the hopeless-batch control).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch

from insight_bayes.rewards import Rollout
from insight_bayes.rlvr.environment import GRPOEnvironment
from insight_bayes.rlvr.grpo import clipped_policy_loss
from insight_bayes.validation import RngLike, as_generator, check_int

__all__ = [
    "FAMILIES",
    "FirstOrderEffect",
    "first_order_effect",
    "predicted_scores",
    "quintile_batches",
    "run_intervention",
]


def quintile_batches(
    candidates: np.ndarray, scores: np.ndarray, m: int, rng: RngLike, n_bins: int = 5
) -> list[np.ndarray]:
    """``M`` prompts drawn from each quantile bin of ``scores`` (lowest bin first).

    Candidates are ranked by score (ties broken at random) and cut into ``n_bins`` bins
    of equal size; each batch is ``m`` distinct prompts drawn uniformly from one bin.

    Raises ``ValueError`` when a bin holds fewer than ``m`` candidates.
    """
    candidates = np.asarray(candidates)
    scores = np.asarray(scores, dtype=np.float64)
    if candidates.shape != scores.shape or candidates.ndim != 1:
        raise ValueError("candidates and scores must be 1-d arrays of one length")
    m = check_int(m, "m", min_value=1)
    n_bins = check_int(n_bins, "n_bins", min_value=1)
    gen = as_generator(rng)
    jitter = gen.random(scores.size)
    order = np.lexsort((jitter, scores))  # ascending score, random among ties
    bins = np.array_split(candidates[order], n_bins)
    if min(b.size for b in bins) < m:
        raise ValueError(
            f"each of the {n_bins} bins must hold at least m={m} candidates; "
            f"got {min(b.size for b in bins)} (use more candidates or a smaller m)"
        )
    return [gen.choice(b, size=m, replace=False) for b in bins]


@dataclass(frozen=True)
class FirstOrderEffect:
    """First-order effects of one batch's own gradient (see the module docstring).

    Attributes
    ----------
    heldout : float
        ``<grad J_batch, grad mean exact success on the test set>``.
    chosen : float
        ``<grad J_batch, grad (mean exact success of the chosen prompts - of unchosen)>``.
    gradient_norm : float
        ``||grad J_batch||``.
    mixed_share : float
        Share of the batch's groups with mixed binary outcomes.
    """

    heldout: float
    chosen: float
    gradient_norm: float
    mixed_share: float


def _flat_grad(scalar: torch.Tensor, params: list[torch.nn.Parameter]) -> torch.Tensor:
    grads = torch.autograd.grad(scalar, params, allow_unused=True)
    return torch.cat(
        [
            (g if g is not None else torch.zeros_like(p)).reshape(-1)
            for g, p in zip(grads, params, strict=True)
        ]
    )


def first_order_effect(
    env: GRPOEnvironment,
    ids: np.ndarray,
    rollout: Rollout,
    unchosen: np.ndarray,
    *,
    heldout_gradient: torch.Tensor | None = None,
) -> FirstOrderEffect:
    """The first-order effects of training on ``rollout`` of prompts ``ids``.

    Parameters
    ----------
    env : GRPOEnvironment
        At the checkpoint; its policy is not changed.
    ids : ndarray of int, shape (M,)
        The batch's prompts.
    rollout : Rollout
        Their rollouts (from ``env.rollout``; completions in the payload).
    unchosen : ndarray of int
        Pool prompts not in the batch, the comparison for the chosen-prompt effect.
    heldout_gradient : Tensor, optional
        ``grad mean exact test success`` at this checkpoint, when already computed (it
        does not depend on the batch).
    """
    model = env.policy.model
    params = [p for p in model.parameters() if p.requires_grad]
    # the same batch and advantages as the GRPO update (binary or shaped, as configured)
    batch, advantages = env.training_batch(ids, rollout)
    with torch.enable_grad():
        logp = env.policy.logprobs(batch.tokens, batch.valid)
        loss, _ = clipped_policy_loss(
            logp, logp.detach(), advantages, batch.completion, env.grpo.clip_eps
        )
        g_batch = -_flat_grad(loss, params)  # ascent direction of J
        if heldout_gradient is None:
            heldout_gradient = _flat_grad(env.exact_success("test", grad=True).mean(), params)
        s_chosen = env.exact_success("pool", ids, grad=True).mean()
        s_unchosen = env.exact_success("pool", unchosen, grad=True).mean()
        g_chosen = _flat_grad(s_chosen - s_unchosen, params)
    mixed = rollout.correct.any(axis=1) & ~rollout.correct.all(axis=1)
    return FirstOrderEffect(
        heldout=float(g_batch @ heldout_gradient),
        chosen=float(g_batch @ g_chosen),
        gradient_norm=float(g_batch.norm()),
        mixed_share=float(mixed.mean()),
    )


# ----------------------------------------------------------------------------- the study
#: Batch families: the score whose quantile bins build the batches.
FAMILIES = ("wmi", "difficulty", "evidence")


def predicted_scores(alpha: np.ndarray, beta: np.ndarray, k: int) -> dict[str, np.ndarray]:
    """Every predicted score of prompts with beliefs ``Beta(alpha, beta)``.

    ``wmi`` (Eq. 16, mu = 0.3, eta = 3), ``mi`` (Eq. 13, nats), ``weight`` (Eq. 15),
    ``difficulty`` ``m (1 - m)`` and ``evidence`` ``1 / (n + 1)``.
    """
    from insight_bayes.acquisition import difficulty_weight, wmi_score
    from insight_bayes.beta import mutual_information

    mean = alpha / (alpha + beta)
    return {
        "wmi": np.asarray(wmi_score(alpha, beta, k)),
        "mi": np.asarray(mutual_information(alpha, beta, k)),
        "weight": np.asarray(difficulty_weight(mean)),
        "difficulty": mean * (1.0 - mean),
        "evidence": 1.0 / (alpha + beta + 1.0),
    }


def run_intervention(
    harness,
    checkpoints: tuple[int, ...] = (0, 20, 40),
    *,
    replicates: int = 8,
    m: int | None = None,
    unchosen_size: int = 128,
    seed: int = 0,
    progress: bool = True,
):
    """Checkpoints of a Random run, then first-order effects of quantile batches at each.

    Runs Random from the warm-up with the study's settings, snapshots the policy and the
    belief at each step in ``checkpoints``, and at each snapshot builds, for every family
    of :data:`FAMILIES`, one batch of ``m`` prompts per quintile of the family's score
    over the whole pool, plus a *hopeless* batch (the ``m`` prompts the belief deems
    least likely to succeed: almost no mixed groups). Each batch is rolled out
    ``replicates`` times with different rollout seeds and measured with
    :func:`first_order_effect`, against ``unchosen_size`` unchosen prompts drawn
    uniformly for each batch.

    Returns a tidy DataFrame, one row per (checkpoint, family, quintile, replicate):
    the effects, the batch's mixed share, and its summed predicted scores.
    """
    import pandas as pd
    from tqdm.auto import tqdm

    from insight_bayes.loop import SelectionLoop

    config = harness.config
    m = m or config.loop.m
    k = config.loop.k
    replicates = check_int(replicates, "replicates", min_value=1)
    env = harness.environment()
    horizon = dataclasses.replace(config.loop, steps=max(checkpoints), eval_every=0)
    loop = SelectionLoop(env, "random", horizon, seed=seed)
    snapshots = {}
    if 0 in checkpoints:
        snapshots[0] = _snapshot(env, loop)
    for record in loop.iter_steps():
        if record.step in checkpoints and record.step > 0:
            snapshots[record.step] = _snapshot(env, loop)
    rows = []
    total = len(snapshots) * (len(FAMILIES) * 5 + 1) * replicates
    bar = tqdm(total=total, desc="intervention", disable=not progress)
    pool = np.arange(env.pool_size)
    for step, (weights, belief) in sorted(snapshots.items()):
        probe = harness.environment()
        probe.policy.model.load_state_dict(weights)
        scores = predicted_scores(belief.alpha, belief.beta, k)
        heldout_grad = None
        batches: list[tuple[str, int, np.ndarray]] = []
        gen = np.random.default_rng([seed, step])
        for family in FAMILIES:
            for q, ids in enumerate(quintile_batches(pool, scores[family], m, gen)):
                batches.append((family, q, ids))
        hopeless = np.argsort(belief.mean, kind="stable")[:m]
        batches.append(("hopeless", 0, hopeless))
        for family, q, ids in batches:
            # the comparison set: unchosen prompts, a fixed-size uniform sample (cost)
            rest = np.setdiff1d(pool, ids)
            unchosen = gen.choice(rest, size=min(unchosen_size, rest.size), replace=False)
            for rep in range(replicates):
                rollout = probe.rollout(
                    ids, k, np.random.default_rng([seed, step, rep, q, len(family)])
                )
                if heldout_grad is None:
                    heldout_grad = _heldout_gradient(probe)
                effect = first_order_effect(probe, ids, rollout, unchosen,
                                            heldout_gradient=heldout_grad)  # fmt: skip
                rows.append(
                    {"checkpoint": step, "family": family, "quintile": q, "replicate": rep,
                     "heldout": effect.heldout, "chosen": effect.chosen,
                     "gradient_norm": effect.gradient_norm, "mixed_share": effect.mixed_share,
                     **{f"sum_{name}": float(v[ids].sum()) for name, v in scores.items()},
                     "mean_belief": float(belief.mean[ids].mean())}
                )  # fmt: skip
                bar.update(1)
    bar.close()
    return pd.DataFrame(rows)


def _snapshot(env: GRPOEnvironment, loop) -> tuple[dict, object]:
    weights = {k: v.detach().clone() for k, v in env.policy.model.state_dict().items()}
    return weights, loop.belief.copy()


def _heldout_gradient(env: GRPOEnvironment) -> torch.Tensor:
    params = [p for p in env.policy.model.parameters() if p.requires_grad]
    with torch.enable_grad():
        return _flat_grad(env.exact_success("test", grad=True).mean(), params)
