"""Probing a Random run's checkpoints: the run's state at chosen steps, the weights set
and reset around a probe, and exact success probabilities.

Shared by the measurements of :mod:`insight_bayes.rlvr.gradients` and the causal test of
:mod:`insight_bayes.rlvr.intervention`: both replay the study's Random run
(:func:`random_checkpoints`, or :func:`random_checkpoints_block` for several seeds as one
batched block), take copies of the weights and the AdamW state there, try
an update (:func:`set_weights`) and read the held-out effect exactly
(:func:`exact_success`).
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from insight_bayes.rlvr.config import StudyConfig
from insight_bayes.validation import check_int

__all__ = [
    "exact_success",
    "iter_checkpoints",
    "random_checkpoints",
    "random_checkpoints_block",
    "set_weights",
]


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
    env,
    config: StudyConfig,
    checkpoints: Sequence[int],
    seed: int,
    progress: bool = False,
    snapshot: Callable[[Any], tuple[dict[str, torch.Tensor], dict[str, Any]]] | None = None,
):
    """Run Random on ``env`` with the study's settings and yield its state at ``checkpoints``.

    The run is the study's Random run at ``seed`` (``config.loop`` up to the last
    checkpoint, evaluating as the study does, so its random numbers are the study's). At
    each checkpoint step, before that step's update, it yields ``(step, weights,
    optimizer_state, loop)``: copies of the policy's weights and the AdamW state, and the
    loop itself (its ``belief`` holds the counts so far; do not step it). ``snapshot(env)``
    takes the copies (default: the environment's own model and optimiser; a run of a
    batched block takes them from its block).
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
            weights, opt_state = (snapshot or _snapshot)(env)
            yield step, weights, opt_state, loop
        if step >= max(todo):
            break
        loop.step()
        bar.update(1)
    bar.close()


def random_checkpoints_block(
    harness, config: StudyConfig, checkpoints: Sequence[int], seeds: Sequence[int]
) -> dict[tuple[int, int], tuple[dict[str, torch.Tensor], dict[str, Any], Any]]:
    """:func:`random_checkpoints` of several seeds at once, trained as one batched block.

    The Random runs of ``seeds`` are the block's runs
    (:class:`~insight_bayes.rlvr.batched.RunBlock`), each the run
    :func:`random_checkpoints` makes alone (floats agree to rounding; see
    :mod:`insight_bayes.rlvr.batched`). Every run goes to the last checkpoint (a block's
    runs update in lockstep). Returns ``{(seed, step): (weights, optimizer_state,
    belief)}``: at each checkpoint step, before that step's update, copies of the run's
    weights, its AdamW state (as a run alone's ``state_dict()``) and its belief.
    """
    from insight_bayes.rlvr.batched import RunBlock

    seeds = [check_int(s, "seed", min_value=0) for s in seeds]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must differ, got {seeds}")
    block = RunBlock(harness, [("random", s) for s in seeds])

    def work(i: int, env) -> dict[tuple[int, int], tuple]:
        states = random_checkpoints(
            env, config, checkpoints, seeds[i], snapshot=lambda _: block.snapshot(i)
        )
        return {
            (seeds[i], step): (weights, opt_state, copy.deepcopy(loop.belief))
            for step, weights, opt_state, loop in states
        }

    found: dict[tuple[int, int], tuple] = {}
    for part in block.run(work):
        found.update(part)
    return found


def iter_checkpoints(
    harness,
    config: StudyConfig,
    jobs: Mapping[int, Sequence[int]],
    runs_per_process: int = 1,
    progress: bool = False,
):
    """Every ``(seed, step, weights, optimizer_state, belief)`` that ``jobs`` asks for.

    ``jobs`` maps a Random seed to its checkpoint steps (seeds with none are skipped).
    With ``runs_per_process = 1`` each seed runs alone (:func:`random_checkpoints`, one at
    a time, yielding as it goes); with more, the seeds are trained in batched blocks of
    that many (:func:`random_checkpoints_block`) and yielded seed by seed, step by step.
    Either way the state is the study's Random run's, before that step's update.
    """
    todo = {int(s): sorted(c) for s, c in jobs.items() if c}
    if check_int(runs_per_process, "runs_per_process", min_value=1) == 1:
        for seed, steps in todo.items():
            env = harness.environment()
            for step, weights, opt_state, loop in random_checkpoints(
                env, config, steps, seed, progress
            ):
                yield seed, step, weights, opt_state, loop.belief
        return
    seeds = list(todo)
    for start in range(0, len(seeds), runs_per_process):
        part = seeds[start : start + runs_per_process]
        steps = sorted({c for seed in part for c in todo[seed]})
        found = random_checkpoints_block(harness, config, steps, part)
        for seed in part:
            for step in todo[seed]:
                yield seed, step, *found[(seed, step)]
