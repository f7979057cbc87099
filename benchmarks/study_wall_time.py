"""Wall time of a finished harness study, end to end, from its own records.

    PYTHONPATH=. python benchmarks/study_wall_time.py STUDY_FOLDER \\
        --out benchmarks/results/rlvr_study_wall_cpu.csv

Reads the study's ``manifest.json`` (``created`` to ``updated``, the workers, the commit)
and every run's ``*.done.json`` (its wall seconds; a run of a block of ``n`` records the
block's, and counts ``1 / n`` of it), and appends one row: the study's minutes from its
first record to its last (warm-up, pool gate, every run), the runs' summed minutes, and
the 30-minute goal of the CPU tiered study. Time a study that ran in
one sitting: a resumed one's records span the pause. The CPU kernels come from the
manifest's ``device_name`` (``--kernels`` for a study recorded before it named them); the
load average is not known afterwards, so run the study with nothing else on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import re
from datetime import datetime
from pathlib import Path

import pandas as pd


def study_row(folder: Path, kernels: str | None = None) -> dict:
    """One row of timings for the finished study in ``folder``."""
    manifest = json.loads((folder / "manifest.json").read_text())
    named = re.search(r"\((\w+) kernels\)", manifest.get("device_name", ""))
    kernels = kernels or (named.group(1) if named else None)
    if kernels is None:
        raise SystemExit(f"{folder}: the manifest does not name the CPU kernels; pass --kernels")
    runs = manifest["runs"]
    if manifest.get("status") != "complete" or runs["complete"] != runs["expected"]:
        raise SystemExit(f"{folder}: the study has not finished ({runs})")
    done = [json.loads(p.read_text()) for p in sorted(folder.glob("runs/*/*/*.done.json"))]
    start, end = (datetime.fromisoformat(manifest[k]) for k in ("created", "updated"))
    return {
        "study": folder.name,
        "code": manifest["git_revision"][:7],
        "kernels": kernels,
        "device": manifest["device"],
        "workers": manifest["workers"],
        "runs_per_process": int(manifest.get("runs_per_process", 1)),
        "runs": runs["complete"],
        "warmup_cached": bool(manifest["warmup"].get("cached", False)),
        "wall_minutes": (end - start).total_seconds() / 60,
        # a block's runs each record the block's wall time: a run's share is 1 / block
        "run_minutes_summed": sum(d["wall_seconds"] / d.get("block", 1) for d in done) / 60,
        "goal_minutes": 30.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--kernels", default=None, help="e.g. AVX2 (default: the manifest's)")
    parser.add_argument("--out", default=None, help="CSV to append the row to (.md beside it)")
    args = parser.parse_args()
    table = pd.DataFrame([study_row(args.folder, args.kernels)])
    if args.out and os.path.exists(args.out):
        table = pd.concat([pd.read_csv(args.out), table], ignore_index=True)
    print(table.round(2).to_string(index=False))
    if args.out:
        table.to_csv(args.out, index=False)
        Path(args.out).with_suffix(".md").write_text(table.round(2).to_markdown(index=False) + "\n")


if __name__ == "__main__":
    main()
