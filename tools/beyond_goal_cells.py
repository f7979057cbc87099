"""The simulator goal of the rules beyond InSight over a robustness grid: per cell and
relative target, does a rule reach 1.10x InSight (paired interval above 1) and 85% of the
oracle's speed-up? A summary per rule.

    python tools/beyond_goal_cells.py results/sim-beyond-measured mopps-tracking insight-adaptive

Reads the grid's ``goal_cells.csv`` (which ``insight-bayes sweep SCENARIO --grid ...`` writes
when it runs a rule beyond InSight with InSight and the oracle); for an older grid folder
without it, computes the same table from ``steps.parquet`` and ``cells.csv``
(:func:`insight_bayes.analysis.beyond.goal_cells`) without writing it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from insight_bayes.analysis.beyond import goal_cells
from insight_bayes.results import relative_steps_to_target
from insight_bayes.results.reader import read_table
from simulations.grid import GRID_FRACTIONS


def _table(folder: Path, rules: list[str]) -> pd.DataFrame:
    if (folder / "goal_cells.csv").exists():
        return read_table(folder, "goal_cells")
    steps = pd.read_parquet(folder / "steps.parquet")
    reached = relative_steps_to_target(steps, GRID_FRACTIONS, metric="eval/accuracy")
    cells = read_table(folder, "cells")[["cell", "scenario"]]
    return pd.concat(
        [goal_cells(reached, r).merge(cells, on="scenario").assign(rule=r) for r in rules]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="a robustness-grid results folder")
    parser.add_argument("rules", nargs="+", help="the rules to test against InSight")
    args = parser.parse_args()
    table = _table(args.folder, args.rules)
    for rule in args.rules:
        g = table[table["rule"] == rule]
        if g.empty:
            raise SystemExit(f"{rule}: not in {args.folder}'s goal table")
        every = int(g.groupby("scenario")["meets"].all().sum())
        print(
            f"{rule}: goal met in {int(g['meets'].sum())} of {len(g)} (cell, target) cases; "
            f"in {every} of {g['scenario'].nunique()} cells at every target; ratio to InSight "
            f"above 1 (interval) in {int((g['ratio_low'] > 1).sum())}, below 1 in "
            f"{int((g['ratio_high'] < 1).sum())}; median ratio {g['ratio'].median():.3f}, "
            f"median oracle fraction {g['oracle_fraction'].median():.3f}"
        )


if __name__ == "__main__":
    main()
