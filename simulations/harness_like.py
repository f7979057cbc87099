"""Simulate a harness study's rules on a learning pool shaped like its starting rates.

Reads the study folder (``manifest.json``, ``steps.parquet``, ``pool.parquet``,
``prompts.parquet``), fits a pool composition to the warm-up policy's per-prompt success
rates and runs the learning simulator with the study's ``M``, ``K``, ``M_hat``, steps and
rules (:func:`insight_bayes.analysis.ranking.simulator_scenario`). The figures and
notebook 3 then compare the two rankings of rules. Results land in OUT as a sweep does
(``steps.parquet``, ``summary.csv``, ``manifest.json`` naming the study); re-running
resumes.
"""

from __future__ import annotations

import argparse
import logging

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``insight-bayes sweep-like-study``."""
    parser.add_argument("study", help="a harness study folder, e.g. results/rlvr-cpu-study")
    parser.add_argument("--seeds", type=int, default=10, help="seeds 0..N-1 (default 10)")
    parser.add_argument("--workers", type=int, default=None, help="parallel workers (default CPUs)")
    parser.add_argument("--out", default="results/sim-harness-like", help="results folder")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run(args: argparse.Namespace) -> int:
    """Entry point of ``insight-bayes sweep-like-study``."""
    import json
    from pathlib import Path

    import pandas as pd

    from insight_bayes.analysis.ranking import simulator_scenario, starting_rates
    from insight_bayes.results import ResultStore, atomic_write_bytes, summary_table
    from simulations.sweep import run_sweep

    study = Path(args.study)
    manifest = json.loads((study / "manifest.json").read_text())
    rates = starting_rates(
        pd.read_parquet(study / "pool.parquet"), pd.read_parquet(study / "prompts.parquet")
    )
    rules = list(dict.fromkeys(pd.read_parquet(study / "steps.parquet", columns=["rule"])["rule"]))
    scenario = simulator_scenario(manifest["config"], rates)
    result = run_sweep(
        scenario, rules, args.seeds, args.out, workers=args.workers, progress=not args.no_progress
    )
    store = ResultStore(args.out)
    atomic_write_bytes(
        store.root / "summary.csv", summary_table(result.steps).to_csv(index=False).encode()
    )
    saved = store.read_manifest()
    saved["study"] = {
        "folder": str(study),
        "git_revision": manifest.get("git_revision"),
        "scenario": scenario.key,
        "description": scenario.description,
    }
    store.write_manifest(saved)
    print(f"{scenario.key}: {scenario.description}")
    print(
        f"{len(result.ran)} runs simulated, {len(result.skipped)} already complete, "
        f"{result.seconds:.1f} s -> {result.out}"
    )
    return 0
