"""Is a policy a warm-up the study can start from? The design's first check, in one home.

:func:`warmup_check` measures the pool's easiest tiers and the pool gate on an
environment's policy; :func:`insight_bayes.rlvr.design.run_design` asks it of each warm-up
length it tries, and :class:`~insight_bayes.rlvr.harness.Harness` asks it every
``warmup.check_every`` steps of a warm-up trained until it passes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from insight_bayes.rlvr.gate import gate_pool

if TYPE_CHECKING:
    from insight_bayes.rlvr.config import StudyConfig
    from insight_bayes.rlvr.grpo_environment import GRPOEnvironment

__all__ = ["tier_success", "warmup_check"]


def tier_success(env, samples: int, rng: np.random.Generator) -> dict[int, float]:
    """Mean Monte Carlo success rate of the pool's prompts per tier (``digits`` feature)."""
    rates = env.pool_success_rates(samples, rng)
    tiers = np.array([p.features.get("digits", np.nan) for p in env.pool], dtype=float)
    return {int(t): float(rates[tiers == t].mean()) for t in np.unique(tiers[np.isfinite(tiers)])}


def warmup_check(
    env: GRPOEnvironment, config: StudyConfig, *, gate_after_tiers: bool = False
) -> dict[str, Any]:
    """Is the policy of ``env`` a warm-up the study can start from? (the design's check 1)

    Measures, with fixed seeds (the same numbers whoever asks): the success rate of each
    pool tier (:func:`tier_success`, ``design.tier_samples`` rollouts per prompt) and the
    pool gate (:func:`insight_bayes.rlvr.gate.gate_pool`, the config's ``[gate]`` at
    ``loop.k``). ``tiers_ok``: every tier of ``design.tiers`` reaches
    ``design.min_tier_success``; ``gate_ok``: the gate passes. With ``gate_after_tiers``
    the gate is measured only when the tiers pass (``gate`` is None and ``gate_ok`` False
    otherwise): the same verdict for half the rollouts while the tiers still fail. Each
    part has its own random numbers, so the tiers' numbers do not depend on it.
    """
    settings = config.design
    tiers = tier_success(env, settings.tier_samples, np.random.default_rng(2024))
    easy = [tiers.get(t, float("nan")) for t in settings.tiers]
    tiers_ok = all(v >= settings.min_tier_success for v in easy)
    gate = None
    if tiers_ok or not gate_after_tiers:
        gate = gate_pool(env, config.loop.k, config.gate, np.random.default_rng(54321))
    return {
        "tier_success": {str(t): v for t, v in tiers.items()},
        "tiers_ok": tiers_ok,
        "gate": None if gate is None else gate.to_dict() | {"summary": gate.summary()},
        "gate_ok": bool(gate is not None and gate.passed),
    }
