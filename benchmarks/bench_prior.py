"""Time one refit of the learned prior (global and per group), cold and warm-started.

A refit merges rows of equal (group, successes, failures) and runs L-BFGS-B from the last
fit; the belief pays one per ``refit_every`` updates. Counts are drawn as after ``visits``
visits of ``K`` rollouts to a random half of the pool; ``--discount`` < 1 makes them
fractional (no rows merge: the worst case).

Run: ``python benchmarks/bench_prior.py [--pool 100000] [--groups 8] [--k 8] [--discount 1]``
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from insight_bayes.beliefs.prior import EmpiricalBayesPrior


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pool", type=int, default=100_000)
    parser.add_argument("--groups", type=int, default=8)
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument("--visits", type=int, default=3)
    parser.add_argument("--discount", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    groups = rng.integers(0, args.groups, args.pool)
    rates = rng.beta(0.5 + groups / args.groups, 1.5, args.pool)
    seen = rng.random(args.pool) < 0.5
    s = np.zeros(args.pool)
    f = np.zeros(args.pool)
    for _ in range(args.visits):
        wins = rng.binomial(args.k, rates) * seen
        s = args.discount * s + wins
        f = args.discount * f + (args.k - wins) * seen
    for name, ids in (("global", None), (f"{args.groups} groups", groups)):
        prior = EmpiricalBayesPrior(args.pool, ids)
        start = time.perf_counter()
        prior.refit(s, f)
        cold = time.perf_counter() - start
        warm = []
        for _ in range(args.repeats):
            s2, f2 = s + seen * rng.binomial(1, 0.01, args.pool), f
            start = time.perf_counter()
            prior.refit(s2, f2)
            warm.append(time.perf_counter() - start)
        print(
            f"{name:>10}: pool {args.pool}, discount {args.discount}: cold {1e3 * cold:.1f} ms, "
            f"warm {1e3 * np.median(warm):.1f} ms (median of {args.repeats})"
        )


if __name__ == "__main__":
    main()
