"""Does a new rule beat the best incumbent over several designs?

    insight-bayes decide FOLDER [FOLDER ...] --new insight-eb,mopps-eb \
        --incumbents insight,mopps,expected-difficulty,weight --out results/rlvr-eb-decision

For every results folder (a harness design over task draws and seeds, or a simulated
sweep) and every target (fractions of Random's gain, by default the folder's
``target_fractions``; or absolute values with --targets), the best new rule against the
best incumbent, paired over (draw, seed), in steps and in rollouts
(:func:`insight_bayes.analysis.decision_table`). Writes OUT/decision.csv (one row per
design and target), OUT/speedups.csv (every compared rule's speed-up over Random per design
and target), OUT/ranking.csv (the rules ranked by their geometric-mean speed-up over the
designs, :func:`insight_bayes.analysis.decision.design_ranking`) and OUT/manifest.json (the
folders, the rule lists, the goal), prints
the table and the verdict: the goal is met when, at --at, the ratio is at least --goal
with the interval above 1 on at least --min-wins designs (2), and never below --floor.
The goal is an argument so that it is stated before the runs; the defaults are the
evidence-term decision's.
"""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["add_arguments", "run"]


def _floats(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers, got {text!r}"
        ) from None
    if not values:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}")
    return values


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``insight-bayes decide``."""
    from insight_bayes.cli_types import positive_int, rule_labels

    parser.add_argument("studies", nargs="+", help="results folders (one per design)")
    parser.add_argument("--new", type=rule_labels, required=True, help="new rules, e.g. insight-eb")
    parser.add_argument(
        "--incumbents", type=rule_labels, required=True,
        help="rules to beat, e.g. insight,mopps,expected-difficulty,weight",
    )  # fmt: skip
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument(
        "--targets", type=_floats, default=None,
        help="absolute targets of the metric, e.g. 0.6 (default: fractions of Random's gain)",
    )  # fmt: skip
    parser.add_argument(
        "--at", type=float, default=1.0,
        help="the target (fraction, or absolute with --targets) of the verdict (1.0)",
    )  # fmt: skip
    parser.add_argument("--goal", type=float, default=1.10, help="ratio to reach (1.10)")
    parser.add_argument("--floor", type=float, default=0.95, help="ratio never to fall below")
    parser.add_argument(
        "--min-wins", type=positive_int, default=2, help="designs the goal must be met on (2)"
    )
    parser.add_argument("--n-boot", type=positive_int, default=2000, help="bootstrap replicates")


def run(args: argparse.Namespace) -> int:
    """Write the decision table and print it with the verdict."""
    import pandas as pd

    from insight_bayes.analysis.decision import (
        decision_table,
        design_ranking,
        speedups_over_baseline,
        verdict,
    )
    from insight_bayes.results.io import atomic_write_bytes, build_manifest
    from insight_bayes.results.reader import load_results
    from insight_bayes.results.store import ResultStore

    parts, speedups = [], []
    for folder in args.studies:
        res = load_results(folder)
        where = (
            {"targets": args.targets} if args.targets
            else {"fractions": res.plan.get("target_fractions") or [0.25, 0.5, 0.75, 1.0]}
        )  # fmt: skip
        table = decision_table(
            res.steps, new=args.new, incumbents=args.incumbents, metric=res.metric,
            baseline=res.baseline, n_boot=args.n_boot, **where,
        )  # fmt: skip
        table.insert(0, "design", Path(folder).name)
        parts.append(table)
        every = speedups_over_baseline(
            res.steps, metric=res.metric, baseline=res.baseline, n_boot=args.n_boot, **where
        )
        every.insert(0, "design", Path(folder).name)
        speedups.append(every[every["rule"].isin([*args.new, *args.incumbents])])
    table = pd.concat(parts, ignore_index=True)
    speedups = pd.concat(speedups, ignore_index=True)
    ranking = design_ranking(speedups)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out / "decision.csv", table.to_csv(index=False).encode())
    atomic_write_bytes(out / "speedups.csv", speedups.to_csv(index=False).encode())
    atomic_write_bytes(out / "ranking.csv", ranking.to_csv(index=False).encode())
    result = verdict(table, at=args.at, goal=args.goal, floor=args.floor, min_wins=args.min_wins)
    store = ResultStore(out)
    store.write_manifest(
        build_manifest(
            "decision",
            {"studies": [str(s) for s in args.studies], "new": args.new,
             "incumbents": args.incumbents},
            rules=[*args.new, *args.incumbents],
            seeds=[],
            analysis={"at": args.at, "targets": args.targets, "goal": args.goal,
                      "floor": args.floor, "min_wins": args.min_wins, "n_boot": args.n_boot},
            previous=store.read_manifest(),
            verdict=result,
        )
    )  # fmt: skip
    column = "fraction" if "fraction" in table.columns else "target"
    shown = table.assign(
        ratio=_intervals(table, "ratio", "ci_low", "ci_high"),
        per_rollout=_intervals(table, "rollout_ratio", "rollout_ci_low", "rollout_ci_high"),
    )
    shown = shown[["design", column, "best_new", "best_incumbent", "ratio", "per_rollout",
                   "n_draws", "n_seeds"]]  # fmt: skip
    print(shown.to_string(index=False))
    print(
        f"goal at {'target' if args.targets else 'fraction'} {args.at:g}: >= {args.goal:g}x the "
        "best incumbent with "
        f"the interval above 1 on >= {args.min_wins} designs, never below {args.floor:g}x: "
        + ("MET" if result["met"] else "NOT MET")
        + f" (clear wins: {', '.join(result['clear_wins']) or 'none'}; below the floor: "
        + f"{', '.join(result['below_floor']) or 'none'})"
    )
    print(f"results in {out}")
    return 0


def _intervals(table, point: str, low: str, high: str) -> list[str]:
    return [
        f"{p:.3f} [{lo:.3f}, {hi:.3f}]"
        for p, lo, hi in zip(table[point], table[low], table[high], strict=True)
    ]
