"""Make the saved results the figures read: ``insight-bayes reproduce``.

    insight-bayes reproduce [--results results] [--quick] [--only NAME ...] [--list]

The figures only draw (``insight-bayes figures``); this command is the one that runs
sweeps, studies and fits. For every result of :mod:`paper_figures.sources` it makes the
folder when it is missing or incomplete, and leaves a complete one alone, so a second call
does nothing. With ``--quick`` it makes the small stand-ins under ``RESULTS/scratch/``
(seconds to minutes: CI); a result whose stand-in is the committed folder itself (the
tiered study, the causal test, the simulator-versus-harness comparison: hours of
training) is copied from the repository's ``results/`` when ``RESULTS`` is another folder.
So ``reproduce --quick --results EMPTY`` followed by ``figures --quick --results EMPTY``
draws every figure from an empty folder.
"""

from __future__ import annotations

import argparse
import shutil
from dataclasses import dataclass
from pathlib import Path

from paper_figures.sources import (
    ABLATIONS,
    BEYOND,
    BEYOND_MEASURED,
    BEYOND_ROBUSTNESS,
    EB,
    EB_MEASURED,
    HARNESS,
    INTERVENTION,
    MEASURED,
    NOISY,
    REPO,
    ROBUSTNESS,
    SIM_VS_HARNESS,
    SIMULATED,
    TIERED,
    SavedResult,
    pick,
    shown,
)

__all__ = ["RESULTS", "Step", "add_arguments", "plan", "reproduce", "run"]

#: Every saved result by name, in the order they are made (each one's inputs first: the
#: harness studies before the comparison that reads them).
RESULTS: dict[str, tuple[SavedResult, SavedResult]] = {
    "simulated": SIMULATED,
    "ablations": ABLATIONS,
    "beyond": BEYOND,
    "robustness": ROBUSTNESS,
    "eb": EB,
    "noisy": NOISY,
    "beyond-robustness": BEYOND_ROBUSTNESS,
    "harness": HARNESS,
    "tiered": TIERED,
    "intervention": INTERVENTION,
    "sim-vs-harness": SIM_VS_HARNESS,
    "measured": MEASURED,
    "beyond-measured": BEYOND_MEASURED,
    "eb-measured": EB_MEASURED,
}


@dataclass(frozen=True)
class Step:
    """What :func:`reproduce` does with one result: ``"have"``, ``"make"`` or ``"copy"``."""

    name: str
    result: SavedResult
    action: str

    def describe(self, results: Path) -> str:
        folder = shown(self.result.path(results))
        if self.action == "have":
            return f"{self.name}: {folder} is complete"
        if self.action == "copy":
            return f"{self.name}: copy the committed {shown(REPO / 'results' / self.result.folder)}"
        took = f" ({self.result.duration})" if self.result.duration else ""
        return f"{self.name}: {self.result.command(results)}{took}"


def _committed_stand_in(pair: tuple[SavedResult, SavedResult]) -> bool:
    """Whether the quick stand-in of ``pair`` is the full (committed) result itself."""
    return pair[0] is pair[1]


def plan(results: Path, quick: bool = False, only: list[str] | None = None) -> list[Step]:
    """The step of every result (or of ``only``), in :data:`RESULTS` order.

    Raises
    ------
    ValueError
        For a name not in :data:`RESULTS`.
    """
    names = list(RESULTS) if not only else list(only)
    unknown = [n for n in names if n not in RESULTS]
    if unknown:
        raise ValueError(f"unknown result(s) {unknown}; choose from {', '.join(RESULTS)}")
    steps = []
    for name in (n for n in RESULTS if n in names):
        pair = RESULTS[name]
        result = pick(pair, quick)
        if not result.missing_files(results):
            action = "have"
        elif quick and _committed_stand_in(pair):
            action = "copy"
        else:
            action = "make"
        steps.append(Step(name, result, action))
    return steps


def reproduce(
    results: Path, quick: bool = False, only: list[str] | None = None, say=print
) -> list[Step]:
    """Make every missing result of :func:`plan` under ``results``; the steps taken.

    Raises
    ------
    FileNotFoundError
        When a committed stand-in to copy is not in the repository either.
    RuntimeError
        When a command exits with a non-zero status.
    """
    results = Path(results)
    steps = plan(results, quick, only)
    for step in steps:
        say(step.describe(results))
        if step.action == "copy":
            source = REPO / "results" / step.result.folder
            if step.result.missing_files(source.parent):
                raise FileNotFoundError(
                    f"{shown(source)} is not complete in this checkout: run "
                    f"'{step.result.command(results)}'"
                )
            target = step.result.path(results)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copytree(source, target, dirs_exist_ok=True)
        elif step.action == "make":
            step.result.make(results)
    return steps


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``insight-bayes reproduce``."""
    parser.add_argument(
        "--results", type=Path, default=Path("results"), help="folder to make the results in"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="make the small stand-ins under RESULTS/scratch/ (CI) instead of the full results",
    )
    parser.add_argument(
        "--only", nargs="*", default=None, help=f"a subset of: {', '.join(RESULTS)}"
    )
    parser.add_argument(
        "--list", action="store_true", help="print what would be done, and do nothing"
    )


def run(args: argparse.Namespace) -> int:
    """Entry point of ``insight-bayes reproduce``."""
    if args.list:
        for step in plan(args.results, args.quick, args.only):
            print(step.describe(args.results))
        return 0
    steps = reproduce(args.results, args.quick, args.only)
    made = sum(step.action != "have" for step in steps)
    print(f"{made} of {len(steps)} results made in {shown(args.results)}; the rest were complete")
    return 0
