"""Run a sweep of selection rules over seeds on a simulated scenario, then print the
summary table (final accuracy, informative share, rollouts, steps-to-target and the
speed-up of every rule versus Random with bootstrap intervals).

Re-running the same command resumes: only missing runs are simulated, and the command
says how many runs it trained and how many it resumed. Results land in OUT as tidy
Parquet tables (steps.parquet, runs/...), steps_to_target.csv, summary.csv and
manifest.json (read them back with insight_bayes.results.load_results).
"""

from __future__ import annotations

import argparse
import logging

log = logging.getLogger(__name__)


def scenario_name(text: str) -> str:
    """The name of a registered simulation scenario (:mod:`simulations.scenarios`).

    An argument type: an unknown name raises :class:`argparse.ArgumentTypeError`, which
    argparse prints as a one-line error with exit status 2 (see :mod:`insight_bayes.cli`).
    """
    from simulations.scenarios import available_scenarios

    if text not in available_scenarios():
        raise argparse.ArgumentTypeError(
            f"unknown scenario {text!r}; available: {', '.join(available_scenarios())}"
        )
    return text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``insight-bayes sweep``."""
    from insight_bayes.cli_types import (
        int_at_least,
        positive_int,
        rule_label,
        rule_labels,
        unit_interval,
    )
    from insight_bayes.selectors import REFERENCE_RULES
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
        default=None,
        help="comma-separated rule labels, e.g. 'random,insight,insight:mu=0.1' "
        f"(default: {','.join(REFERENCE_RULES)}; with --grid: the grid's rules)",
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
    parser.add_argument(
        "--draws",
        type=int,
        default=1000,
        help="NUTS draws and tuning steps per chain of --bayes (default 1000)",
    )
    parser.add_argument(
        "--grid",
        choices=("robustness",),
        default=None,
        help="run the robustness grid around SCENARIO (memorisation x discount x learner, "
        "and model strength) and write the fidelity table of the paper's claims",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")


def run(args: argparse.Namespace) -> int:
    """Entry point of ``insight-bayes sweep``."""
    from insight_bayes.results.store import ResultStore
    from insight_bayes.results.targets import analysis_summary, summary_table
    from simulations.scenarios import SCENARIOS, get_scenario
    from simulations.sweep import run_sweep

    if args.list or not args.scenario:
        for name, s in SCENARIOS.items():
            print(f"{name:20s} v{s.version}  {s.description}")
        return 0 if args.list else 2
    scenario = get_scenario(args.scenario)
    if args.grid:
        return _run_grid(args, scenario)
    from insight_bayes.selectors import REFERENCE_RULES

    out = args.out or f"results/sim-{scenario.name}"
    result = run_sweep(
        scenario,
        args.rules or list(REFERENCE_RULES),
        args.seeds,
        out,
        backend=args.backend,
        workers=args.workers,
        choices=args.choices,
        progress=not args.no_progress,
    )
    print(f"{result.report.describe()} -> {result.out}")
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
    stt, table = analysis_summary(
        steps, target, metric="eval/accuracy", baseline=args.baseline, n_boot=args.n_boot
    )
    stt.to_csv(result.out / "steps_to_target.csv", index=False)
    table.to_csv(result.out / "summary.csv", index=False)
    shown = [
        "rule", "final_accuracy", "informative_share", "expected_informative",
        "rollouts_per_step", "n_censored", "mean_cost", "speedup", "ci_low", "ci_high",
        "rollout_speedup", "rollout_ci_low", "rollout_ci_high",
    ]  # fmt: skip
    with _wide_display():
        print(
            f"\nsteps to eval/accuracy >= {target} (interpolated between evaluations): "
            f"speed-up vs {args.baseline} in steps and in rollouts (95% paired bootstrap "
            "over seeds; censored runs count at the horizon). informative_share: share of "
            "trained groups with mixed binary outcomes; expected_informative: its "
            "expectation 1 - p^K - (1 - p)^K at the chosen prompts' true rates"
        )
        print(table[[c for c in shown if c in table]].round(3).to_string(index=False))
    _print_curve(steps, scenario, args, result.out)
    if args.bayes:
        from insight_bayes.models.speedup_fit import fit_speedup

        fit = fit_speedup(stt, baseline=args.baseline, draws=args.draws, tune=args.draws)
        fit.summary.to_csv(result.out / "speedup_posterior.csv", index=False)
        print("\nhierarchical censored log-normal model: posterior speed-up vs baseline")
        print(fit.summary.round(3).to_string(index=False))
    manifest = store.read_manifest()
    manifest["analysis"] = {
        "metric": "eval/accuracy",
        "target": target,
        "baseline": args.baseline,
        "n_boot": args.n_boot,
    }
    store.write_manifest(manifest)
    return 0


def _print_curve(steps, scenario, args, out) -> None:
    """The speed-up curve at the scenario's targets, steps to Random's final accuracy
    (each seed's own), and the learning-curve AUC."""
    from insight_bayes.results.targets import (
        auc_table,
        relative_steps_to_target,
        speedup_report,
    )

    if args.baseline not in set(steps["rule"]):
        return
    shown = ["target", "rule", "speedup", "ci_low", "ci_high", "rollout_speedup",
             "oracle_fraction", "oracle_fraction_ci_low", "oracle_fraction_ci_high",
             "n_censored"]  # fmt: skip
    with _wide_display():
        if scenario.curve_targets:
            curve = speedup_report(
                steps, scenario.curve_targets, baseline=args.baseline, n_boot=args.n_boot
            )
            curve.to_csv(out / "speedup_curve.csv", index=False)
            print(
                "\nspeed-up curve at held-out accuracy "
                f"{', '.join(f'{t:g}' for t in scenario.curve_targets)}: per step, per rollout, "
                "and as a fraction of the oracle's speed-up"
            )
            print(curve[[c for c in shown if c in curve]].round(3).to_string(index=False))
        try:
            reached = relative_steps_to_target(steps, [1.0], baseline=args.baseline)
        except ValueError as err:
            print(f"\nno steps to {args.baseline}'s final accuracy: {err}")
        else:
            final = speedup_report(
                None, reached=reached, baseline=args.baseline, n_boot=args.n_boot
            )
            final.to_csv(out / "speedup_to_baseline_final.csv", index=False)
            print(f"\nsteps to {args.baseline}'s final accuracy (each seed's own pool)")
            print(final[[c for c in shown[1:] if c in final]].round(3).to_string(index=False))
        auc = auc_table(steps, baseline=args.baseline, n_boot=args.n_boot)
        auc.to_csv(out / "auc.csv", index=False)
        print("\nlearning-curve AUC (time-averaged held-out accuracy) and its paired gain")
        print(auc.drop(columns=["paired"]).round(4).to_string(index=False))


def _run_grid(args, base) -> int:
    """``--grid robustness``: run the grid, then write its tables and the fidelity table."""
    import pandas as pd

    from insight_bayes.analysis.fidelity import (
        claim_summary,
        fidelity_table,
        grid_tables,
        oracle_violations,
        ranking_agreement,
    )
    from insight_bayes.results.io import atomic_write_bytes
    from insight_bayes.results.store import ResultStore
    from simulations.grid import GRID_FRACTIONS, GRID_RULES, robustness_cells, run_grid

    cells = robustness_cells(base)
    out = args.out or f"results/sim-{base.name}-robustness"
    result = run_grid(
        cells,
        args.seeds,
        out,
        rules=args.rules or GRID_RULES,
        workers=args.workers,
        backend=args.backend,
        progress=not args.no_progress,
    )
    print(f"{result.report.describe()} -> {result.out} ({result.seconds:.0f} s)")
    meta = pd.DataFrame(
        [{"cell": c.name, "scenario": c.scenario.key, "memorization": c.memorization,
          "discount": c.discount, "learner": c.learner, "strength": c.strength} for c in cells]
    )  # fmt: skip
    report, auc, reached = grid_tables(result.steps, GRID_FRACTIONS, n_boot=args.n_boot)
    fidelity = fidelity_table(reached, meta, n_boot=args.n_boot)
    summary = claim_summary(fidelity)
    base_cell = next(c for c in cells if c.strength == "base" and c.learner == "linear"
                     and c.memorization == base.env.memorization_rate
                     and c.discount == base.discount)  # fmt: skip
    tau = ranking_agreement(report, base_cell.scenario.key)
    violations = oracle_violations(
        report, [r for r in GRID_RULES if r not in ("dynamic-sampling", "oracle")]
    )
    store = ResultStore(out)
    for name, table in (("cells", meta), ("grid_speedups", report), ("grid_auc", auc),
                        ("fidelity", fidelity), ("fidelity_summary", summary),
                        ("ranking_tau", tau), ("oracle_violations", violations)):  # fmt: skip
        atomic_write_bytes(store.root / f"{name}.csv", table.to_csv(index=False).encode())
    manifest = store.read_manifest()
    manifest["grid"] = {
        "name": "robustness",
        "base": base.key,
        "fractions": list(GRID_FRACTIONS),
        "seconds": result.seconds,
        "n_boot": args.n_boot,
    }
    store.write_manifest(manifest)
    with _wide_display():
        print("\nfidelity of the paper's claims over the grid (cells x relative targets)")
        print(summary.to_string(index=False))
        print(f"\nKendall's tau of each cell's ranking against the base cell {base_cell.name}")
        print(tau.merge(meta, on="scenario")[["cell", "tau", "p_value", "n_rules"]].round(3)
              .to_string(index=False))  # fmt: skip
        print(
            f"\noracle slower than a pre-rollout rule (interval above 1): {len(violations)} cases"
        )
    return 0


def _wide_display():
    import pandas as pd  # imported here so that building the CLI parser stays light

    return pd.option_context("display.width", 200, "display.max_columns", 30)
