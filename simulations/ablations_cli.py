"""Run the paper's five ablations of InSight on a scenario and save their table.

Every variant (MI alone, the weight alone, mean versus sampled belief, mu, M_hat, the
belief discount) and Random run on the same scenario and seeds (see
:mod:`simulations.ablations`). Results land in OUT: ``steps.parquet`` (every run of
every ablation scenario, consolidated), ``summary.csv`` (one row per ablation variant:
final accuracy, steps to target, speed-up versus Random with a paired bootstrap 95%
interval, informative share) and ``manifest.json``. Per-run folders (``runs/``, not
committed) let a re-run resume: only missing runs are simulated. OUT (default
``results/scratch/sim-ablations``) holds one plan at one number of seeds: another is
refused unless ``--overwrite`` deletes OUT's results first. The command prints a
one-line headline (InSight versus Random, the fastest and the slowest variant), then
the table.
"""

from __future__ import annotations

import argparse
import logging

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``insight-bayes ablations``."""
    parser.add_argument(
        "base", nargs="?", default="countdown-paper", help="base scenario (default countdown-paper)"
    )
    parser.add_argument("--seeds", type=int, default=10, help="seeds 0..N-1 (default 10)")
    parser.add_argument("--workers", type=int, default=None, help="parallel workers (default CPUs)")
    parser.add_argument(
        "--out",
        default="results/scratch/sim-ablations",
        help="results folder (default results/scratch/sim-ablations, git-ignored; the "
        "committed results/sim-ablations is remade by insight-bayes reproduce)",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="delete the results of another plan or other seeds found in --out first",
    )
    parser.add_argument(
        "--n-boot", type=int, default=2000, help="bootstrap replicates (default 2000)"
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run(args: argparse.Namespace) -> int:
    """Entry point of ``insight-bayes ablations``."""

    from insight_bayes.results import ResultStore, atomic_write_bytes
    from simulations.ablations import ablation_plan, ablation_table, run_ablations

    plan = ablation_plan(args.base)
    steps = run_ablations(
        plan,
        args.seeds,
        args.out,
        workers=args.workers,
        progress=not args.no_progress,
        overwrite=args.overwrite,
    )
    steps = steps.sort_values(["scenario", "rule", "seed", "step"], kind="stable")
    store = ResultStore(args.out)
    # each run_sweep call leaves only its own scenario in steps.parquet: write them all
    store.write_table("steps", steps.reset_index(drop=True))
    table = ablation_table(plan, steps, n_boot=args.n_boot)
    atomic_write_bytes(store.root / "summary.csv", table.to_csv(index=False).encode())
    manifest = store.read_manifest()
    manifest["ablations"] = {
        "base": args.base,
        "seeds": list(range(args.seeds)),
        "n_boot": args.n_boot,
        "plan": {a.name: [v.label for v in a.variants] for a in plan},
    }
    store.write_manifest(manifest)
    print(_headline(table, args.seeds))
    print()
    shown = table.assign(
        speedup=[f"{s:.2f}x [{lo:.2f}, {hi:.2f}]" for s, lo, hi in
                 zip(table["speedup"], table["ci_low"], table["ci_high"], strict=True)],
        final_accuracy=table["final_accuracy"].map("{:.3f}".format),
        steps_to_target=table["steps_to_target"].map("{:.1f}".format),
    )[["ablation", "variant", "speedup", "final_accuracy", "steps_to_target"]]  # fmt: skip
    print(shown.rename(columns={"speedup": "speed-up vs random"}).to_string(index=False))
    print(f"{len(steps)} step rows of {steps['scenario'].nunique()} scenarios -> {store.root}")
    return 0


def _headline(table, seeds: int) -> str:
    """One line: InSight at the paper's settings, and the fastest and slowest variants."""
    base = table[(table["rule"] == "insight") & (table["ablation"] == "components")]
    row = base.iloc[0] if not base.empty else table.iloc[0]
    fast = table.loc[table["speedup"].idxmax()]
    slow = table.loc[table["speedup"].idxmin()]
    return (
        f"{row['variant'] if base.empty else 'insight'} reaches the target "
        f"{row['speedup']:.2f}x faster than random (95% CI {row['ci_low']:.2f}-"
        f"{row['ci_high']:.2f}), {seeds} seeds; fastest variant: {fast['variant']} "
        f"({fast['ablation']}, {fast['speedup']:.2f}x); slowest: {slow['variant']} "
        f"({slow['ablation']}, {slow['speedup']:.2f}x)"
    )
