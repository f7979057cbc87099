"""Whether two harness studies' results are the same, bit for bit: not a timing.

    PYTHONPATH=. python benchmarks/compare_studies.py STUDY_A STUDY_B \\
        --out benchmarks/results/tiered_blocks_vs_alone.txt [--append]

Compares the two folders' ``steps.parquet`` (every column but the ``*seconds`` timings) and
``choices.parquet`` (every column), rows matched by rule, seed and step (and rank), and
prints the rows compared and, per table, ``identical`` or the columns that differ with
their largest absolute difference. Used to check that a study trained in blocks of runs
equals the same study trained one run at a time.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

KEYS = {"steps": ["rule", "seed", "step"], "choices": ["rule", "seed", "step", "rank"]}


def compare(a: Path, b: Path) -> list[str]:
    """One line per table: its rows and whether every compared value is equal."""
    lines = []
    for table, key in KEYS.items():
        left, right = (pd.read_parquet(folder / f"{table}.parquet") for folder in (a, b))
        if len(left) != len(right):
            lines.append(f"{table}: {len(left)} rows against {len(right)}")
            continue
        left, right = (t.sort_values(key).reset_index(drop=True) for t in (left, right))
        columns = [c for c in left.columns if not c.endswith("seconds")]
        differ = []
        for c in columns:
            x, y = left[c], right[c]
            if x.equals(y):
                continue
            if x.dtype.kind == "f" and y.dtype.kind == "f":
                gap = np.nanmax(np.abs(x.to_numpy() - y.to_numpy()), initial=0.0)
                differ.append(f"{c} (up to {gap:.3g})")
            else:
                differ.append(c)
        verdict = "identical" if not differ else "differ: " + ", ".join(differ)
        lines.append(f"{table}: {len(left)} rows, {len(columns)} columns compared: {verdict}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", type=Path)
    parser.add_argument("b", type=Path)
    parser.add_argument("--out", type=Path, default=None, help="text file for the lines")
    parser.add_argument("--append", action="store_true", help="add the lines to --out")
    args = parser.parse_args()
    lines = [f"{args.a.name} against {args.b.name}", *compare(args.a, args.b)]
    print("\n".join(lines))
    if args.out:
        with args.out.open("a" if args.append else "w") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
