"""Probing a Random run's checkpoints: the run's state at chosen steps, the weights set
and reset around a probe, and exact success probabilities.

Shared by the measurements of :mod:`insight_bayes.rlvr.gradients` and the causal test of
:mod:`insight_bayes.rlvr.intervention`: both replay the study's Random run
(:func:`random_checkpoints`, or :func:`random_checkpoints_block` for several runs, of
several seeds and task draws, as one batched block), take copies of the weights and the
AdamW state there, try an update (:func:`set_weights`) and read the held-out effect
exactly (:func:`exact_success`).
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
    harnesses, checkpoints: Sequence[int], seeds: Sequence[int]
) -> list[dict[int, tuple[dict[str, torch.Tensor], dict[str, Any], Any]]]:
    """:func:`random_checkpoints` of several runs at once, trained as one batched block.

    Run ``i`` is the Random run at ``seeds[i]`` of ``harnesses[i]``'s study (one harness
    for all runs, or one per run: the runs of several task draws), each the run
    :func:`random_checkpoints` makes alone with that harness's config (on CPU bit for
    bit, on CUDA to rounding; see :mod:`insight_bayes.rlvr.batched`). Every run goes to
    the last checkpoint (a block's runs update in lockstep). Returns, for each run in
    order, ``{step: (weights, optimizer_state, belief)}``: at each checkpoint step, before
    that step's update, copies of the run's weights, its AdamW state (as a run alone's
    ``state_dict()``) and its belief.
    """
    from insight_bayes.rlvr.batched import RunBlock

    seeds = [check_int(s, "seed", min_value=0) for s in seeds]
    if not isinstance(harnesses, Sequence):
        harnesses = [harnesses] * len(seeds)
    runs = list(zip(harnesses, seeds, strict=True))
    if len({(id(h), s) for h, s in runs}) != len(runs):
        raise ValueError(f"seeds must differ on one harness, got {seeds}")
    block = RunBlock(harnesses, [("random", s) for s in seeds])

    def work(i: int, env) -> dict[int, tuple]:
        states = random_checkpoints(
            env, harnesses[i].config, checkpoints, seeds[i], snapshot=lambda _: block.snapshot(i)
        )
        return {
            step: (weights, opt_state, copy.deepcopy(loop.belief))
            for step, weights, opt_state, loop in states
        }

    return block.run(work)


def iter_checkpoints(
    harnesses: Mapping[int, Any],
    jobs: Mapping[tuple[int, int], Sequence[int]],
    runs_per_process: int = 1,
    progress: bool = False,
):
    """Every ``(draw, seed, step, weights, optimizer_state, belief)`` that ``jobs`` asks for.

    ``jobs`` maps a (task draw, Random seed) to its checkpoint steps (runs with none are
    skipped); ``harnesses`` maps each draw to its harness (its config is the run's). With
    ``runs_per_process = 1`` each run trains alone (:func:`random_checkpoints`, one at a
    time, yielding as it goes); with more, the runs, in the order of ``jobs``, are trained
    in batched blocks of that many (:func:`random_checkpoints_block`: a block may hold
    runs of several draws) and yielded run by run, step by step. Either way the state is
    the study's Random run's, before that step's update.
    """
    todo = {(int(d), int(s)): sorted(c) for (d, s), c in jobs.items() if c}
    if check_int(runs_per_process, "runs_per_process", min_value=1) == 1:
        for (draw, seed), steps in todo.items():
            harness = harnesses[draw]
            env = harness.environment()
            for step, weights, opt_state, loop in random_checkpoints(
                env, harness.config, steps, seed, progress
            ):
                yield draw, seed, step, weights, opt_state, loop.belief
        return
    keys = list(todo)
    for start in range(0, len(keys), runs_per_process):
        part = keys[start : start + runs_per_process]
        steps = sorted({c for key in part for c in todo[key]})
        found = random_checkpoints_block(
            [harnesses[d] for d, _ in part], steps, [s for _, s in part]
        )
        for (draw, seed), states in zip(part, found, strict=True):
            for step in todo[(draw, seed)]:
                yield draw, seed, step, *states[step]
