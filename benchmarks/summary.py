"""The throughput sentences the READMEs quote, written from the saved benchmark tables.

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


def gpu_sentence(results: Path = RESULTS, attempts: Path | None = None) -> str:
    """The GPU study's state: its design checks (``warmups.csv`` of the attempts folder)
    and the batched-runs throughput on the device (``rlvr_batched_gpu.csv``)."""
    attempts = attempts or results.parent.parent / "results" / "rlvr-gpu-attempts"
    bench = pd.read_csv(results / "rlvr_batched_gpu.csv")
    one = bench[bench["block"] == 1].iloc[-1]
    block = bench[bench["block"] > 1].sort_values("block").iloc[-1]
    tried = pd.read_csv(attempts / "warmups.csv")
    lengths = ", ".join(str(s) for s in sorted(tried["warmup_steps"].unique()))
    tiers = sorted(tried.loc[tried["tiers_ok"], "warmup_steps"].unique())
    gate = sorted(tried.loc[tried["gate_ok"], "warmup_steps"].unique())
    fits = block["study_minutes"] <= block["goal_minutes"]
    precision = "TF32" if block.get("matmul_precision") == "high" else "full float32"
    return (
        f"On one H200 the GPU study's design checks stopped it before any rule ran in "
        f"{tried['attempt'].nunique()} device calls: of the warm-up lengths tried ({lengths} "
        f"steps), those whose easiest tiers passed ({', '.join(map(str, tiers)) or 'none'}) "
        f"and those whose pool gate passed ({', '.join(map(str, gate)) or 'none'}) do not "
        f"overlap. A block of {int(block['block'])} runs took {block['wall_per_run_step']:.3f} s "
        f"per run-step against {one['wall_per_run_step']:.3f} s one run at a time "
        f"({one['wall_per_run_step'] / block['wall_per_run_step']:.2f}x, {precision} products), "
        f"so the study ({int(block['study_runs'])} runs x 150 steps) would take about "
        f"{block['study_minutes']:.0f} minutes, against the {block['goal_minutes']:.0f}-minute "
        f"goal{'' if fits else ': it does not fit'}"
    )


if __name__ == "__main__":
    print(cpu_sentence() + ".")
    print(gpu_sentence() + ".")
