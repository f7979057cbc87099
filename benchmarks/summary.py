"""The CPU throughput sentence the READMEs quote, written from the saved benchmark tables.

    PYTHONPATH=. python benchmarks/summary.py

prints it; ``tests/test_bench_numbers.py`` checks that ``README.md`` and
``benchmarks/README.md`` quote exactly this, so the numbers cannot drift from
``benchmarks/results/``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

RESULTS = Path(__file__).resolve().parent / "results"


def cpu_sentence(results: Path = RESULTS) -> str:
    """One run at a time before and after (the first and last commit of the batched-runs
    table, block 1), and the last end-to-end study of ``rlvr_study_wall_cpu.csv``."""
    bench = pd.read_csv(results / "rlvr_batched_cpu.csv")
    one = bench[bench["block"] == 1]
    before, after = one.iloc[0], one.iloc[-1]
    study = pd.read_csv(results / "rlvr_study_wall_cpu.csv").iloc[-1]
    speedup = before["cpu_per_run_step"] / after["cpu_per_run_step"]
    cached = bool(study.get("warmup_cached", False))
    return (
        f"one run at a time takes {after['cpu_per_run_step']:.3f} CPU s per run-step with the "
        f"code of `{after['code']}`, against {before['cpu_per_run_step']:.3f} s with "
        f"`{before['code']}` ({speedup:.2f}x; the exact evaluation's share of a step "
        f"{before['step_eval_share']:.2f} -> {after['step_eval_share']:.2f}), and the tiered "
        f"study ({int(study['runs'])} runs x 150 steps, {int(study['workers'])} workers) ran "
        f"end to end in {study['wall_minutes']:.1f} minutes with `{study['code']}` "
        f"({study['kernels']} kernels{', warm-up read from its cache' * cached}), against the "
        f"{study['goal_minutes']:.0f}-minute goal"
    )


if __name__ == "__main__":
    print(cpu_sentence())
