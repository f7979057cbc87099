"""Throughput of batched runs: CPU seconds per run-step with blocks of N = 1, 4, 8 runs, the
share of a step spent in the every-step exact evaluation, and the tiered study's wall time
extrapolated from them.

    PYTHONPATH=. python benchmarks/bench_rlvr_batched.py                 # cpu-tiered, 1 thread
    PYTHONPATH=. python benchmarks/bench_rlvr_batched.py --blocks 1,4,8 --steps 8 \\
        --out benchmarks/results/rlvr_batched_cpu.csv

The same 8 runs (the config's rules at seed 0, then Random at seed 1, ...) are trained for
``--steps`` steps from the config's warm-up, one block of N runs after another: N = 1 is
today's path (one :class:`~insight_bayes.rlvr.grpo_environment.GRPOEnvironment` per run), N > 1
the batched path (:func:`insight_bayes.rlvr.batched.train_block`). The held-out evaluation
every ``eval_every`` steps is timed apart (one evaluation of every run). CPU seconds are the
process's (``time.process_time``, every thread); the load average of the machine is written
with each row, since a shared machine slows every timing.

Each row also has the shares of a trained step spent generating and updating
(``generation_share``, ``update_share``; the rest is the rule's selection and the
bookkeeping), and ``--profile DIR`` writes a :mod:`torch.profiler` table of one block of
each size (``DIR/profile_block<N>.txt``, operators by self time on the device and the CPU).

Extrapolation: ``runs x steps x cpu_per_run_step + runs x evaluations x cpu_per_run_eval``,
divided by the cores (2 worker processes of 1 thread), against the 30-minute goal; on CUDA
the same with wall seconds, against the 8-minute goal. On CUDA the float32 matrix products
run at the precision a study's block uses (``CUDA_MATMUL_PRECISION``, TF32), recorded in the
``matmul_precision`` column (rows without it were timed in full float32).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from insight_bayes.loop import SelectionLoop
from insight_bayes.rlvr.batched import train_block
from insight_bayes.rlvr.config import load_config
from insight_bayes.rlvr.design import designed_config, read_design
from insight_bayes.rlvr.harness import Harness, resolve_device
from insight_bayes.rlvr.precision import CUDA_MATMUL_PRECISION

try:
    from insight_bayes.rlvr.machine import device_name
except ImportError:  # timing an older commit's code (PYTHONPATH=that checkout)
    try:
        from insight_bayes.rlvr.study_jobs import device_name
    except ImportError:
        import platform

        def device_name(device: str) -> str:
            return f"{platform.machine()} ({torch.backends.cpu.get_cpu_capability()} kernels)"


from insight_bayes.selectors import selector_from_label


def _commit() -> str:
    """The commit of the checkout whose ``insight_bayes`` is imported (``+`` if modified)."""
    import insight_bayes

    root = Path(insight_bayes.__file__).resolve().parent.parent

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, check=False
        ).stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    return head + ("+" if git("status", "--porcelain", "--untracked-files=no") else "")


def _runs(config, n: int) -> list[tuple[str, int]]:
    rules = list(config.study.rules)
    return [(rules[i % len(rules)], i // len(rules)) for i in range(n)]


def _sync(harness: Harness) -> None:
    if harness.device == "cuda":
        torch.cuda.synchronize()


def _profile(harness: Harness, runs, block: int, folder: Path, graphs: bool = False) -> None:
    """One block of ``runs`` under :mod:`torch.profiler`: its operators by self time on the
    device and on the CPU, written to ``folder/profile_block{block}.txt``."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU]
    if harness.device == "cuda":
        activities.append(ProfilerActivity.CUDA)
    with profile(activities=activities) as prof:
        _, wall, _ = _train(harness, runs, block, graphs)
    folder.mkdir(parents=True, exist_ok=True)
    averages = prof.key_averages()
    keys = ["self_cuda_time_total"] * (harness.device == "cuda") + ["self_cpu_time_total"]
    text = "\n\n".join(
        f"sorted by {key}\n{averages.table(sort_by=key, row_limit=40)}" for key in keys
    )
    if harness.device == "cuda":  # how much of the block's wall time the GPU was computing
        device_us = sum(
            getattr(a, "self_device_time_total", getattr(a, "self_cuda_time_total", 0.0))
            for a in averages
        )
        text = (
            f"block of {block} runs under the profiler: {wall:.3f} s wall, kernels "
            f"{device_us / 1e6:.3f} s of device time (busy {device_us / 1e6 / wall:.0%}, "
            "overlapping kernels counted twice)\n\n" + text
        )
    name = f"profile_block{block}" + ("_graphs" if graphs else "")
    (folder / f"{name}.txt").write_text(text + "\n")


