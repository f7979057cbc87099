"""Run a sweep of selection rules over seeds on a simulated scenario, then print the
summary table (final accuracy, informative share, rollouts, steps-to-target and the
speed-up of every rule versus Random with bootstrap intervals).

Re-running the same command resumes: only missing runs are simulated. Results land in
OUT as tidy Parquet tables (steps.parquet, runs/...), summary.csv and manifest.json.
"""

from __future__ import annotations

import argparse
import logging

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``insight-bayes sweep``."""
    from insight_bayes.cli_types import (
        int_at_least,
        positive_int,
        rule_label,
        rule_labels,
        scenario_name,
        unit_interval,
    )
    from insight_bayes.selectors import PAPER_RULES
    from simulations.scenarios import available_scenarios

    parser.add_argument(
        "scenario",
        nargs="?",
        type=scenario_name,
        help=f"scenario name; one of: {', '.join(available_scenarios())}",
    )
    parser.add_argument(
        "--rules",
        type=rule_labels,
        default=list(PAPER_RULES),
        help="comma-separated rule labels, e.g. 'random,insight,insight:mu=0.1' "
        "(default: the paper's nine rules)",
    )
    parser.add_argument(
        "--seeds", type=positive_int, default=10, help="seeds 0..N-1, N >= 1 (default 10)"
    )
    parser.add_argument("--backend", choices=("local", "ray"), default="local")
    parser.add_argument(
        "--workers", type=positive_int, default=None, help="parallel workers, >= 1 (default: CPUs)"
    )
    parser.add_argument("--out", default=None, help="results folder (default results/sim-SCENARIO)")
    parser.add_argument("--choices", action="store_true", help="also store per-choice tables")
    parser.add_argument(
        "--target",
        type=unit_interval,
        default=None,
        help="accuracy target in (0, 1] (default: the scenario's)",
    )
    parser.add_argument(
        "--baseline", type=rule_label, default="random", help="reference rule of the speed-ups"
    )
    parser.add_argument(
        "--n-boot", type=int_at_least(100), default=2000, help="bootstrap replicates, >= 100"
    )
    parser.add_argument(
        "--bayes",
        action="store_true",
        help="also fit the hierarchical censored PyMC model of steps-to-target",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")


def run(args: argparse.Namespace) -> int:
    """Entry point of ``insight-bayes sweep``."""
    from simulations.scenarios import SCENARIOS, get_scenario
    from simulations.speedup import bootstrap_speedups, steps_to_target, summary_table
    from simulations.store import ResultStore
    from simulations.sweep import run_sweep

    if args.list or not args.scenario:
        for name, s in SCENARIOS.items():
            print(f"{name:20s} v{s.version}  {s.description}")
        return 0 if args.list else 2
    scenario = get_scenario(args.scenario)
    out = args.out or f"results/sim-{scenario.name}"
    result = run_sweep(
        scenario,
        args.rules,
        args.seeds,
        out,
        backend=args.backend,
        workers=args.workers,
        choices=args.choices,
        progress=not args.no_progress,
    )
    print(
        f"{len(result.ran)} runs simulated, {len(result.skipped)} already complete, "
        f"{result.seconds:.1f} s -> {result.out}"
    )
    target = scenario.target_accuracy if args.target is None else args.target
    store = ResultStore(out)
    steps = result.steps
    if "eval/accuracy" not in steps.columns or steps["eval/accuracy"].isna().all():
        table = summary_table(steps)
        table.to_csv(result.out / "summary.csv", index=False)
        print("\nno held-out evaluation in this scenario: no steps-to-target or speed-ups")
        with _wide_display():
            print(table.drop(columns=["scenario"]).round(3).to_string(index=False))
        return 0
    stt = steps_to_target(steps, target)
    speedups = bootstrap_speedups(stt, baseline=args.baseline, n_boot=args.n_boot)
    table = summary_table(steps, speedups)
    if "rollouts_to_target" in stt.columns:
        per_rollout = bootstrap_speedups(
            stt, baseline=args.baseline, measure="rollouts_to_target", n_boot=args.n_boot
        )
        per_rollout = per_rollout[["scenario", "rule", "speedup", "ci_low", "ci_high"]]
        table = table.merge(
            per_rollout.rename(
                columns={
                    "speedup": "rollout_speedup",
                    "ci_low": "rollout_ci_low",
                    "ci_high": "rollout_ci_high",
                }
            ),
            on=["scenario", "rule"],
            how="left",
        )
    stt.to_csv(result.out / "steps_to_target.csv", index=False)
    table.to_csv(result.out / "summary.csv", index=False)
    shown = [
        "rule", "final_accuracy", "informative_share", "rollouts_per_step", "n_censored",
        "mean_cost", "speedup", "ci_low", "ci_high", "rollout_speedup", "rollout_ci_low",
        "rollout_ci_high",
    ]  # fmt: skip
    with _wide_display():
        print(
            f"\nsteps to eval/accuracy >= {target}: speed-up vs {args.baseline} in steps and "
            "in rollouts (95% paired bootstrap over seeds; censored runs count at the horizon)"
        )
        print(table[[c for c in shown if c in table]].round(3).to_string(index=False))
    if args.bayes:
        from insight_bayes.models.speedup import fit_speedup

        fit = fit_speedup(stt, baseline=args.baseline)
        fit.summary.to_csv(result.out / "speedup_posterior.csv", index=False)
        print("\nhierarchical censored log-normal model: posterior speed-up vs baseline")
        print(fit.summary.round(3).to_string(index=False))
    manifest = store.read_manifest()
    manifest["analysis"] = {"target": target, "baseline": args.baseline, "n_boot": args.n_boot}
    store.write_manifest(manifest)
    return 0


def _wide_display():
    import pandas as pd  # imported here so that building the CLI parser stays light

    return pd.option_context("display.width", 200, "display.max_columns", 30)
