"""insight-bayes advise STUDY: which selection rule to use, from a short Random run.

The folder holds only Random runs (of the harness, or of any trainer
whose steps and pool tables and manifest follow rlvr-study's schema). The command
calibrates the measured learner on them (the structure comes from
results/sim-vs-harness/structure.json, fitted once from the harness's gradient
measurements) and predicts, for every registered pre-rollout rule (not privileged, no
rollout filter) and a small grid of mu for the rules that have one, the speed-up curve
over Random with 90% prediction intervals for a study of the folder's design (its seeds
and draws, or --plan-seeds). It recommends the rule with the largest predicted speed-up
at the last target fraction (Random's final value), and says whether its interval
clears 1 and the runner-up's point.
"""

from __future__ import annotations

import argparse

__all__ = ["MU_GRID", "add_arguments", "advice_rules", "recommend", "run"]

#: The grid of InSight-family ``mu`` (centre of the difficulty weight) advice tries.
MU_GRID: tuple[float, ...] = (0.2, 0.3, 0.5)

#: Rules left out of the default list: slow samplers whose advice equals a listed rule's
#: at these settings, or rules for a reward model the study does not have.
SKIPPED: tuple[str, ...] = ("mi", "insight-sampled", "insight-noisy", "insight-graded")


def advice_rules(mu_grid: tuple[float, ...] = MU_GRID) -> list[str]:
    """Every registered pre-rollout rule (Random first), rules with ``mu`` over the grid.

    Pre-rollout: not privileged and keeps the chosen prompts (no rollout filter).
    """
    from insight_bayes.selectors import DifficultyWeighted, available_selectors, selector_from_label
    from insight_bayes.selectors.base import KeepChosen

    labels = ["random"]
    for name in available_selectors():
        if name == "random" or name in SKIPPED:
            continue
        rule = selector_from_label(name)
        if rule.privileged or not isinstance(rule.rollout_filter, KeepChosen):
            continue
        if isinstance(rule, DifficultyWeighted):
            labels.extend(f"{name}:mu={mu:g}" for mu in mu_grid)
        else:
            labels.append(name)
    return labels


