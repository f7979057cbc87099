"""The throughput sentences the READMEs quote, written from the saved benchmark tables.

    PYTHONPATH=. python benchmarks/summary.py

prints it; ``tests/test_bench_numbers.py`` checks that ``README.md`` and
``benchmarks/README.md`` quote exactly this, so the numbers cannot drift from
``benchmarks/results/``.
"""

from __future__ import annotations

import importlib.util
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
    block = int(study.get("runs_per_process", 1))
    blocks = f" in blocks of {block} runs" if block > 1 else ""
    return (
        f"one run at a time takes {after['cpu_per_run_step']:.3f} CPU s per run-step with the "
        f"code of `{after['code']}`, against {before['cpu_per_run_step']:.3f} s with "
        f"`{before['code']}` ({speedup:.2f}x; the exact evaluation's share of a step "
        f"{before['step_eval_share']:.2f} -> {after['step_eval_share']:.2f}), and the tiered "
        f"study ({int(study['runs'])} runs x 150 steps, {int(study['workers'])} workers) ran "
        f"end to end{blocks} in {study['wall_minutes']:.1f} minutes with `{study['code']}` "
        f"({study['kernels']} kernels{', warm-up read from its cache' * cached}), against the "
        f"{study['goal_minutes']:.0f}-minute goal"
    )


def blocks_sentence(results: Path = RESULTS) -> str:
    """Blocks of runs on CPU against one run at a time, for the first and the last code of
    ``rlvr_blocks_cpu.csv`` (each timed in one benchmark call, one after the other), and
    the last two end-to-end studies of ``rlvr_study_wall_cpu.csv`` when one of them ran in
    blocks and the other one run at a time."""
    bench = pd.read_csv(results / "rlvr_blocks_cpu.csv")
    codes = list(dict.fromkeys(bench["code"]))
    old, new = codes[0], codes[-1]

    def speeds(code: str) -> str:
        rows = bench[bench["code"] == code].groupby("block")["cpu_per_run_step"].mean()
        sizes = [int(b) for b in rows.index if b > 1]
        listed = " and ".join(map(str, sizes))
        values = " and ".join(f"{rows[b]:.3f}" for b in sizes)
        return f"blocks of {listed} took {values} CPU s per run-step against {rows[1]:.3f}"

    text = (
        f"with the code of `{new}` {speeds(new)} for one run at a time, where `{old}`'s "
        f"{speeds(old)}"
    )
    # the last two end-to-end studies, when they are one in blocks and one not (run one
    # after the other on one machine)
    walls = pd.read_csv(results / "rlvr_study_wall_cpu.csv").tail(2)
    blocked = walls[walls["runs_per_process"] > 1]
    alone = walls[walls["runs_per_process"] == 1]
    if len(blocked) == 1 and len(alone) == 1:
        b, a = blocked.iloc[0], alone.iloc[0]
        text += (
            f"; end to end, one after the other, the tiered study took "
            f"{b['wall_minutes']:.1f} minutes in blocks of {int(b['runs_per_process'])} runs "
            f"(`{b['code']}`) and {a['wall_minutes']:.1f} minutes one run at a time "
            f"(`{a['code']}`)"
        )
    return text


def gpu_sentence(study: Path | None = None, goal_minutes: float = 8.0) -> str:
    """The GPU study's state, from its folder (default ``results/rlvr-gpu``): the design
    checks, the runs done, and the speed its batched blocks measured on the device
    (each draw manifest's ``time_budget`` records), with the device time that speed
    gives the whole study and the runs that fit in the goal."""
    import json

    from insight_bayes.rlvr.config import load_config
    from insight_bayes.rlvr.time_budget import EVAL_COST, budget_records

    study = study or RESULTS.parent.parent / "results" / "rlvr-gpu"
    manifest = json.loads((study / "manifest.json").read_text())
    design = manifest["design"]
    loop = load_config(manifest["config"]).loop
    blocks, speeds, steps_trained = [], [], []
    for _, draw in budget_records(study):
        if "warmup" in draw:
            steps_trained.append(int(draw["warmup"]["steps_trained"]))
        for record in draw.get("time_budget", []):
            blocks += record["blocks"]
            speeds += record["measured_seconds_per_run_step"]
    measured = pd.DataFrame({"block": blocks, "speed": speeds})
    size = int(measured["block"].max())
    speed = float(measured.loc[measured["block"] == size, "speed"].mean())
    alone = measured.loc[measured["block"] == 1, "speed"]
    evaluations = loop.steps // loop.eval_every + 1 if loop.eval_every else 0
    run = (loop.steps + EVAL_COST * evaluations) * speed  # one run's share of a block, s
    runs = manifest["runs"]
    minutes = runs["expected"] * run / 60.0
    warmups = ", ".join(map(str, steps_trained))
    verdict = ": it does not fit"
    spec = importlib.util.spec_from_file_location(
        "gpu_throughput", Path(__file__).resolve().parent / "gpu_throughput.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rate = module.throughput(study)
    busy = (
        "" if rate["gpu_util_mean"] is None
        else f", with the GPU {rate['gpu_util_mean']:.0f}% busy on average"
    )  # fmt: skip
    return (
        f"On one H200 the GPU study's design checks passed before any rule ran (the warm-up, "
        f"checked every {manifest['config']['warmup']['check_every']} steps, stopped at step "
        f"{warmups}; Random's pilot kept the learning rate {design['lr']:g}), and "
        f"{runs['complete']} of its {runs['expected']} runs are done. Its blocks of {size} "
        f"runs measured {speed:.3f} s per run-step with TF32 products"
        + (f" (one run alone: {alone.iloc[-1]:.3f} s)" if len(alone) else "")
        + f"; its blocks generated {rate['tokens_per_wall_second']:,.0f} tokens per second{busy}"
        + f", so the study's runs alone would take about {minutes:.0f} minutes of device "
        f"time (its design checks and warm-ups not counted), against "
        f"the {goal_minutes:.0f}-minute goal{'' if minutes <= goal_minutes else verdict}"
        f"; {goal_minutes:.0f} minutes hold about {int(goal_minutes * 60 // run)} runs of "
        f"{loop.steps} steps"
    )


if __name__ == "__main__":
    print(cpu_sentence() + ".")
    print(blocks_sentence() + ".")
    print(gpu_sentence() + ".")
