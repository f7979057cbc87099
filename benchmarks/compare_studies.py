"""Whether two harness results' tables are the same, bit for bit: not a timing.

    PYTHONPATH=. python benchmarks/compare_studies.py FOLDER_A FOLDER_B \\
        --out benchmarks/results/tiered_blocks_vs_alone.txt [--append]

Compares every table of :data:`KEYS` that the first folder holds: a study's
``steps.parquet`` and ``choices.parquet``, the causal test's ``batches.parquet``
(``rlvr-intervention``) or the gradient measurement's ``groups.parquet``,
``effects.parquet`` and ``checkpoints.csv`` (``rlvr-gradients``). Rows are matched by the
table's key columns; every column is compared but the timings (names ending in
``seconds``). It prints the rows compared and, per table, ``identical`` or the columns that
differ with their largest absolute difference. Used to check that runs trained in blocks
equal the same runs trained one at a time.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

#: Each table that can be compared (file name under the folder) -> the columns that
#: identify a row.
KEYS = {
    "steps.parquet": ["rule", "seed", "step"],
    "choices.parquet": ["rule", "seed", "step", "rank"],
    "batches.parquet": ["draw", "seed", "checkpoint", "batch"],
    "groups.parquet": ["draw", "checkpoint", "prompt_id", "k", "replicate"],
    "effects.parquet": ["draw", "checkpoint", "prompt_id", "k", "replicate", "target_tier"],
    "checkpoints.csv": ["draw", "checkpoint", "target_tier"],
}


def _read(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)


def compare(a: Path, b: Path) -> list[str]:
    """One line per table of ``a``: its rows and whether every compared value is equal."""
    lines = []
    for name, key in KEYS.items():
        if not (a / name).exists():
            continue
        table = name.split(".")[0]
        if not (b / name).exists():
            lines.append(f"{table}: missing in {b}")
            continue
        left, right = _read(a / name), _read(b / name)
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
                if not x.isna().equals(y.isna()):
                    differ.append(f"{c} (NaN in other rows)")
                    continue
                gap = np.nanmax(np.abs(x.to_numpy() - y.to_numpy()), initial=0.0)
                differ.append(f"{c} (up to {gap:.3g})")
            else:
                differ.append(c)
        verdict = "identical" if not differ else "differ: " + ", ".join(differ)
        lines.append(f"{table}: {len(left)} rows, {len(columns)} columns compared: {verdict}")
    if not lines:
        raise ValueError(f"{a} holds none of the tables compared: {', '.join(KEYS)}")
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
