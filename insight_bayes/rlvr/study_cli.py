"""Run a GRPO study of selection rules over seeds from one cached warm-up: rules x seeds
on a small language model, then print the summary (held-out metric, informative share,
interpolated steps-to-target and the speed-up of every rule versus the baseline, in
steps and in rollouts, with paired bootstrap intervals).

The config is a TOML file (``configs/rlvr/*.toml``); rules are labels such as
``"insight:mu=0.1"``. Re-running the same command resumes: it says how many runs it trained
and how many it resumed. Results land in OUT like a sweep's (steps.parquet,
choices.parquet, prompts.parquet, pool.parquet, summary.csv, steps_to_target.csv,
manifest.json; read them with insight_bayes.results.load_results). A config with
``study.draws = [0, 1, 2]`` replicates the study over task draws (draw d: task and warm-up
seeds + d), one ordinary study folder per draw in OUT/draw-d, and writes top-level tables
with a draw column and hierarchical (draws, then seeds) bootstrap intervals.
"""

from __future__ import annotations

import argparse

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``insight-bayes rlvr-study``."""
    from insight_bayes.cli_types import positive_int, toml_file

    parser.add_argument(
        "config", type=toml_file, help="study config (TOML), e.g. configs/rlvr/smoke.toml"
    )
    parser.add_argument("--out", required=True, help="output folder (resumable)")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--model", default=None, help="local Hugging Face model folder")
    parser.add_argument("--cache-dir", default=None, help="warm-up cache (.cache/insight-bayes)")
    parser.add_argument(
        "--threads", type=positive_int, default=None, help="torch CPU threads per run, >= 1"
    )
    parser.add_argument(
        "--backend",
        choices=("local", "ray"),
        default="local",
        help="local (in-process or worker processes) or Ray (a run asks for a GPU on cuda)",
    )
    parser.add_argument(
        "--workers", type=positive_int, default=1, help="worker processes, or Ray CPUs (default 1)"
    )
    parser.add_argument(
        "--skip-gate",
        action="store_true",
        help="train even if the pool gate (measured before any RL step) fails",
    )
    parser.add_argument(
        "--gather-only",
        action="store_true",
        help="write the tables from the runs already finished in --out, without training",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run(args: argparse.Namespace) -> int:
    """Entry point of ``insight-bayes rlvr-study``."""

    from insight_bayes.rlvr.config import load_config
    from insight_bayes.rlvr.study import gather_study

    config = load_config(args.config, model_path=args.model)
    if args.gather_only:
        tables = gather_study(config, args.out)
        _print_summary(config, tables.get("summary"))
        print(f"results in {args.out}")
        return 0

    import torch

    from insight_bayes.rlvr.study import run_study

    if args.threads:
        torch.set_num_threads(args.threads)
    result = run_study(
        config,
        args.out,
        device=args.device,
        cache_dir=args.cache_dir,
        backend=args.backend,
        workers=args.workers,
        threads=args.threads,
        progress=not args.no_progress,
        skip_gate=args.skip_gate,
    )
    if result.gate is not None:
        print(result.gate.get("summary", ""))
    print(f"{result.report.describe()} -> {result.out}")
    _print_summary(config, result.tables.get("summary"))
    print(f"results in {args.out}")
    return 0


def _print_summary(config, summary) -> None:
    import pandas as pd

    if summary is not None:
        shown = [
            "rule", "final_accuracy", "informative_share", "rollouts_per_step", "n_censored",
            "mean_cost", "speedup", "ci_low", "ci_high", "rollout_speedup", "rollout_ci_low",
            "rollout_ci_high", "between_draw_share",
        ]  # fmt: skip
        study = config.study
        print(
            f"\nsteps to {study.metric} >= {study.target} (interpolated between evaluations): "
            f"speed-up vs {study.baseline} in steps and in rollouts (95% paired bootstrap "
            + ("over draws, then seeds" if config.multi_draw else "over seeds")
            + "; censored runs count at the horizon)"
        )
        with pd.option_context("display.width", 200, "display.max_columns", 30):
            print(summary[[c for c in shown if c in summary]].round(3).to_string(index=False))
