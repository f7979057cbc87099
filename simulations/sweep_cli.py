"""Run a sweep of selection rules over seeds on a simulated scenario, then print a
one-line headline and the summary table (speed-up of every rule versus Random in steps
to the target with its bootstrap interval, final accuracy, seeds that reached the
target), and draw learning_curve.png and speedup.png into OUT.

Results land in OUT (default results/scratch/SCENARIO) as tidy Parquet tables
(steps.parquet, runs/...), summary.csv, steps_to_target.csv, speedup_curve.csv,
auc.csv and manifest.json; read them back with insight_bayes.results.load_results, or
draw them again with insight-bayes plot OUT.

Re-running the same command resumes: only missing runs are simulated. OUT holds one
configuration: other rules, seeds or scenario settings are refused unless --extend
(add them to OUT's runs) or --overwrite (delete OUT's results first). Ctrl-C stops at
once; the finished runs stay and the same command resumes them. Examples:

    insight-bayes sweep quick --rules random,insight --seeds 3
    insight-bayes sweep countdown-paper --seeds 10 --out results/scratch/paper
    insight-bayes plot results/scratch/paper
"""

from __future__ import annotations

import argparse
import logging
import textwrap
from pathlib import Path

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
    parser.add_argument(
        "--backend",
        choices=("local", "ray"),
        default="local",
        help="local: worker processes on this machine; ray: Ray tasks (a running cluster "
        "if ray.init was called, else a local one) (default local)",
    )
    parser.add_argument(
        "--workers", type=positive_int, default=None, help="parallel workers, >= 1 (default: CPUs)"
    )
    parser.add_argument(
        "--out",
        default=None,
        help="results folder (default results/scratch/SCENARIO, git-ignored; the committed "
        "references under results/ are remade by insight-bayes reproduce)",
    )
    parser.add_argument(
        "--extend",
        action="store_true",
        help="add these rules, seeds or scenarios to the runs already in --out",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="delete the results of another configuration found in --out before running",
    )
    parser.add_argument(
        "--no-plots", action="store_true", help="write no learning-curve or speed-up PNG"
    )
    parser.add_argument("--choices", action="store_true", help="also store per-choice tables")
    parser.add_argument(
        "--target",
        type=unit_interval,
        default=None,
        help="accuracy target in (0, 1] (default: the scenario's)",
    )
    parser.add_argument(
        "--baseline",
        type=rule_label,
        default="random",
        help="reference rule of the speed-ups (default random)",
    )
    parser.add_argument(
        "--against",
        type=rule_labels,
        default=(),
        help="also write the paired speed-ups of every rule against these rules, e.g. "
        "insight (against_<rule>.csv, at --target)",
    )
    parser.add_argument(
        "--n-boot",
        type=int_at_least(100),
        default=2000,
        help="bootstrap replicates, >= 100 (default 2000)",
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
        choices=("robustness", "measured"),
        default=None,
        help="run a grid around SCENARIO and write the fidelity table of the paper's claims: "
        "'robustness' (memorisation x discount x the linear and Adam-like learners, and "
        "model strength) or 'measured' (discount and model strength under the learner "
        "measured on the harness, from --structure)",
    )
    parser.add_argument(
        "--structure",
        default="results/sim-vs-harness/structure.json",
        help="--grid measured: the measured learner's structure (written by "
        "'insight-bayes sim-vs-harness'; default: the committed one)",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")


def run(args: argparse.Namespace) -> int:
    """Entry point of ``insight-bayes sweep``."""
    from insight_bayes.results.report import AnalysisPlan, write_report
    from insight_bayes.results.store import ResultStore
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

    out = args.out or f"results/scratch/{scenario.name}"
    result = run_sweep(
        scenario,
        args.rules or list(REFERENCE_RULES),
        args.seeds,
        out,
        backend=args.backend,
        workers=args.workers,
        choices=args.choices,
        progress=not args.no_progress,
        overwrite=args.overwrite,
        extend=args.extend,
    )
    print(f"{result.report.describe()} -> {result.out}")
    target = scenario.target_accuracy if args.target is None else args.target
    store = ResultStore(out)
    steps = result.steps
    plan = AnalysisPlan(
        metric="eval/accuracy",
        target=target,
        baseline=args.baseline,
        curve_targets=scenario.curve_targets,
        baseline_final=True,
        references=tuple(args.against),
        n_boot=args.n_boot,
    )
    tables = write_report(result.out, steps, plan)
    table = tables.get("summary")
    if "steps_to_target" not in tables:
        why = (f"no {args.baseline} runs" if "eval/accuracy" in steps.columns
               else "no held-out evaluation in this scenario")  # fmt: skip
        _finish(table, args, target, result.out, [f"{why}: no steps-to-target or speed-ups"])
        return 0
    stt = tables["steps_to_target"]
    written = [f"{name}.csv" for name in tables]
    notes = []
    if args.bayes:
        from insight_bayes.models.speedup_fit import fit_speedup
        from insight_bayes.results.io import atomic_write_bytes

        fit = fit_speedup(stt, baseline=args.baseline, draws=args.draws, tune=args.draws)
        atomic_write_bytes(
            result.out / "speedup_posterior.csv", fit.summary.to_csv(index=False).encode()
        )
        written.append("speedup_posterior.csv")
        notes.append(_posterior_line(fit.summary))
    manifest = store.read_manifest()
    manifest["analysis"] = plan.record()
    store.write_manifest(manifest)
    notes.insert(
        0,
        f"speed-up: steps to held-out accuracy {target:g} (interpolated between "
        f"evaluations) versus {args.baseline}, 95% paired bootstrap over seeds; censored "
        "runs count at the horizon. Also written: " + ", ".join(written),
    )
    _finish(table, args, target, result.out, notes)
    return 0


def _finish(table, args, target: float, out, notes: list[str]) -> None:
    """Print the headline, the one summary table and the notes; draw the pictures."""
    from insight_bayes.results.headline import summary_text
    from insight_bayes.results.plots import draw_folder

    print()
    print(summary_text(table, baseline=args.baseline, metric="eval/accuracy", target=target))
    for note in notes:
        print(textwrap.fill(note, width=100))
    if not args.no_plots:
        pictures = draw_folder(out)
        if pictures:
            print(f"pictures: {', '.join(str(p) for p in pictures)}")


def _posterior_line(posterior) -> str:
    """One line of the PyMC fit: InSight's (or the fastest rule's) posterior speed-up."""
    rows = posterior[posterior["rule"] == "insight"]
    row = rows.iloc[0] if not rows.empty else posterior.loc[posterior["speedup_median"].idxmax()]
    return (
        f"PyMC hierarchical censored log-normal model: {row['rule']} posterior median "
        f"speed-up {row['speedup_median']:.2f}x (94% HDI {row['hdi_low']:.2f}-"
        f"{row['hdi_high']:.2f}); speedup_posterior.csv has every rule"
    )


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
    from simulations.grid import (
        GRID_FRACTIONS,
        GRID_RULES,
        MEASURED_LEARNING_RATE,
        measured_cells,
        robustness_cells,
        run_grid,
    )

    grid: dict = {"name": args.grid, "base": base.key}
    if args.grid == "measured":
        from simulations.structure import load_structure

        structure_path = Path(args.structure)
        if not structure_path.is_file():
            raise SystemExit(f"--structure {structure_path}: no such file")
        cells = measured_cells(load_structure(structure_path), base)
        grid |= {"structure": str(structure_path), "learning_rate": MEASURED_LEARNING_RATE}
    else:
        cells = robustness_cells(base)
    out = args.out or f"results/scratch/{base.name}-{args.grid}"
    result = run_grid(
        cells,
        args.seeds,
        out,
        rules=args.rules or GRID_RULES,
        workers=args.workers,
        backend=args.backend,
        progress=not args.no_progress,
        overwrite=args.overwrite,
    )
    print(f"{result.report.describe()} -> {result.out} ({result.seconds:.0f} s)")
    meta = pd.DataFrame(
        [{"cell": c.name, "scenario": c.scenario.key, "memorization": c.memorization,
          "discount": c.discount, "learner": c.learner, "strength": c.strength} for c in cells]
    )  # fmt: skip
    report, auc, reached = grid_tables(result.steps, GRID_FRACTIONS, n_boot=args.n_boot)
    fidelity = fidelity_table(reached, meta, n_boot=args.n_boot)
    summary = claim_summary(fidelity)
    # the reference cell: the base pool at the base scenario's settings (the grid's first
    # learner; under the measured learner, memorisation is measured, not the base's)
    base_cell = next(c for c in cells if c.strength == "base" and c.learner == cells[0].learner
                     and (c.learner == "measured" or c.memorization == base.env.memorization_rate)
                     and c.discount == base.discount)  # fmt: skip
    tau = ranking_agreement(report, base_cell.scenario.key)
    violations = oracle_violations(
        report, [r for r in GRID_RULES if r not in ("dynamic-sampling", "oracle")]
    )
    tables = [("cells", meta), ("grid_speedups", report), ("grid_auc", auc),
              ("fidelity", fidelity), ("fidelity_summary", summary),
              ("ranking_tau", tau), ("oracle_violations", violations)]  # fmt: skip
    goal = _beyond_goal(reached, meta, args.n_boot)
    if goal is not None:
        tables.append(("goal_cells", goal))
    store = ResultStore(out)
    for name, table in tables:
        atomic_write_bytes(store.root / f"{name}.csv", table.to_csv(index=False).encode())
    manifest = store.read_manifest()
    manifest["grid"] = {
        **grid,
        "fractions": list(GRID_FRACTIONS),
        "seconds": result.seconds,
        "n_boot": args.n_boot,
    }
    store.write_manifest(manifest)
    verdicts = summary["verdict"].value_counts()
    print(
        f"\nthe paper's claims over {len(cells)} cells x {len(GRID_FRACTIONS)} relative "
        f"targets: {verdicts.get('holds', 0)} of {len(summary)} hold in every case, "
        f"{verdicts.get('refuted', 0)} are refuted in every case, "
        f"{verdicts.get('depends', 0)} depend on the cell\n"
    )
    shown = summary.rename(columns={"text": "claim (fidelity_summary.csv)"}).drop(columns=["claim"])
    with _wide_display():
        print(shown.to_string(index=False))
    print(
        f"Kendall's tau of each cell's ranking against the base cell {base_cell.name}: "
        f"median {tau['tau'].median():.2f}, lowest {tau['tau'].min():.2f} (ranking_tau.csv); "
        f"oracle slower than a pre-rollout rule (interval above 1): {len(violations)} cases"
    )
    if not args.no_plots:
        from insight_bayes.results.plots import draw_folder

        pictures = draw_folder(out)
        if pictures:
            print(f"pictures: {', '.join(str(p) for p in pictures)}")
    return 0


def _beyond_goal(reached, meta, n_boot: int):
    """``goal_cells``: the simulator goal of every rule beyond InSight the grid ran (1.10x
    InSight, paired, and 85% of the oracle; :func:`insight_bayes.analysis.beyond.goal_cells`)
    per cell and target, or ``None`` when the grid has none of them, InSight or the oracle."""
    import pandas as pd

    from insight_bayes.analysis.beyond import goal_cells
    from insight_bayes.selectors import BEYOND_RULES

    ran = set(reached["rule"])
    beyond = [r for r in BEYOND_RULES if r in ran]
    if not beyond or not {"insight", "oracle"} <= ran:
        return None
    cells = meta[["cell", "scenario"]]
    return pd.concat(
        [goal_cells(reached, r, n_boot=n_boot).merge(cells, on="scenario").assign(rule=r)
         for r in beyond],
        ignore_index=True,
    )  # fmt: skip


def _wide_display():
    import pandas as pd  # imported here so that building the CLI parser stays light

    return pd.option_context("display.width", 200, "display.max_columns", 30)