def recommend(table, fraction: float = 1.0) -> dict:
    """The recommended rule of a :func:`simulations.predict.predict_study` table.

    The rule with the largest predicted speed-up at ``fraction`` (Random when none
    exceeds 1), with ``clears_one`` (its interval's lower end above 1) and
    ``clears_runner_up`` (its lower end above the runner-up's point prediction).
    """
    at = table[table["fraction"] == fraction].sort_values("predicted", ascending=False)
    if at.empty or at["predicted"].iloc[0] <= 1.0:
        return {
            "rule": "random",
            "predicted": 1.0,
            "clears_one": False,
            "clears_runner_up": False,
            "runner_up": None,
        }
    best = at.iloc[0]
    runner = at.iloc[1] if len(at) > 1 else None
    return {
        "rule": str(best["rule"]),
        "predicted": float(best["predicted"]),
        "low": float(best["predicted_low"]),
        "high": float(best["predicted_high"]),
        "clears_one": bool(best["predicted_low"] > 1.0),
        "runner_up": None if runner is None else str(runner["rule"]),
        "clears_runner_up": bool(runner is None or best["predicted_low"] > runner["predicted"]),
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``insight-bayes advise``."""
    from insight_bayes.cli_types import positive_int, rule_labels

    parser.add_argument("study", help="a study folder holding Random runs (rlvr-study schema)")
    parser.add_argument(
        "--structure",
        default="results/sim-vs-harness/structure.json",
        help="the measured learner's structure (written by sim-vs-harness)",
    )
    parser.add_argument(
        "--rules",
        type=rule_labels,
        default=None,
        help="rules to compare (default: every pre-rollout rule, mu grid)",
    )
    parser.add_argument(
        "--seeds",
        type=positive_int,
        default=8,
        help="simulated seeds per rule and setting (default 8)",
    )
    parser.add_argument(
        "--plan-seeds",
        type=positive_int,
        default=None,
        help="seeds per draw of the planned study (default: the folder's)",
    )
    parser.add_argument(
        "--fit-seeds",
        type=positive_int,
        default=3,
        help="simulated Random runs per calibration setting",
    )
    parser.add_argument(
        "--fit-evaluations",
        type=positive_int,
        default=21,
        help="learning rates on the calibration's log grid (default 21)",
    )
    parser.add_argument(
        "--depletion",
        default="0.25,0.5,1,2,4,none",
        help="transfer depletions n0 of the calibration grid",
    )
    parser.add_argument(
        "--settings",
        type=positive_int,
        default=5,
        help="calibration settings drawn from the posterior (default 5)",
    )
    parser.add_argument(
        "--boot",
        type=positive_int,
        default=500,
        help="pseudo studies per prediction interval (default 500)",
    )
    parser.add_argument("--workers", type=positive_int, default=1, help="processes")
    parser.add_argument("--out", default=None, help="write advice.csv and advice.json here")
    parser.add_argument("--no-progress", action="store_true", help="hide progress output")


def run(args: argparse.Namespace) -> int:
    """Entry point of ``insight-bayes advise``."""
    import dataclasses
    import json
    from pathlib import Path

    from simulations.predict import predict_study
    from simulations.structure import load_structure
    from simulations.study_calibration import calibrate
    from simulations.study_data import depletion_grid, lr_grid, read_study

    structure_path = Path(args.structure)
    if not structure_path.exists():
        raise ValueError(
            f"no structure at {structure_path}: run `insight-bayes sim-vs-harness` (it writes "
            "one) or pass --structure"
        )
    structure = load_structure(structure_path)
    study = read_study(args.study)
    if args.plan_seeds:
        study = dataclasses.replace(study, n_seeds=args.plan_seeds)
    rules = list(args.rules) if args.rules else advice_rules()
    rules = [r for r in rules if r != "random"]
    say = (lambda line: None) if args.no_progress else (lambda line: print(line, flush=True))
    say(f"{study.name}: {len(study.records)} draw(s), {study.n_seeds} seed(s) per draw")
    calibration = calibrate(
        study,
        structure,
        grid=lr_grid(args.fit_evaluations),
        depletion=depletion_grid(args.depletion),
        fit_seeds=args.fit_seeds,
    )
    lr, n0 = calibration.best
    say(f"calibrated on Random: learning rate {lr:.4g}, transfer depletion {n0}")
    table = predict_study(
        study,
        structure,
        calibration,
        rules=rules,
        seeds=max(args.seeds, 1),
        n_lr=args.settings,
        n_boot=args.boot,
        workers=args.workers,
    )
    advice = recommend(table, max(study.fractions))
    wide = table.pivot_table(
        index="rule", columns="fraction", values=["predicted", "predicted_low", "predicted_high"]
    )
    lines = []
    for rule in wide.sort_values(("predicted", max(study.fractions)), ascending=False).index:
        cells = [
            f"{wide.loc[rule, ('predicted', f)]:.2f} "
            f"[{wide.loc[rule, ('predicted_low', f)]:.2f}, "
            f"{wide.loc[rule, ('predicted_high', f)]:.2f}]"
            for f in study.fractions
        ]
        lines.append(f"{rule:34s} " + "  ".join(f"{c:>20s}" for c in cells))
    header = f"{'rule':34s} " + "  ".join(
        f"{'f = ' + format(f, 'g'):>20s}" for f in study.fractions
    )
    print("\npredicted speed-up over Random in steps, median [90% prediction interval], at")
    print("targets a fraction f of Random's final gain:")
    print(header)
    print("\n".join(lines))
    if advice["rule"] == "random":
        print("\nrecommended: random (no rule is predicted to beat it)")
    else:
        notes = ["its interval clears 1" if advice["clears_one"] else "its interval includes 1"]
        if not advice["clears_runner_up"]:
            notes.append(f"not clearly ahead of {advice['runner_up']}")
        print(
            f"\nrecommended: {advice['rule']} (predicted {advice['predicted']:.2f}x at "
            f"f = {max(study.fractions):g}; {'; '.join(notes)})"
        )
    if args.out:
        from insight_bayes.results.io import atomic_write_bytes

        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(out / "advice.csv", table.to_csv(index=False).encode())
        record = {
            "study": str(args.study),
            "recommendation": advice,
            "calibration": {
                "learning_rate": lr,
                "transfer_depletion": n0,
                "noise_white": calibration.noise_white,
                "noise_walk": calibration.noise_walk,
            },
            "rules": rules,
        }
        atomic_write_bytes(out / "advice.json", json.dumps(record, indent=2).encode())
    return 0
