"""Simulator throughput: steps per second and the wall time of the paper-shaped sweep.

Run from the repository root::

    python benchmarks/bench_simulator.py [--workers 2] [--skip-sweep]

Prints (1) simulated steps per second of one run of each listed rule on the
paper-shaped scenario (pool 2,000, M = 256, K = 8, M_hat = 2,000, evaluated every step),
(2) the same on a pool of 1,000,000 prompts (M_hat = 16,384, M = 1,024, K = 8), and
(3) the wall time of the full paper-shaped sweep (9 rules x 10 seeds x 100 steps) into a
fresh temporary folder (target: under 60 s on 2 cores). Timings only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from simulations.scenarios import get_scenario
from simulations.sweep import PAPER_RULES, RunSpec, run_one, run_sweep


def steps_per_second(scenario_name: str, rule: str, steps: int | None = None) -> float:
    scenario = get_scenario(scenario_name)
    if steps is not None:
        import dataclasses

        scenario = scenario.with_changes(loop=dataclasses.replace(scenario.loop, steps=steps))
    run_one(RunSpec(scenario.with_changes(loop=_short(scenario)), rule, 99))  # warm-up / JIT
    started = time.perf_counter()
    run_one(RunSpec(scenario, rule, 0))
    return scenario.loop.steps / (time.perf_counter() - started)


def _short(scenario):
    import dataclasses

    return dataclasses.replace(scenario.loop, steps=2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--skip-sweep", action="store_true")
    args = parser.parse_args()
    print(f"CPUs visible: {os.cpu_count()}")
    print("\n[1] countdown-paper (pool 2000, M=256, K=8, M_hat=2000): steps/s of one run")
    for rule in PAPER_RULES:
        print(f"  {rule:20s} {steps_per_second('countdown-paper', rule):8.1f} steps/s")
    print("\n[2] large-pool (1,000,000 prompts, M_hat=16384, M=1024, K=8): steps/s of one run")
    for rule in ("random", "insight", "mopps", "dynamic-sampling"):
        print(f"  {rule:20s} {steps_per_second('large-pool', rule, steps=20):8.1f} steps/s")
    if not args.skip_sweep:
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            result = run_sweep(
                "countdown-paper", PAPER_RULES, 10, tmp, workers=args.workers, progress=False
            )
            wall = time.perf_counter() - started
        print(
            f"\n[3] full paper-shaped sweep: {len(result.ran)} runs x 100 steps "
            f"({len(result.ran) * 100} steps) with {args.workers} workers: {wall:.1f} s "
            f"(target < 60 s)"
        )


if __name__ == "__main__":
    main()
