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

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from insight_bayes.validation import check_int, check_real

__all__ = [
    "EVAL_COST",
    "MARGIN",
    "TimeBudget",
    "budget_records",
    "fit_block",
    "now",
    "pilot_seconds_per_run_step",
    "previous_seconds_per_run_step",
    "run_seconds",
    "train_within_budget",
]

log = logging.getLogger(__name__)


def now() -> float:
    """The clock a budget counts on (``time.monotonic``, seconds)."""
    return time.monotonic()


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
        The :func:`now` the budget counts from (default: now).
    measure : bool
        Whether :meth:`observe` replaces ``seconds_per_run_step`` with the speed measured
        (default); ``False`` keeps the given speed (a speed the user states).
    stopped_early : bool
        Whether runs were left for a later call (set by :func:`train_within_budget`).
    blocks : list of int
        The size of each block (or 1 for each run alone) started under the budget.
    measured : list of float
        The seconds per run-step each finished block or run measured (:meth:`observe`).
    started_at : str
        When the budget was made (UTC, ISO 8601): which call a record belongs to.
    """

    seconds: float
    seconds_per_run_step: float
    started: float = field(default_factory=lambda: now())
    measure: bool = True
    stopped_early: bool = False
    blocks: list[int] = field(default_factory=list)
    measured: list[float] = field(default_factory=list)
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def __post_init__(self) -> None:
        check_real(self.seconds, "time budget (seconds)", low=0.0, low_inclusive=False)
        check_real(self.seconds_per_run_step, "seconds per run-step", low=0.0, low_inclusive=False)

    def left(self) -> float:
        """Seconds until the deadline (negative after it)."""
        return self.seconds - (now() - self.started)

    def plan(self, todo: int, loop, *, unit: int, block: int, workers: int = 1) -> tuple[int, int]:
        """``(runs, block size)``: how many of ``todo`` runs to start now, and in blocks of
        how many, so that they are expected to finish before the deadline.

        ``block = 1`` plans runs one at a time on ``workers`` parallel workers; otherwise
        blocks of at most ``block`` runs (:func:`fit_block`) one after another.
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
        return runs, max(size, 1)

    def observe(self, seconds: float, runs: int, loop) -> None:
        """Record that ``runs`` runs of ``loop`` (one block, or one run) took ``seconds`` of
        wall time, and plan from now on at that speed (the inverse of :func:`run_seconds`,
        without its margin) unless ``measure`` is off."""
        check_int(runs, "runs", min_value=1)
        evaluations = loop.steps // loop.eval_every + 1 if loop.eval_every else 0
        work = runs * (loop.steps + EVAL_COST * evaluations)
        if seconds > 0 and work > 0:
            self.measured.append(round(seconds / work, 6))
            if self.measure:
                self.seconds_per_run_step = seconds / work

    def mark(self) -> tuple[int, int]:
        """Where ``blocks`` and ``measured`` stand now (for :meth:`record`)."""
        return len(self.blocks), len(self.measured)

    def record(self, since: tuple[int, int] = (0, 0)) -> dict[str, Any]:
        """What a manifest keeps of the budget: the blocks started and the speeds measured
        after ``since`` (a :meth:`mark`; one task draw's share of a multi-draw call)."""
        return {
            "started_at": self.started_at,
            "seconds": float(self.seconds),
            "seconds_per_run_step": float(self.seconds_per_run_step),
            "eval_cost": EVAL_COST,
            "margin": MARGIN,
            "stopped_early": bool(self.stopped_early),
            "blocks": list(self.blocks[since[0] :]),
            "measured_seconds_per_run_step": list(self.measured[since[1] :]),
        }


def train_within_budget(
    budget: TimeBudget,
    jobs: list,
    store,
    train: Callable[[list, int], Any],
    config,
    *,
    block: int,
    workers: int = 1,
):
    """Train the runs of ``jobs`` that ``budget`` expects to finish; returns the
    :class:`~insight_bayes.results.runner.RunReport` of all it trained.

    With one worker, one block (or one run, ``block = 1``) at a time: each is sized by
    :meth:`TimeBudget.plan` at the speed the blocks before it measured
    (:meth:`TimeBudget.observe`; the first at the budget's own). With several workers,
    one plan for all (the runs in parallel finish together). ``train(part, size)`` trains
    the jobs ``part`` in blocks of ``size`` (the study's :func:`run_jobs` call). Sets
    ``budget.stopped_early`` when runs are left.
    """
    from insight_bayes.results.runner import RunReport

    resumed = [job.key for job in jobs if store.is_complete(job.key)]
    todo = [job for job in jobs if not store.is_complete(job.key)]
    unit = len(config.study.rules)
    trained: list = []
    started = now()
    while todo:
        n, size = budget.plan(len(todo), config.loop, unit=unit, block=block, workers=workers)
        if n == 0:
            break
        part = todo[:n] if workers > 1 else todo[: (size if block > 1 else 1)]
        began = now()
        report = train(part, size)
        budget.blocks += [size] * max(1, len(part) // size)
        trained += report.trained
        todo = todo[len(part) :]
        if workers > 1:
            break  # one plan for parallel workers
        budget.observe(now() - began, len(part), config.loop)
    budget.stopped_early = bool(todo)
    if todo:
        log.info(
            "time budget: %.0f s left at %.3g s per run-step: %d runs left for the next call "
            "(the same command resumes them)",
            budget.left(), budget.seconds_per_run_step, len(todo),
        )  # fmt: skip
    return RunReport(trained=trained, resumed=resumed, seconds=now() - started)


def pilot_seconds_per_run_step(design: dict[str, Any] | None) -> float | None:
    """Wall seconds per run-step of the design's Random pilot (its slowest rate), or
    ``None`` when the record has no timed pilot."""
    pilots = (design or {}).get("pilots") or []
    timed = [float(p["seconds_per_run_step"]) for p in pilots if p.get("seconds_per_run_step")]
    return max(timed) if timed else None


def budget_records(out) -> list[tuple[str, dict[str, Any]]]:
    """``(name, manifest)`` of each study folder in ``out``: its draw folders in draw order,
    or ``out`` itself for a single-draw study (absent folders left out). A manifest's
    ``time_budget`` holds one :meth:`TimeBudget.record` per budgeted call (the one reader
    of what :func:`~insight_bayes.rlvr.study.run_single_study` writes there)."""
    import json
    from pathlib import Path

    root = Path(out)
    paths = sorted(root.glob("draw-*/manifest.json"), key=lambda p: int(p.parent.name[5:]))
    return [
        (path.parent.name if paths else root.name, json.loads(path.read_text()))
        for path in paths or [root / "manifest.json"]
        if path.exists()
    ]


def previous_seconds_per_run_step(out) -> float | None:
    """The speed an earlier budgeted call of the study in ``out`` measured: the slowest
    block of the latest call that finished one (its draws in order), or ``None``.

    A resumed call plans its first block with it rather than with the design's pilot, a
    block of 2 runs that is slower per run-step than a study's blocks.
    """
    found = None
    for _, manifest in budget_records(out):
        for call in manifest.get("time_budget", []):
            if call["measured_seconds_per_run_step"]:
                found = max(call["measured_seconds_per_run_step"])
    return found