def _train(
    harness: Harness, runs, block: int, graphs: bool = False
) -> tuple[float, float, pd.DataFrame]:
    """Train ``runs`` in blocks of ``block`` (``graphs``: blocks generate with CUDA graphs);
    returns (cpu seconds, wall seconds, steps)."""
    tables = []
    _sync(harness)
    cpu, wall = time.process_time(), time.perf_counter()
    for start in range(0, len(runs), block):
        part = runs[start : start + block]
        if block == 1:  # today's path: one environment, one run
            rule, seed = part[0]
            loop = SelectionLoop(
                harness.environment(), selector_from_label(rule), harness.config.loop,
                seed=seed, rule=rule,
            )  # fmt: skip
            tables.append(pd.DataFrame([r.summary() for r in loop.iter_steps()]))
        else:
            extra = {"cuda_graphs": True} if graphs else {}  # older commits lack it
            tables += [steps for steps, _ in train_block(harness, part, **extra)]
    _sync(harness)
    return time.process_time() - cpu, time.perf_counter() - wall, pd.concat(tables)


def bench(
    config_path: str,
    blocks: list[int],
    steps: int,
    n_runs: int,
    cache: str | None,
    device: str = "cpu",
    design: str | None = None,
    profile: str | None = None,
    graphs: tuple[bool, ...] = (False,),
):
    base = load_config(config_path)
    record = read_design(Path(design).parent) if design else {}
    if record.get("passed"):  # the warm-up and lr the study's design checks kept
        base = designed_config(base, record)
    harness = Harness(base, resolve_device(device), cache, progress=False)
    if harness.device == "cuda":  # what a study's block runs with (TF32 products)
        torch.set_float32_matmul_precision(CUDA_MATMUL_PRECISION)
    runs = _runs(base, n_runs)
    rows = []
    for graph, block in ((g, b) for g in graphs for b in blocks):
        # training steps only (no held-out evaluation: it is timed below)
        harness.config = dataclasses.replace(
            base, loop=dataclasses.replace(base.loop, steps=steps, eval_every=0)
        )
        _train(harness, runs[:block], block, graph)  # warm: allocations, first calls
        if profile:
            _profile(harness, runs[:block], block, Path(profile), graph)
        load = os.getloadavg()[0]
        cpu, wall, table = _train(harness, runs, block, graph)
        trained = table[table.step > 0]
        # where a step's time goes (a block's runs wait on the same batched calls)
        share = {
            f"{part}_share": float(
                trained[f"train/{part}_seconds"].sum() / trained["step_seconds"].sum()
            )
            for part in ("generation", "update")
        }
        # the held-out evaluation of every run once (steps = 0: the step-0 evaluation only)
        harness.config = dataclasses.replace(
            base, loop=dataclasses.replace(base.loop, steps=0, eval_every=1)
        )
        eval_cpu, eval_wall, _ = _train(harness, runs, block, graph)
        rows.append(
            {
                "block": block,
                "runs": len(runs),
                "steps": steps,
                "cpu_per_run_step": cpu / (len(runs) * steps),
                "wall_per_run_step": wall / (len(runs) * steps),
                "step_eval_share": float(
                    trained["train/eval_seconds"].sum() / trained["step_seconds"].sum()
                ),
                "cpu_per_run_eval": eval_cpu / len(runs),
                "wall_per_run_eval": eval_wall / len(runs),
                **share,
                "load_average": load,
            }
            | ({"cuda_graphs": graph} if any(graphs) else {})
            | (
                {"matmul_precision": torch.get_float32_matmul_precision()}
                if harness.device == "cuda"
                else {}
            )
        )
        print(rows[-1], flush=True)
    harness.config = base
    return pd.DataFrame(rows), harness


