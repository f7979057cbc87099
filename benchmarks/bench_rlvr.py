"""Speed of the GRPO harness: generated tokens per second, seconds per GRPO step, and the
share of step time spent in selection (the paper calls the selection overhead negligible).

    PYTHONPATH=. python benchmarks/bench_rlvr.py                  # CPU tiered config, 1 thread
    PYTHONPATH=. python benchmarks/bench_rlvr.py --config configs/rlvr/gpu.toml --device cuda

Uses the config's cached warm-up (trains it first if it is not cached). Prints one table.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np
import torch

from insight_bayes.loop import SelectionLoop
from insight_bayes.rlvr.config import load_config
from insight_bayes.rlvr.harness import Harness, resolve_device


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def bench(
    config_path: str, device: str, steps: int, rules: list[str]
) -> tuple[list[dict], Harness]:
    config = load_config(config_path)
    device = resolve_device(device)
    harness = Harness(config, device, None, progress=False)
    rows = []

    # generation throughput: one step's worth of rollouts (M prompts x K samples)
    env = harness.environment()
    rng = np.random.default_rng(0)
    ids = rng.choice(env.pool_size, size=config.loop.m, replace=False)
    env.learn(ids, env.rollout(ids, config.loop.k, rng), rng)  # warm
    tokens, seconds = 0, 0.0
    for _ in range(3):
        _sync(device)
        t0 = time.perf_counter()
        env.rollout(ids, config.loop.k, rng)
        _sync(device)
        seconds += time.perf_counter() - t0
        tokens += env._tokens
        env._tokens = 0
    rows.append(
        {
            "what": f"generate {config.loop.m}x{config.loop.k} completions",
            "tokens_per_second": tokens / seconds,
        }
    )

    # full GRPO steps through the shared loop: the held-out evaluation every K steps is off;
    # the per-step evaluation inside learn() (exact pass@1, answer log-prob) is timed apart
    loop_config = dataclasses.replace(config.loop, steps=steps + 1, eval_every=0)
    for rule in rules:
        env = harness.environment()
        loop = SelectionLoop(env, rule, loop_config, seed=0)
        loop.step()  # warm-up step (allocations, kernels)
        _sync(device)
        recs = [loop.step() for _ in range(steps)]
        step_s = np.array([r.step_seconds for r in recs])
        sel_s = np.array([r.selection_seconds for r in recs])
        gen_s = np.array([r.metrics["train/generation_seconds"] for r in recs])
        upd_s = np.array([r.metrics["train/update_seconds"] for r in recs])
        eval_s = np.array([r.metrics.get("train/eval_seconds", 0.0) for r in recs])
        tok = np.array([r.metrics["train/tokens_generated"] for r in recs])
        sel_only = sel_s  # the loop times selection without the rollouts
        rows.append(
            {
                "what": f"GRPO step, {rule}",
                "seconds_per_step": step_s.mean(),
                "without_eval_s": (step_s - eval_s).mean(),
                "generation_s": gen_s.mean(),
                "update_s": upd_s.mean(),
                "eval_s": eval_s.mean(),
                "selection_s": sel_only.mean(),
                "selection_share": sel_only.sum() / step_s.sum(),
                "tokens_per_second": tok.sum() / gen_s.sum(),
                "rollouts_per_step": np.mean([r.rollouts for r in recs]),
            }
        )
    return rows, harness


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/rlvr/cpu-tiered.toml")
    parser.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rules", default="random,insight,dynamic-sampling")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows, harness = bench(args.config, args.device, args.steps, args.rules.split(","))
    import pandas as pd

    params = sum(p.numel() for p in harness.policy.model.parameters())
    print(
        f"config {args.config}  device {harness.device}  threads {torch.get_num_threads()}  "
        f"parameters {params:,}  M={harness.config.loop.m} K={harness.config.loop.k}  "
        f"candidates={harness.config.loop.resolved_m_hat(harness.config.task.pool_size)}"
    )
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(pd.DataFrame(rows).round(4).to_string(index=False))
    print(
        "selection_s: time in the selector, rollouts excluded (the loop times them apart); "
        "selection_share = selection_s / seconds_per_step; eval_s: the per-step exact pass@1 "
        "and answer log-prob; without_eval_s = seconds_per_step - eval_s"
    )


if __name__ == "__main__":
    main()
