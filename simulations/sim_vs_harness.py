"""Does the simulator predict the harness? Calibrate on Random, predict the other rules.

For each harness study folder: fit the learning simulator's knobs (learning rate,
transfer, memorisation, forgetting) to Random's runs alone, on the study's measured
warm-up pool (:mod:`simulations.calibrate`); run every rule of the study on the
calibrated simulator; compare its speed-up curve (relative targets, paired bootstrap)
with the one the harness realised. Then, over every (study, rule) point, Spearman's rho
and York's errors-in-variables slope of log realised on log predicted speed-ups
(:mod:`insight_bayes.analysis.agreement`).

Writes to OUT: ``calibration.csv`` (fitted knobs and objective per study),
``calibration_curves.csv`` (Random's harness and calibrated curves), ``predictions.csv``
(predicted and realised speed-ups with intervals, every fraction), ``agreement.csv``
(per fraction), ``manifest.json``, and one sweep folder per study. Re-running reuses
fitted knobs (``--refit`` fits again) and finished simulator runs.
"""

from __future__ import annotations

import argparse

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``insight-bayes sim-vs-harness``."""
    from insight_bayes.cli_types import positive_int, rule_labels

    parser.add_argument("studies", nargs="+", help="harness study folders (each with Random runs)")
    parser.add_argument("--out", default="results/sim-vs-harness", help="results folder")
    parser.add_argument(
        "--seeds", type=positive_int, default=20, help="simulator seeds per rule (default 20)"
    )
    parser.add_argument(
        "--fit-seeds", type=positive_int, default=4, help="simulated Random runs per fit evaluation"
    )
    parser.add_argument(
        "--fit-evaluations", type=positive_int, default=100, help="Nelder-Mead budget per study"
    )
    parser.add_argument(
        "--rules",
        type=rule_labels,
        default=None,
        help="rules to predict, comma-separated (default: every rule of each study)",
    )
    parser.add_argument("--refit", action="store_true", help="fit again even if OUT has knobs")
    parser.add_argument("--workers", type=positive_int, default=1, help="simulator workers")
    parser.add_argument("--no-progress", action="store_true", help="hide progress output")


def run(args: argparse.Namespace) -> int:
    """Entry point of ``insight-bayes sim-vs-harness``."""
    import json
    from pathlib import Path

    import pandas as pd

    from insight_bayes.analysis.agreement import agreement_stats, prediction_table
    from insight_bayes.results.io import atomic_write_bytes, build_manifest
    from simulations.calibrate import (
        CALIBRATED_KNOBS,
        calibrated_scenario,
        fit_knobs,
        harness_record,
        predict_rules,
        random_curves,
    )

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    saved_path = out / "calibration.csv"
    saved = pd.read_csv(saved_path) if saved_path.exists() and not args.refit else None
    calibration, curves, predicted, realised = [], [], [], []
    for folder in args.studies:
        record = harness_record(folder)
        rules = [r for r in record.rules if r != "random" and (not args.rules or r in args.rules)]
        row, fitted_curves = None, None
        if saved is not None and record.name in set(saved["study"]):
            row = saved[saved["study"] == record.name].iloc[0].to_dict()
            knobs = {k: float(row[k]) for k in CALIBRATED_KNOBS}
            print(f"{record.name}: knobs reused from {saved_path}")
        else:

            def show(i: int, loss: float, name: str = record.name) -> None:
                if not args.no_progress and (i == 1 or i % 20 == 0):
                    print(f"  {name}: fit evaluation {i}, loss {loss:.3g}", flush=True)

            fit = fit_knobs(
                record, seeds=args.fit_seeds, max_evaluations=args.fit_evaluations, progress=show
            )
            knobs = fit.knobs
            fitted_curves = (fit.heldout_gain, fit.train_success)
            row = {"study": record.name, **knobs, "loss": fit.loss, "start_loss": fit.start_loss,
                   "evaluations": fit.evaluations}  # fmt: skip
        calibration.append(row)
        if fitted_curves is None:  # knobs reused: simulate Random's curves once more
            fitted_curves = random_curves(
                calibrated_scenario(record, knobs), record, list(range(args.fit_seeds))
            )
        gain, train = fitted_curves
        curves.append(pd.DataFrame({
            "study": record.name, "curve": "heldout_gain", "x": record.eval_steps,
            "harness": record.heldout_gain, "harness_se": record.heldout_se, "simulator": gain,
        }))  # fmt: skip
        mids = (record.train_bins[:-1] + record.train_bins[1:] - 1) / 2
        curves.append(pd.DataFrame({
            "study": record.name, "curve": "train_success", "x": mids,
            "harness": record.train_success, "harness_se": record.train_se, "simulator": train,
        }))  # fmt: skip
        knob_text = ", ".join(f"{k} {v:.3g}" for k, v in knobs.items())
        print(f"{record.name}: {record.n_seeds} Random seeds; calibrated {knob_text}")
        curve = predict_rules(
            record, knobs, rules, args.seeds, out / record.name, workers=args.workers,
            progress=not args.no_progress,
        )  # fmt: skip
        predicted.append(curve.assign(study=record.name))
        harness_curve = pd.read_csv(Path(folder) / "speedup_curve.csv")
        harness_curve = harness_curve[harness_curve["rule"].isin(["random", *rules])]
        realised.append(harness_curve.assign(study=record.name))
    calibration_df = pd.DataFrame(calibration)
    atomic_write_bytes(saved_path, calibration_df.to_csv(index=False).encode())
    atomic_write_bytes(
        out / "calibration_curves.csv", pd.concat(curves).to_csv(index=False).encode()
    )
    table = prediction_table(pd.concat(predicted), pd.concat(realised))
    atomic_write_bytes(out / "predictions.csv", table.to_csv(index=False).encode())
    stats = agreement_stats(table)
    atomic_write_bytes(out / "agreement.csv", stats.to_csv(index=False).encode())
    manifest = build_manifest(
        "sim-vs-harness",
        {"studies": list(args.studies), "seeds": args.seeds, "fit_seeds": args.fit_seeds,
         "fit_evaluations": args.fit_evaluations, "rules": args.rules},
        rules=sorted(set(table["rule"])),
        seeds=list(range(args.seeds)),
        analysis={"measure": "steps_to_target", "baseline": "random",
                  "primary_fraction": 0.5, "metric": "held-out (harness: study metric)"},
        status="complete",
    )  # fmt: skip
    atomic_write_bytes(out / "manifest.json", json.dumps(manifest, indent=2).encode())
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print("\npredicted (calibrated simulator) and realised (harness) speed-ups in steps:")
        print(table.round(3).to_string(index=False))
        print("\nagreement over (study, rule) points, per target fraction:")
        print(stats.round(3).to_string(index=False))
    return 0
