"""Time one OnlineSelector round trip (next_batch + report) at the paper's batch sizes.

Measures, in the same run, per batch: ``next_batch`` (draw ``M_hat = 16 M`` candidates
among prompts with nothing pending, score with InSight, keep the top ``M``) and
``report`` (binarise ``(M, K)`` rewards, match them to pending hand-outs, Eq. 6), with
one batch always pending as under TRL's prefetch, so the exclusion path is exercised.
Prints the milliseconds per call; compare them with a GRPO step (seconds to minutes).

Run: ``python benchmarks/bench_online.py [--pool 100000] [--m 256] [--k 8] [--batches 50]``
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from insight_bayes.integrations import OnlineConfig, OnlineSelector


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pool", type=int, default=100_000)
    parser.add_argument("--m", type=int, default=256)
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument("--batches", type=int, default=50)
    parser.add_argument("--rule", default="insight")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    rates = rng.uniform(size=args.pool)
    selector = OnlineSelector(args.pool, args.rule, OnlineConfig(m=args.m, k=args.k), seed=0)
    pending = selector.next_batch()  # warm-up (compiles the scores) and the prefetched batch
    draw_s, report_s = [], []
    for _ in range(args.batches):
        start = time.perf_counter()
        ids = selector.next_batch()  # drawn while `pending` still awaits its rewards
        draw_s.append(time.perf_counter() - start)
        rewards = (rng.random((pending.size, args.k)) < rates[pending, None]).astype(float)
        start = time.perf_counter()
        selector.report(pending, rewards)
        report_s.append(time.perf_counter() - start)
        pending = ids
    print(
        f"pool {args.pool}, M {args.m}, M_hat {16 * args.m}, K {args.k}, rule {args.rule}: "
        f"next_batch {1e3 * np.median(draw_s):.2f} ms, report {1e3 * np.median(report_s):.2f} ms "
        f"(medians of {args.batches}); max lag {selector.stats['max_lag']}"
    )


if __name__ == "__main__":
    main()
