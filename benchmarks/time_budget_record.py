"""What a study's time budget did, call by call: the design pilot's speed, then for each
task draw (or the one folder) the blocks each call started, the speeds they measured and
whether runs were left.

    PYTHONPATH=. python benchmarks/time_budget_record.py STUDY_FOLDER

Reads only the folder's ``design.json`` and manifests (``rlvr-study --time-budget``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from insight_bayes.rlvr.design import read_design
from insight_bayes.rlvr.time_budget import budget_records


def describe(folder: Path) -> list[str]:
    """One line for the pilot, then one per (folder, call) under a budget."""
    lines = []
    pilots = read_design(folder).get("pilots", [])
    if pilots:
        speeds = [round(p["seconds_per_run_step"], 4) for p in pilots
                  if "seconds_per_run_step" in p]  # fmt: skip
        lines.append(f"design pilot: seconds per run-step {speeds}")
    for name, manifest in budget_records(folder):
        lines.append(f"{name}: {manifest.get('status')}, runs {manifest.get('runs')}")
        for i, call in enumerate(manifest.get("time_budget", []), 1):
            when = f" ({call['started_at']})" if "started_at" in call else ""
            lines.append(
                f"  call {i}{when}: budget {call['seconds']:g} s, blocks {call['blocks']}, "
                f"measured seconds per run-step {call['measured_seconds_per_run_step']}, runs left "
                f"{call['stopped_early']}"
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    print("\n".join(describe(parser.parse_args().folder)))


if __name__ == "__main__":
    main()
