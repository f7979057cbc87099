"""The simulator goal of the rules beyond InSight over the robustness grid: per cell and
relative target, does a rule reach 1.10x InSight (paired interval above 1) and 85% of the
oracle's speed-up?

    python tools/beyond_goal_cells.py results/sim-beyond-robustness mopps-tracking insight-adaptive

Reads the grid's ``steps.parquet`` and ``cells.csv`` (written by
``insight-bayes sweep countdown-paper --grid robustness --rules ...``), writes
``goal_cells.csv`` next to them (:func:`insight_bayes.analysis.beyond.goal_cells`) and
prints a summary per rule.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from insight_bayes.analysis.beyond import goal_cells
from insight_bayes.results import relative_steps_to_target
from simulations.grid import GRID_FRACTIONS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="a robustness-grid results folder")
    parser.add_argument("rules", nargs="+", help="the rules to test against InSight")
    args = parser.parse_args()
    steps = pd.read_parquet(args.folder / "steps.parquet")
    reached = relative_steps_to_target(steps, GRID_FRACTIONS, metric="eval/accuracy")
    cells = pd.read_csv(args.folder / "cells.csv")[["cell", "scenario"]]
    tables = []
    for rule in args.rules:
        g = goal_cells(reached, rule).merge(cells, on="scenario").assign(rule=rule)
        tables.append(g)
        every = int(g.groupby("scenario")["meets"].all().sum())
        print(
            f"{rule}: goal met in {int(g['meets'].sum())} of {len(g)} (cell, target) cases; "
            f"in {every} of {g['scenario'].nunique()} cells at every target; ratio to InSight "
            f"above 1 (interval) in {int((g['ratio_low'] > 1).sum())}, below 1 in "
            f"{int((g['ratio_high'] < 1).sum())}; median ratio {g['ratio'].median():.3f}, "
            f"median oracle fraction {g['oracle_fraction'].median():.3f}"
        )
    pd.concat(tables).to_csv(args.folder / "goal_cells.csv", index=False)


if __name__ == "__main__":
    main()
