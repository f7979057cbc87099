r"""A batch's GRPO gradient and the update AdamW makes of it (clipped, from given moments).

The maths the gradient probe (:mod:`insight_bayes.rlvr.gradients`) and the causal test
(:mod:`insight_bayes.rlvr.intervention`) share: :func:`batch_gradient` (the gradient of
the harness's clipped GRPO loss on a batch, as ``grpo_update`` takes it; one group is
:func:`group_gradient`), :func:`clip_gradient` (torch's global-norm clipping),
:func:`adamw_delta` (one AdamW step from a checkpoint's moments, without touching the
optimiser) and :func:`adamw_linear` (its first-order map).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

__all__ = [
    "adamw_delta",
    "adamw_linear",
    "batch_gradient",
    "clip_gradient",
    "group_gradient",
]


# ----------------------------------------------------------------------------- optimiser
def clip_gradient(grads: Sequence[torch.Tensor], max_norm: float) -> tuple[list, float, bool]:
    """Clip gradients by their global 2-norm as :func:`torch.nn.utils.clip_grad_norm_` does.

    The factor is ``min(1, max_norm / (||g|| + 1e-6))`` (torch's form).

    Returns
    -------
    clipped : list of Tensor
        The scaled gradients (new tensors).
    norm : float
        ``||g||`` before clipping.
    fired : bool
        Whether ``||g|| > max_norm`` (the factor is below 1).
    """
    norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
    coef = torch.clamp(max_norm / (norm + 1e-6), max=1.0)
    return [g * coef for g in grads], float(norm), bool(float(norm) > max_norm)


def adamw_delta(
    params: Sequence[torch.Tensor],
    grads: Sequence[torch.Tensor],
    optimizer_state: dict[str, Any],
) -> list[torch.Tensor]:
    r"""The change one AdamW step would make to ``params`` with ``grads``, state untouched.

    With ``(m, v, t)`` of each parameter from ``optimizer_state`` (zeros and 0 when the
    optimiser has not stepped yet) and the group's ``lr``, ``betas``, ``eps``,
    ``weight_decay`` (Loshchilov & Hutter 2019, Algorithm 2, as ``torch.optim.AdamW``)::

        m'  = b1 m + (1 - b1) g,      v' = b2 v + (1 - b2) g^2
        Δθ  = -lr wd θ - (lr / (1 - b1^(t+1))) m' / (sqrt(v') / sqrt(1 - b2^(t+1)) + eps)

    Parameters
    ----------
    params : sequence of Tensor
        The weights, in the optimiser's order (``model.parameters()``).
    grads : sequence of Tensor
        One gradient per parameter (already clipped).
    optimizer_state : dict
        ``torch.optim.AdamW.state_dict()`` of an optimiser over ``params`` (one group).

    Returns
    -------
    list of Tensor
        ``Δθ`` per parameter (units of the weights).
    """
    groups = optimizer_state["param_groups"]
    if len(groups) != 1:
        raise ValueError(f"expected one parameter group, got {len(groups)}")
    group = groups[0]
    if group.get("amsgrad") or group.get("maximize"):
        raise ValueError("amsgrad and maximize are not supported")
    if len(group["params"]) != len(params) or len(grads) != len(params):
        raise ValueError(
            f"{len(params)} params and {len(grads)} grads for an optimiser over "
            f"{len(group['params'])} parameters"
        )
    lr, wd, eps = float(group["lr"]), float(group["weight_decay"]), float(group["eps"])
    beta1, beta2 = (float(b) for b in group["betas"])
    state = optimizer_state["state"]
    out = []
    for index, p, g in zip(group["params"], params, grads, strict=True):
        s = state.get(index)
        if s:
            m, v, t = s["exp_avg"], s["exp_avg_sq"], float(s["step"])
        else:
            m, v, t = torch.zeros_like(p), torch.zeros_like(p), 0.0
        step = t + 1.0
        m_new = torch.lerp(m, g, 1.0 - beta1)
        v_new = v * beta2 + (1.0 - beta2) * g * g
        bc1 = 1.0 - beta1**step
        bc2_sqrt = (1.0 - beta2**step) ** 0.5
        denom = v_new.sqrt() / bc2_sqrt + eps
        out.append(-lr * wd * p.detach() - (lr / bc1) * m_new / denom)
    return out


def adamw_linear(params: Sequence[torch.Tensor], optimizer_state: dict[str, Any]) -> list:
    r"""AdamW's step linearised in the gradient at ``g = 0``: a per-weight factor ``c``.

    Differentiating :func:`adamw_delta` at ``g = 0`` (the ``g^2`` term of ``v'`` has zero
    derivative there)::

        dΔθ/dg = c = -lr (1 - b1) / (1 - b1^(t+1)) / (sqrt(b2 v / (1 - b2^(t+1))) + eps)

    so a small gradient ``g`` (a group's share of a large batch) moves the weights by
    ``c * g`` on top of the drift. Undefined where the optimiser has not stepped (``v = 0``
    gives ``1 / eps``: Adam's first step is ``lr sign(g)``, not linear): NaN there.
    """
    group = optimizer_state["param_groups"][0]
    lr, eps = float(group["lr"]), float(group["eps"])
    beta1, beta2 = (float(b) for b in group["betas"])
    out = []
    for index, p in zip(group["params"], params, strict=True):
        s = optimizer_state["state"].get(index)
        if not s:
            out.append(torch.full_like(p, float("nan")))
            continue
        step = float(s["step"]) + 1.0
        denom = (beta2 * s["exp_avg_sq"] / (1.0 - beta2**step)).sqrt() + eps
        out.append(-lr * (1.0 - beta1) / (1.0 - beta1**step) / denom)
    return out


# ----------------------------------------------------------------------------- gradients
def _flat(tensors: Sequence[torch.Tensor]) -> torch.Tensor:
    return torch.cat([t.reshape(-1) for t in tensors])


def _params(env) -> list[torch.nn.Parameter]:
    return list(env.policy.model.parameters())


def _grad_of(scalar: torch.Tensor, params: list[torch.nn.Parameter]) -> list[torch.Tensor]:
    grads = torch.autograd.grad(scalar, params, allow_unused=True)
    return [g if g is not None else torch.zeros_like(p) for g, p in zip(grads, params, strict=True)]


def batch_gradient(env, prompt_ids: Sequence[int] | np.ndarray, rollout) -> list[torch.Tensor]:
    """Gradient of the harness's GRPO loss on one batch of groups, as ``grpo_update`` takes it.

    ``rollout`` holds one group per entry of ``prompt_ids`` (``env.rollout(ids, k, rng)``).
    The loss is :func:`~insight_bayes.rlvr.grpo.clipped_policy_loss` with the sampling
    policy equal to the current one (ratio 1), normalised by the batch's completion tokens
    (all of its rows, as :func:`~insight_bayes.rlvr.grpo.grpo_update` does), plus
    ``kl_coef`` times the k3 KL to the reference when the config has one. Rows with a zero
    advantage add exactly 0 without a KL term and are skipped, as in ``grpo_update``; a
    batch whose advantages are all zero gets exact zeros (no pass is run).
    """
    from insight_bayes.rlvr.grpo import clipped_policy_loss, kl_to_reference

    params = _params(env)
    batch, advantages = env.training_batch(np.asarray(prompt_ids, dtype=np.int64), rollout)
    use_kl = env.reference is not None and env.grpo.kl_coef > 0
    if not use_kl and not bool(torch.any(advantages != 0)):
        return [torch.zeros_like(p) for p in params]
    mask = batch.completion
    n_tokens = mask.to(torch.float32).sum().clamp(min=1.0)
    tokens, valid = batch.tokens, batch.valid
    if not use_kl:
        rows = torch.nonzero(advantages != 0).squeeze(-1)
        tokens, valid, mask, advantages = tokens[rows], valid[rows], mask[rows], advantages[rows]
    env.policy.model.train()
    try:
        with torch.enable_grad():
            logp = env.policy.logprobs(tokens, valid)
            loss, _ = clipped_policy_loss(
                logp, logp.detach(), advantages, mask, env.grpo.clip_eps, n_tokens
            )
            if use_kl:
                with torch.no_grad():
                    logp_ref = env.reference.logprobs(tokens, valid)
                loss = loss + env.grpo.kl_coef * kl_to_reference(logp, logp_ref, mask)
            return _grad_of(loss, params)
    finally:
        env.policy.model.eval()


def group_gradient(env, prompt_id: int, rollout) -> list[torch.Tensor]:
    """Gradient of the harness's GRPO loss on one group alone: :func:`batch_gradient` of a
    batch of that one group (normalised by the group's own completion tokens)."""
    return batch_gradient(env, [int(prompt_id)], rollout)


def _tier_gradients(env, tiers: np.ndarray) -> dict[int, torch.Tensor]:
    """``∇J_t`` (flat, float64) of the exact held-out pass@1 of each tier's test problems."""
    params = _params(env)
    out = {}
    for t in np.unique(tiers):
        ids = np.flatnonzero(tiers == t)
        with torch.enable_grad():
            value = env.exact_success("test", ids, grad=True).mean()
            out[int(t)] = _flat(_grad_of(value, params)).double()
    return out


def _prompt_gradient(env, prompt_id: int) -> torch.Tensor:
    params = _params(env)
    with torch.enable_grad():
        value = env.exact_success("pool", np.array([prompt_id]), grad=True).sum()
        return _flat(_grad_of(value, params)).double()
