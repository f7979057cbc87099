"""A study under a time limit: train only the runs expected to finish before it.

A device call, a CI job or a working session ends at a fixed time, and a harness run
killed half-way is lost (finished runs are kept, a half-trained one is not). Under
``rlvr-study --time-budget SECONDS`` the study plans from a measured speed
(:class:`TimeBudget`): blocks of runs are sized to finish in the time left
(:func:`fit_block`), whole seeds of every rule when they fit, and a run or block that is
not expected to finish is not started. The rest waits for the next call of the same
command, which resumes.

The speed is wall seconds per run-step, measured by the design's Random pilot
(:func:`pilot_seconds_per_run_step`, every step's exact evaluation included) or given
(``--run-step-seconds``). The plan is an estimate: the hard stop stays the caller's (the
GPU script wraps the study in ``timeout``).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

from insight_bayes.validation import check_int, check_real

__all__ = [
    "EVAL_COST",
    "MARGIN",
    "TimeBudget",
    "fit_block",
    "pilot_seconds_per_run_step",
    "run_seconds",
]

#: A held-out sampled evaluation (``loop.eval_every``) costs this many training steps: a
#: guess above what the benchmarks measured (about 2.2 on the tiered CPU design, 1.3 on
#: the H200, ``benchmarks/results/rlvr_batched_*.md``).
EVAL_COST = 2.5
#: Planned seconds are the estimate times this (the speed is measured on a small block).
MARGIN = 1.2


def run_seconds(seconds_per_run_step: float, steps: int, eval_every: int) -> float:
    r"""Planned wall seconds of one run of a block (or of one run alone).

    .. math::
        T = \text{MARGIN} \cdot t \cdot
            \bigl(S + \text{EVAL\_COST} \cdot (\lfloor S / e \rfloor + 1)\bigr),

    with ``t`` the seconds per run-step, ``S`` the steps and ``e`` ``eval_every`` (no
    evaluation term when ``e = 0``).
    """
    check_real(seconds_per_run_step, "seconds_per_run_step", low=0.0, low_inclusive=False)
    check_int(steps, "steps", min_value=0)
    check_int(eval_every, "eval_every", min_value=0)
    evaluations = steps // eval_every + 1 if eval_every else 0
    return MARGIN * seconds_per_run_step * (steps + EVAL_COST * evaluations)


def fit_block(seconds_left: float, per_run: float, unit: int, cap: int) -> int:
    """Runs of the largest block expected to finish in ``seconds_left``.

    A block of ``n`` runs is planned at ``n * per_run`` seconds (a batched block costs about
    its runs' sum, or less). The size is the largest multiple of ``unit`` (a study's rule
    count: whole seeds of every rule) up to ``cap``; when not even ``unit`` runs fit, the
    most runs that do; 0 when not one run fits.
    """
    check_real(per_run, "per_run", low=0.0, low_inclusive=False)
    check_int(unit, "unit", min_value=1)
    check_int(cap, "cap", min_value=1)
    most = min(cap, int(max(seconds_left, 0.0) // per_run))
    if most >= unit:
        return most // unit * unit
    return most


@dataclass
class TimeBudget:
    """A deadline ``seconds`` after construction and the speed the plan assumes.

    Parameters
    ----------
    seconds : float
        Wall seconds from now until the study must have stopped (> 0).
    seconds_per_run_step : float
        Wall seconds of one run's GRPO step, its every-step evaluation included (> 0).
    started : float, optional
        The ``time.monotonic()`` the budget counts from (default: now).
    stopped_early : bool
        Set by :meth:`plan` when it left runs for a later call.
    """

    seconds: float
    seconds_per_run_step: float
    started: float = field(default_factory=time.monotonic)
    stopped_early: bool = False

    def __post_init__(self) -> None:
        check_real(self.seconds, "time budget (seconds)", low=0.0, low_inclusive=False)
        check_real(self.seconds_per_run_step, "seconds per run-step", low=0.0, low_inclusive=False)

    def left(self) -> float:
        """Seconds until the deadline (negative after it)."""
        return self.seconds - (time.monotonic() - self.started)

    def plan(self, todo: int, loop, *, unit: int, block: int, workers: int = 1) -> tuple[int, int]:
        """``(runs, block size)``: how many of ``todo`` runs to start now, and in blocks of
        how many, so that they are expected to finish before the deadline.

        ``block = 1`` plans runs one at a time on ``workers`` parallel workers; otherwise
        blocks of at most ``block`` runs (:func:`fit_block`) one after another. Sets
        ``stopped_early`` when some runs are left for a later call.
        """
        per_run = run_seconds(self.seconds_per_run_step, loop.steps, loop.eval_every)
        left = self.left()
        if block <= 1:
            # each worker finishes whole runs: a run does not split across workers
            runs = min(todo, workers * math.floor(max(left, 0.0) / per_run))
            size = 1
        else:
            size = fit_block(left, per_run, unit, min(block, todo)) if todo else 0
            runs = min(todo, size * math.floor(left / (size * per_run))) if size else 0
        if runs < todo:
            self.stopped_early = True
        return runs, max(size, 1)

    def record(self) -> dict[str, Any]:
        """What the manifest keeps of the budget."""
        return {
            "seconds": float(self.seconds),
            "seconds_per_run_step": float(self.seconds_per_run_step),
            "eval_cost": EVAL_COST,
            "margin": MARGIN,
            "stopped_early": bool(self.stopped_early),
        }


def pilot_seconds_per_run_step(design: dict[str, Any] | None) -> float | None:
    """Wall seconds per run-step of the design's Random pilot (its slowest rate), or
    ``None`` when the record has no timed pilot."""
    pilots = (design or {}).get("pilots") or []
    timed = [float(p["seconds_per_run_step"]) for p in pilots if p.get("seconds_per_run_step")]
    return max(timed) if timed else None
