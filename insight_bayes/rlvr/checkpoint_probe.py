"""Probing a Random run's checkpoints: the run's state at chosen steps, the weights set
and reset around a probe, and exact success probabilities.

Shared by the measurements of :mod:`insight_bayes.rlvr.gradients` and the causal test of
:mod:`insight_bayes.rlvr.intervention`: both replay the study's Random run
(:func:`random_checkpoints`), take copies of the weights and the AdamW state there, try
an update (:func:`set_weights`) and read the held-out effect exactly
(:func:`exact_success`).
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from insight_bayes.rlvr.config import StudyConfig
from insight_bayes.validation import check_int

__all__ = ["exact_success", "random_checkpoints", "set_weights"]


def exact_success(env, split: str, ids: np.ndarray | None = None) -> np.ndarray:
    """Exact success probability of each problem of ``split`` (``"test"`` or ``"pool"``;
    ``ids`` selects some) under the environment's current weights, float64."""
    return env.exact_success(split, ids).double().cpu().numpy()


@torch.no_grad()
def set_weights(
    params: list[torch.nn.Parameter], base: list[torch.Tensor], delta: torch.Tensor | None
) -> None:
    """``params <- base (+ delta)`` (``delta`` flat; the sum rounded to the weights' dtype)."""
    offset = 0
    for p, b in zip(params, base, strict=True):
        n = p.numel()
        if delta is None:
            p.copy_(b)
        else:
            p.copy_((b.double() + delta[offset : offset + n].view_as(p)).to(p.dtype))
        offset += n


def _snapshot(env) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    weights = {k: v.detach().clone() for k, v in env.policy.model.state_dict().items()}
    return weights, copy.deepcopy(env.optimizer.state_dict())


def random_checkpoints(
    env, config: StudyConfig, checkpoints: Sequence[int], seed: int, progress: bool = False
):
    """Run Random on ``env`` with the study's settings and yield its state at ``checkpoints``.

    The run is the study's Random run at ``seed`` (``config.loop`` up to the last
    checkpoint, evaluating as the study does, so its random numbers are the study's). At
    each checkpoint step, before that step's update, it yields ``(step, weights,
    optimizer_state, loop)``: copies of the policy's weights and the AdamW state, and the
    loop itself (its ``belief`` holds the counts so far; do not step it).
    """
    from tqdm.auto import tqdm

    from insight_bayes.loop import SelectionLoop

    todo = sorted({check_int(c, "checkpoint", min_value=0) for c in checkpoints})
    horizon = dataclasses.replace(config.loop, steps=max(todo))
    loop = SelectionLoop(env, "random", horizon, seed=seed, rule="random")
    bar = tqdm(total=max(todo), desc=f"random seed {seed}", disable=not progress)
    if horizon.eval_every:
        loop.evaluate()  # as iter_steps does: the same random numbers as the study's run
    while True:
        step = loop.step_count
        if step in todo:
            weights, opt_state = _snapshot(env)
            yield step, weights, opt_state, loop
        if step >= max(todo):
            break
        loop.step()
        bar.update(1)
    bar.close()
