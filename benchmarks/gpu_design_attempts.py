"""The GPU study's design checks as a results folder: every attempt's warm-ups in one table.

    PYTHONPATH=. python benchmarks/gpu_design_attempts.py results/rlvr-gpu-attempts

reads the folder's ``design-attempt-<n>.json`` (each a device call's ``design.json``,
written by :func:`insight_bayes.rlvr.design.run_design`) and writes

- ``warmups.csv``: one row per warm-up tried (:func:`~insight_bayes.rlvr.design.design_table`)
  with the attempt, its start time and whether the attempt passed;
- ``manifest.json`` (kind ``design``), so the docs build a page from the table.

No rule trains in a design check: the table is the evidence that a study ran, or why not.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import pandas as pd

from insight_bayes.results.io import atomic_write_bytes, atomic_write_json, build_manifest
from insight_bayes.rlvr.design import design_table

COMMAND = "PYTHONPATH=. python benchmarks/gpu_design_attempts.py results/rlvr-gpu-attempts"


def _number(path: Path) -> int:
    return int(re.findall(r"\d+", path.stem)[-1])


def attempts_table(folder: Path) -> pd.DataFrame:
    """Every ``design-attempt-<n>.json`` of ``folder`` as one tidy table, attempts in order."""
    frames = []
    paths = sorted(folder.glob("design-attempt-*.json"), key=_number)
    if not paths:
        raise FileNotFoundError(f"no design-attempt-<n>.json in {folder}")
    for path in paths:
        record = json.loads(path.read_text())
        table = design_table(record)
        table.insert(0, "attempt", _number(path))
        table.insert(1, "started", record["started"])
        table["attempt_passed"] = bool(record["passed"])
        frames.append(table)
    return pd.concat(frames, ignore_index=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    folder = parser.parse_args().folder
    table = attempts_table(folder)
    atomic_write_bytes(folder / "warmups.csv", table.to_csv(index=False).encode())
    paths = sorted(folder.glob("design-attempt-*.json"), key=_number)
    records = [json.loads(p.read_text()) for p in paths]
    manifest = build_manifest(
        "design",
        {"settings": [r["settings"] for r in records]},
        rules=["random"],
        seeds=[],
        analysis={},
        command=COMMAND,
        attempts=len(records),
        device=records[-1]["device"],
    )
    atomic_write_json(folder / "manifest.json", manifest)
    print(table.round(3).to_string(index=False))


if __name__ == "__main__":
    main()
