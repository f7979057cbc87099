"""Time the acquisition score on 1,000,000 candidates at K = 8.

Prints, measured in the same run:
  * ``wmi_score`` (the package's stable, compiled evaluation of Eq. 16);
  * a direct scipy.special transcription of Eq. 11-13 (the textbook form);
  * MoPPS's Thompson draw plus top-M selection on the same candidates;
and the two ratios the issue sets targets for (>= 10x faster than direct, within 5x of
Thompson). Candidates are beliefs of a pool part-way through training: each prompt
visited 0-5 times with K = 8 rollouts per visit at a uniform true rate, prior Beta(1, 1).
A second line uses large-evidence beliefs (log-uniform n in [10, 1e6]).

Run: ``python benchmarks/bench_scores.py [--n 1000000] [--repeats 5]``
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy import special

from insight_bayes import make_selector, wmi_score
from insight_bayes.beliefs.beta_belief import BetaBelief
from insight_bayes.beliefs.drift import DriftParams
from insight_bayes.beliefs.tracking_belief import TrackingBelief


def direct_wmi(a: np.ndarray, b: np.ndarray, k: int, mu: float = 0.3, eta: float = 3.0):
    """Eq. 11-13 and 15-16 transcribed literally with scipy.special."""

    def entropy(x, y):
        return (
            special.betaln(x, y)
            - (x - 1) * special.digamma(x)
            - (y - 1) * special.digamma(y)
            + (x + y - 2) * special.digamma(x + y)
        )

    mi = entropy(a, b)
    log_b0 = special.betaln(a, b)
    for s in range(k + 1):
        p = np.exp(np.log(special.comb(k, s)) + special.betaln(a + s, b + k - s) - log_b0)
        mi -= p * entropy(a + s, b + k - s)
    m = a / (a + b)
    return m * (1 - m) * np.exp(-eta * (m - mu) ** 2) * mi


def tracking_belief(a: np.ndarray, b: np.ndarray) -> TrackingBelief:
    """The same stored Betas, last visited 1-10 steps ago, under a fixed drift (the fit's
    cost is per update, not per candidate, and is not part of this timing)."""
    belief = TrackingBelief(a.size, drift=DriftParams(trend=0.05, diffusion=0.01, jump=0.15))
    belief._alpha[:], belief._beta[:] = a, b  # benchmark-only shortcut to set the state
    belief.clock = 10
    belief._last[:] = np.random.default_rng(2).integers(0, 10, a.size)
    belief._visited[:] = a + b > 2.0
    belief._refresh_moments()
    return belief


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def bench(a: np.ndarray, b: np.ndarray, k: int, m: int, repeats: int, label: str) -> None:
    wmi_score(a[:10], b[:10], k)  # compile outside the timing
    wmi_score(a, b, k)
    t_wmi = best_of(lambda: wmi_score(a, b, k), repeats)
    t_direct = best_of(lambda: direct_wmi(a, b, k), max(1, repeats // 2))
    belief = BetaBelief(a.size)
    belief._alpha[:], belief._beta[:] = a, b  # benchmark-only shortcut to set the state
    candidates = np.arange(a.size)
    mopps = make_selector("mopps")
    rng = np.random.default_rng(0)
    t_thompson = best_of(lambda: mopps.select(candidates, belief, m, k, rng), repeats)
    raw_rng = np.random.default_rng(1)

    def raw_thompson():
        phi = raw_rng.beta(a, b)
        return np.argpartition((phi - 0.5) ** 2, m)[:m]

    t_raw = best_of(raw_thompson, repeats)
    insight = make_selector("insight")
    t_insight = best_of(lambda: insight.select(candidates, belief, m, k, rng), repeats)
    signal_times = bench_signal(a, b, k, m, repeats)  # scores about learning
    # beyond the paper: noisy verifier (eps 0.1 each way), graded rewards
    noisy = make_selector("insight-noisy", eps0=0.1, eps1=0.1)
    noisy_belief = noisy.new_belief(a.size)
    noisy_belief._alpha[:], noisy_belief._beta[:] = a, b  # benchmark-only shortcut
    noisy.select(candidates[:10], noisy_belief, 1, k, rng)  # compile outside the timing
    t_noisy = best_of(lambda: noisy.select(candidates, noisy_belief, m, k, rng), repeats)
    graded = make_selector("insight-graded")
    t_graded = best_of(lambda: graded.select(candidates, belief, m, k, rng), repeats)
    tracking, tracked = make_selector("insight-tracking"), tracking_belief(a, b)
    t_tracking = best_of(lambda: tracking.select(candidates, tracked, m, k, rng), repeats)
    err = np.max(
        np.abs(direct_wmi(a[:100_000], b[:100_000], k) - wmi_score(a[:100_000], b[:100_000], k))
    )
    print(f"\n{label}: {a.size:,} candidates, K = {k}, M = {m}")
    print(f"  wmi_score (stable, compiled)     {t_wmi * 1e3:9.1f} ms")
    print(f"  direct scipy.special Eq. 11-13   {t_direct * 1e3:9.1f} ms")
    print(f"  MoPPS Thompson draw + top-M      {t_thompson * 1e3:9.1f} ms")
    print(f"  bare Thompson draw + argpartition {t_raw * 1e3:8.1f} ms   (no checks, no ties)")
    print(f"  InSight score + top-M (selector) {t_insight * 1e3:9.1f} ms")
    for name, seconds in signal_times.items():
        print(f"  {name:32s} {seconds * 1e3:9.1f} ms   ({seconds / t_insight:.2f} x InSight)")
    print(
        f"  insight-noisy / insight-graded   {t_noisy * 1e3:9.1f} / {t_graded * 1e3:.1f} ms"
        f"   ({t_noisy / t_insight:.1f}x / {t_graded / t_insight:.1f}x InSight)"
    )
    print(f"  insight-tracking (propagate+score) {t_tracking * 1e3:7.1f} ms   "
          f"{t_tracking / t_insight:.2f} x InSight (target <= 2)")  # fmt: skip
    print(f"  speed-up over direct             {t_direct / t_wmi:9.1f} x   (target >= 10)")
    print(f"  wmi_score / Thompson selection   {t_wmi / t_thompson:9.2f} x   (target <= 5)")
    print(f"  wmi_score / bare Thompson        {t_wmi / t_raw:9.2f} x   (stricter reading)")
    print(f"  max |direct - stable| (first 100k) {err:.2e}")


def bench_signal(a: np.ndarray, b: np.ndarray, k: int, m: int, repeats: int) -> dict:
    """Selection (score + top-M) of the rules of :mod:`insight_bayes.selectors.signal`."""
    from insight_bayes.beliefs.lag import LagBelief

    times = {}
    candidates = np.arange(a.size)
    rng = np.random.default_rng(0)
    for name in ("learning-signal", "expected-std", "signal-information", "insight-adaptive"):
        rule = make_selector(name)
        belief = rule.new_belief(a.size)
        belief._alpha[:], belief._beta[:] = a, b  # benchmark-only shortcut, as above
        if isinstance(belief, LagBelief):
            belief._lag_residual, belief._lag_trials = 0.2, 1.0  # mu = 0.3
        rule.select(candidates[:10], belief, 1, k, rng)  # compile outside the timing
        times[f"{name} score + top-M"] = best_of(
            lambda rule=rule, belief=belief: rule.select(candidates, belief, m, k, rng), repeats
        )
    return times


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument("--m", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    visits = rng.integers(0, 6, args.n)
    successes = rng.binomial(visits * args.k, rng.random(args.n))
    a = 1.0 + successes
    b = 1.0 + visits * args.k - successes
    bench(a, b, args.k, args.m, args.repeats, "Part-way through training")
    n = 10.0 ** rng.uniform(1, 6, args.n)
    mean = rng.uniform(0.02, 0.98, args.n)
    bench(mean * n, (1 - mean) * n, args.k, args.m, args.repeats, "Large evidence")
    import numba

    print(f"\nnumba threads: {numba.get_num_threads()}")


if __name__ == "__main__":
    main()
