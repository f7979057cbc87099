"""Does the simulator predict the harness? Calibrate on Random, predict the other rules.

For each harness study folder (one task draw, or draw-<d>/ sub-folders): the
measured learner's structure is fitted once from results/rlvr-gradients (module
simulations.structure; written to OUT/structure.json and reused); per study only what
Random's runs identify is fitted (learning rate, transfer depletion, the harness's
run-to-run noise; simulations.study_calibration.calibrate); every rule of the study is then
predicted, with 90% prediction intervals for what the harness reports at its seeds and
draws (simulations.predict.predict_study), and compared with the speed-up the harness
realised.

Writes to OUT: structure.json; calibration.csv (the grid and its posterior weight per
study); calibration_curves.csv (Random's harness and calibrated curves, and the mean
batch gradient norm, a check of the structure); predictions.csv (study, rule, fraction,
predicted, predicted_low, predicted_high, realised, realised_low, realised_high; Dynamic
Sampling also per rollout as dynamic-sampling/rollouts); scores.csv (the three prediction
scores against their goals); agreement.csv (Spearman and York per fraction); manifest.json.
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
        "--seeds", type=positive_int, default=12,
        help="simulated seeds per rule, draw and calibration setting (default 12)",
    )  # fmt: skip
    parser.add_argument(
        "--fit-seeds", type=positive_int, default=3,
        help="simulated Random runs per draw and grid point of the calibration",
    )  # fmt: skip
    parser.add_argument(
        "--fit-evaluations", type=positive_int, default=21,
        help="learning rates on the calibration's log grid, 3e-3..3 (default 21)",
    )  # fmt: skip
    parser.add_argument(
        "--depletion", default="0.25,0.5,1,2,4,none",
        help="transfer depletions n0 of the calibration grid ('none': no depletion)",
    )  # fmt: skip
    parser.add_argument(
        "--settings", type=positive_int, default=6,
        help="calibration settings drawn from the posterior per study (default 6)",
    )  # fmt: skip
    parser.add_argument(
        "--boot", type=positive_int, default=1000, help="pseudo harness studies (default 1000)"
    )
    parser.add_argument(
        "--rules", type=rule_labels, default=None,
        help="rules to predict, comma-separated (default: every rule of each study)",
    )  # fmt: skip
    parser.add_argument(
        "--gradients", default="results/rlvr-gradients",
        help="the rlvr-gradients folder the structure is fitted from",
    )  # fmt: skip
    parser.add_argument(
        "--gradients-k", default="results/rlvr-gradients-k",
        help="the rlvr-gradients folder at other K (the K exponents)",
    )  # fmt: skip
    parser.add_argument(
        "--coherence-studies", default=None,
        help="comma-separated studies whose Random steps give the coherent share "
        "(default: the given studies with one draw)",
    )  # fmt: skip
    parser.add_argument("--refit", action="store_true", help="fit the structure again")
    parser.add_argument("--workers", type=positive_int, default=1, help="simulator processes")
    parser.add_argument("--no-progress", action="store_true", help="hide progress output")


def run(args: argparse.Namespace) -> int:
    """Entry point of ``insight-bayes sim-vs-harness``."""
    import json
    from pathlib import Path

    import pandas as pd

    from insight_bayes.analysis.agreement import agreement_stats
    from insight_bayes.results.io import atomic_write_bytes, build_manifest
    from simulations.predict import predict_study
    from simulations.predict_scores import realised_table, scores
    from simulations.structure import fit_structure, load_structure, write_structure
    from simulations.study_calibration import calibrate
    from simulations.study_data import depletion_grid, lr_grid, read_study

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    say = (lambda line: None) if args.no_progress else (lambda line: print(line, flush=True))
    studies = [read_study(folder) for folder in args.studies]
    structure_path = out / "structure.json"
    if structure_path.exists() and not args.refit:
        structure = load_structure(structure_path)
        print(f"structure reused from {structure_path}")
    else:
        coherence = (
            [s for s in args.coherence_studies.split(",") if s]
            if args.coherence_studies
            else [str(s.folder) for s in studies if len(s.records) == 1]
        )
        structure = fit_structure(args.gradients, args.gradients_k, coherence)
        write_structure(structure, structure_path)
        say(f"structure fitted from {args.gradients}; written to {structure_path}")
    calibration_rows, curves, tables = [], [], []
    for study in studies:
        calibration = calibrate(
            study, structure, grid=lr_grid(args.fit_evaluations),
            depletion=depletion_grid(args.depletion), fit_seeds=args.fit_seeds,
        )  # fmt: skip
        lr, n0 = calibration.best
        say(
            f"{study.name}: {len(study.records)} draw(s) x {study.n_seeds} seed(s); calibrated "
            f"learning rate {lr:.4g}, transfer depletion {n0}; run noise "
            f"{calibration.noise_white:.3g} + {calibration.noise_walk:.3g} t"
        )
        calibration_rows.append(
            calibration.table(study.name).assign(
                best=lambda t, c=calibration: [
                    (a, b if b == b else None) == c.best
                    for a, b in zip(t["learning_rate"], t["transfer_depletion"], strict=True)
                ],
                noise_white=calibration.noise_white,
                noise_walk=calibration.noise_walk,
                dispersion=calibration.dispersion,
            )
        )
        curves.append(calibration.curves)
        rules = [r for r in study.rules if r != "random" and (not args.rules or r in args.rules)]
        predicted = predict_study(
            study, structure, calibration, rules=rules, seeds=args.seeds,
            n_lr=args.settings, n_boot=args.boot, workers=args.workers, progress=say,
        )  # fmt: skip
        table = predicted.merge(realised_table(study), on=["study", "rule", "fraction"], how="left")
        tables.append(table)
        with pd.option_context("display.width", 200, "display.max_columns", 20):
            print(table.round(3).to_string(index=False), flush=True)
    table = pd.concat(tables, ignore_index=True)
    columns = ["study", "rule", "fraction", "predicted", "predicted_low", "predicted_high",
               "realised", "realised_low", "realised_high"]  # fmt: skip
    table = table[columns]
    atomic_write_bytes(out / "predictions.csv", table.to_csv(index=False).encode())
    atomic_write_bytes(
        out / "calibration.csv", pd.concat(calibration_rows).to_csv(index=False).encode()
    )
    atomic_write_bytes(
        out / "calibration_curves.csv", pd.concat(curves).to_csv(index=False).encode()
    )
    score = scores(table)
    atomic_write_bytes(out / "scores.csv", score.to_csv(index=False).encode())
    per_step = table[~table["rule"].str.endswith("/rollouts")].dropna(subset=["realised"])
    stats = agreement_stats(per_step)
    atomic_write_bytes(out / "agreement.csv", stats.to_csv(index=False).encode())
    manifest = build_manifest(
        "sim-vs-harness",
        {"studies": list(args.studies), "seeds": args.seeds, "fit_seeds": args.fit_seeds,
         "settings": args.settings, "boot": args.boot, "rules": args.rules,
         "gradients": args.gradients, "gradients_k": args.gradients_k,
         "fit_evaluations": args.fit_evaluations, "depletion": args.depletion,
         "learner": "measured"},
        rules=sorted(set(table["rule"])),
        seeds=list(range(args.seeds)),
        analysis={"measure": "steps_to_target (and rollouts for dynamic-sampling)",
                  "baseline": "random", "interval": "90% prediction interval over pseudo "
                  "harness studies (calibration posterior x the harness's seeds and draws)",
                  "scores": "fractions 0.5, 0.75, 1.0; Spearman at 1.0 within each study",
                  "goals": {"male": 0.10, "spearman_at_1": 0.5, "coverage": 0.80}},
        status="complete",
    )  # fmt: skip
    atomic_write_bytes(out / "manifest.json", json.dumps(manifest, indent=2).encode())
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print("\nscores (goals: MALE <= 0.10, within-study Spearman at 100% >= 0.5, "
              "90% coverage >= 0.80):")  # fmt: skip
        print(score.round(3).to_string(index=False))
    return 0
