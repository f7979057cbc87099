"""A causal test of the decomposition on the GRPO harness: checkpoints of a Random run,
then batches built from the quintiles of predicted WMI, difficulty m(1-m) and evidence
1/(n+1) (plus a hopeless control), each rolled out several times, and the first-order
effect of each batch's own gradient on exact held-out success and on the chosen prompts'
success. Writes effects.parquet, slopes.csv, quintiles.csv, control.csv and
manifest.json into OUT, and prints the slopes.
"""

from __future__ import annotations

import argparse
import time

__all__ = ["add_arguments", "run"]


def _steps(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated steps, got {text!r}") from None
    if not values or min(values) < 0:
        raise argparse.ArgumentTypeError(f"steps must be >= 0, got {text!r}")
    return values


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``insight-bayes rlvr-intervention``."""
    from insight_bayes.cli_types import int_at_least, positive_int, toml_file

    parser.add_argument(
        "config", type=toml_file, help="study config (TOML), e.g. configs/rlvr/cpu-tiered.toml"
    )
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument(
        "--checkpoints", type=_steps, default=(0, 20, 40), help="Random-run steps (0,20,40)"
    )
    parser.add_argument(
        "--replicates", type=positive_int, default=8, help="rollout seeds per batch, >= 1"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the Random run")
    parser.add_argument("--cache-dir", default=None, help="warm-up cache (.cache/insight-bayes)")
    parser.add_argument("--threads", type=positive_int, default=None, help="torch CPU threads")
    parser.add_argument(
        "--n-boot", type=int_at_least(100), default=1000, help="bootstrap replicates, >= 100"
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run(args: argparse.Namespace) -> int:
    """Entry point of ``insight-bayes rlvr-intervention``."""
    import pandas as pd
    import torch

    from insight_bayes.analysis.intervention import (
        control_summary,
        intervention_slopes,
        quintile_means,
    )
    from insight_bayes.results.io import atomic_write_bytes, build_manifest
    from insight_bayes.results.store import ResultStore
    from insight_bayes.rlvr.config import load_config
    from insight_bayes.rlvr.harness import harness_for
    from insight_bayes.rlvr.intervention import run_intervention

    config = load_config(args.config)
    if args.threads:
        torch.set_num_threads(args.threads)
    started = time.perf_counter()
    harness = harness_for(config, "cpu", args.cache_dir, not args.no_progress)
    effects = run_intervention(
        harness,
        args.checkpoints,
        replicates=args.replicates,
        seed=args.seed,
        progress=not args.no_progress,
    )
    slopes = intervention_slopes(effects, n_boot=args.n_boot)
    store = ResultStore(args.out)
    store.write_table("effects", effects)
    for name, table in (
        ("slopes", slopes),
        ("quintiles", quintile_means(effects)),
        ("control", control_summary(effects)),
    ):
        atomic_write_bytes(store.root / f"{name}.csv", table.to_csv(index=False).encode())
    store.write_manifest(
        build_manifest(
            "intervention",
            config.raw,
            rules=["random"],
            seeds=[args.seed],
            analysis={"measures": ["heldout", "chosen"], "n_boot": args.n_boot},
            torch=True,
            checkpoints=list(args.checkpoints),
            replicates=args.replicates,
            seconds=time.perf_counter() - started,
            warmup=harness.warmup_info,
        )
    )
    with pd.option_context("display.width", 160):
        print(control_summary(effects).round(6).to_string(index=False))
        print(slopes.round(3).to_string(index=False))
    print(f"results in {store.root} ({time.perf_counter() - started:.0f} s)")
    return 0