def extrapolate(table: pd.DataFrame, config, device: str, cores: int = 2) -> pd.DataFrame:
    """The study's wall time from each row: every run's steps and held-out evaluations; on
    CPU their CPU seconds spread over ``cores`` single-thread workers, on CUDA the wall
    seconds of one process. The goal: 30 minutes on CPU, 8 on one GPU."""
    runs = len(config.study.rules) * len(config.study.seeds) * len(config.study.draws)
    loop = config.loop
    evaluations = (loop.steps // loop.eval_every + 1) if loop.eval_every else 0
    kind, per = ("cpu", cores) if device == "cpu" else ("wall", 1)
    seconds = runs * (
        loop.steps * table[f"{kind}_per_run_step"] + evaluations * table[f"{kind}_per_run_eval"]
    )
    out = table.copy()
    out.insert(0, "code", _commit())
    out["study_runs"] = runs
    out["study_minutes"] = seconds / per / 60
    out["goal_minutes"] = 30.0 if device == "cpu" else 8.0
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/rlvr/cpu-tiered.toml")
    parser.add_argument("--blocks", default="1,4,8")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--cache-dir", default=None)
    parser.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--design", default=None, help="a study's design.json (its warm-up, lr)")
    parser.add_argument("--out", default=None, help="CSV of the table (and a .md next to it)")
    parser.add_argument(
        "--profile", default=None, help="folder for a torch.profiler table of each block size"
    )
    parser.add_argument(
        "--append", action="store_true", help="add the rows to --out (another commit's code)"
    )
    parser.add_argument(
        "--graphs",
        default="off",
        help="off, on or off,on: blocks generate with CUDA graphs "
        "(rows of each; a block of 1 trains one run alone, without them)",
    )
    args = parser.parse_args()
    graphs = [g.strip() for g in args.graphs.split(",")]
    if not set(graphs) <= {"off", "on"}:
        parser.error(f"--graphs takes off, on or off,on; got {args.graphs!r}")
    torch.set_num_threads(args.threads)
    blocks = [int(b) for b in args.blocks.split(",")]
    table, harness = bench(
        args.config, blocks, args.steps, args.runs, args.cache_dir, args.device, args.design,
        args.profile, tuple(g == "on" for g in graphs),
    )  # fmt: skip
    table = extrapolate(table, harness.config, harness.device)
    params = sum(p.numel() for p in harness.policy.model.parameters())
    header = (
        f"config {args.config}  device {harness.device} "
        f"({device_name(harness.device)}, {os.cpu_count()} cores, shared)  "
        f"threads {torch.get_num_threads()}  torch "
        f"{torch.__version__}  parameters {params:,}  M={harness.config.loop.m} "
        f"K={harness.config.loop.k}"
    )
    print(header)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.round(4).to_string(index=False))
    if args.out:
        table.insert(0, "config", args.config)
        if args.append and os.path.exists(args.out):
            table = pd.concat([pd.read_csv(args.out), table], ignore_index=True)
        table.to_csv(args.out, index=False)
        with open(os.path.splitext(args.out)[0] + ".md", "w") as f:
            f.write(header + "\n\n" + table.round(4).to_markdown(index=False) + "\n")
    np.set_printoptions()


if __name__ == "__main__":
    main()
