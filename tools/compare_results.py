"""Compare two results folders table by table, column by column (timings left out).

    python tools/compare_results.py results/sim-countdown-paper /tmp/again/sim-countdown-paper

Every CSV and Parquet table of the first folder must exist in the second with the same
shape and columns; numbers must be equal to the bit (NaN where NaN), text equal.
Wall-clock columns (``*_seconds``, ``ms_per_step``, ``seconds_to_target``) differ from
run to run and are left out. Prints one line per table (``identical``, or what differs
with the largest absolute difference) and exits 1 when any table differs: the check that
a re-simulated sweep or a re-gathered study is the committed one.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

TIMING = ("ms_per_step", "seconds_to_target")


def differences(old: pd.DataFrame, new: pd.DataFrame) -> list[str]:
    """What differs between two tables (empty when they are the same but for timings)."""
    if list(old.columns) != list(new.columns):
        return [f"columns {sorted(set(old.columns) ^ set(new.columns))}"]
    if old.shape != new.shape:
        return [f"shape {old.shape} != {new.shape}"]
    found = []
    for column in old.columns:
        if column.endswith("_seconds") or column in TIMING:
            continue
        a, b = old[column], new[column]
        numeric = pd.api.types.is_numeric_dtype(a) and pd.api.types.is_numeric_dtype(b)
        if not numeric:
            if not a.astype(str).equals(b.astype(str)):
                found.append(f"{column} (text)")
            continue
        x, y = a.to_numpy(dtype=float), b.to_numpy(dtype=float)
        if not np.array_equal(np.isnan(x), np.isnan(y)):
            found.append(f"{column} (NaN pattern)")
        elif not np.array_equal(x[~np.isnan(x)], y[~np.isnan(y)]):
            found.append(f"{column} (max |diff| {np.nanmax(np.abs(x - y)):.3g})")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", type=Path, help="the committed folder")
    parser.add_argument("new", type=Path, help="the folder made again")
    args = parser.parse_args(argv)
    tables = sorted([*args.old.glob("*.csv"), *args.old.glob("*.parquet")])
    if not tables:
        print(f"{args.old} holds no table", file=sys.stderr)
        return 2
    same = True
    for path in tables:
        other = args.new / path.name
        if not other.exists():
            print(f"MISSING {path.name}")
            same = False
            continue
        read = pd.read_csv if path.suffix == ".csv" else pd.read_parquet
        found = differences(read(path), read(other))
        same &= not found
        print(f"{'identical' if not found else 'DIFFERS'} {path.name}"
              + (f": {', '.join(found)}" if found else ""))  # fmt: skip
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
