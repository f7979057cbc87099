"""The GPU study's design checks as a results folder: every attempt's warm-ups in one table.

    PYTHONPATH=. python benchmarks/gpu_design_attempts.py results/rlvr-gpu-attempts

reads the folder's ``design-attempt-<n>.json`` (each a device call's ``design.json``,
written by :func:`insight_bayes.rlvr.design.run_design`) and writes

- ``warmups.csv``: one row per warm-up tried (:func:`~insight_bayes.rlvr.design.design_table`)
  with the attempt, its start time and whether the attempt passed;
- ``warmups.png``: the easiest tiers' success and the pool's mid-range prompts against
  the warm-up's length, with the checks' thresholds;
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


def read_attempts(folder: Path) -> list[tuple[int, dict]]:
    """Every ``design-attempt-<n>.json`` of ``folder`` as ``(n, record)``, in order of n."""
    paths = sorted(folder.glob("design-attempt-*.json"), key=_number)
    if not paths:
        raise FileNotFoundError(f"no design-attempt-<n>.json in {folder}")
    return [(_number(path), json.loads(path.read_text())) for path in paths]


def attempts_table(attempts: list[tuple[int, dict]]) -> pd.DataFrame:
    """The attempts' warm-ups as one tidy table (:func:`design_table` of each record)."""
    frames = []
    for number, record in attempts:
        table = design_table(record)
        table.insert(0, "attempt", number)
        table.insert(1, "started", record["started"])
        table["attempt_passed"] = bool(record["passed"])
        frames.append(table)
    return pd.concat(frames, ignore_index=True)


def plot_warmups(table: pd.DataFrame, settings: dict, gate: dict | None, path: Path) -> None:
    """Tier success and mid-range prompts against the warm-up's steps, every attempt."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = table.sort_values("steps_trained").drop_duplicates("steps_trained", keep="last")
    steps = rows["steps_trained"]
    tiers = sorted(int(c.split("_")[1]) for c in rows.columns if c.startswith("tier_"))
    easy = [t for t in tiers if t in settings.get("tiers", ())]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8), sharex=True)
    for t in tiers:
        style = "-" if t in easy else ":"
        left.plot(steps, rows[f"tier_{t}"], style, marker="o", ms=3, label=f"tier {t}")
    if easy:
        left.axhline(settings["min_tier_success"], color="k", lw=0.8, ls="--",
                     label="tiers' threshold (solid lines)")  # fmt: skip
    left.set(xscale="log", xlabel="warm-up steps", ylabel="success rate (pool, by tier)",
             ylim=(-0.03, 1.03))  # fmt: skip
    left.legend(fontsize=7, ncol=2)
    right.plot(steps, rows["mid_range"], "-o", ms=3, color="C3")
    if gate is not None:
        right.axhline(gate["min_mid_range"], color="k", lw=0.8, ls="--", label="gate's least")
        right.legend(fontsize=7)
    right.set(xscale="log", xlabel="warm-up steps", ylabel="pool prompts in (0.05, 0.95)")
    fig.suptitle("The design checks' warm-ups: each point a separate warm-up of that length "
                 "(every device call)", fontsize=10)  # fmt: skip
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    folder = parser.parse_args().folder
    attempts = read_attempts(folder)
    table = attempts_table(attempts)
    atomic_write_bytes(folder / "warmups.csv", table.to_csv(index=False).encode())
    records = [record for _, record in attempts]
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
    gate = records[-1]["warmups"][-1]["gate"].get("settings") if records[-1]["warmups"] else None
    plot_warmups(table, records[-1]["settings"], gate, folder / "warmups.png")
    print(table.round(3).to_string(index=False))


if __name__ == "__main__":
    main()
