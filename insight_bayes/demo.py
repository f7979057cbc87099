"""Score a small pool with every selection rule and print what each one keeps.

A pool of prompts with hidden success rates is observed for a few warm-up steps of
random selection; then each registered rule picks ``M`` of the same candidates. The
table shows, per rule, the mean belief, evidence and true success rate of its choices
and the share of them whose ``K`` rollouts would not all agree (informative groups),
computed exactly from the true rates.
"""

from __future__ import annotations

import argparse

import numpy as np

from insight_bayes.beliefs.beta_belief import BetaBelief
from insight_bayes.environment import FixedRateEnvironment
from insight_bayes.rewards import bernoulli_rollout, informative_probability
from insight_bayes.selectors import Selector, available_selectors, draw_candidates, make_selector
from insight_bayes.validation import check_int


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from insight_bayes.cli_types import nonnegative_int, positive_int

    parser.add_argument("--pool", type=positive_int, default=2000, help="prompts in the pool")
    parser.add_argument("--m", type=positive_int, default=64, help="prompts kept per step (M)")
    parser.add_argument("--k", type=positive_int, default=8, help="rollouts per prompt (K)")
    parser.add_argument(
        "--warmup-steps", type=nonnegative_int, default=20, help="random steps observed first"
    )
    parser.add_argument("--seed", type=nonnegative_int, default=0, help="random seed")


def observed_pool(
    pool: int = 2000, m: int = 64, k: int = 8, warmup_steps: int = 20, seed: int = 0
) -> tuple[np.ndarray, BetaBelief, np.ndarray]:
    """A pool shaped like RLVR data, observed for ``warmup_steps`` random steps.

    Returns the hidden success rates, the belief after the warm-up and one draw of
    ``16 m`` candidates, all deterministic given ``seed``. A quarter of the prompts is
    nearly unsolvable, a quarter nearly solved, the rest spread between.
    """
    pool = check_int(pool, "pool", min_value=1)
    m = check_int(m, "m", min_value=1, max_value=pool)
    rng = np.random.default_rng(seed)
    quarter = pool // 4
    rates = np.concatenate(
        [
            rng.beta(0.3, 8.0, quarter),
            rng.beta(8.0, 0.3, quarter),
            rng.beta(2.0, 2.0, pool - 2 * quarter),
        ]
    )
    belief = BetaBelief(pool)
    for _ in range(warmup_steps):
        ids = rng.choice(pool, size=m, replace=False)
        belief.update(ids, rng.binomial(k, rates[ids]), np.full(m, k))
    candidates = draw_candidates(pool, 16 * m, rng)
    return rates, belief, candidates


def choose_with_every_rule(
    rates: np.ndarray, belief: BetaBelief, candidates: np.ndarray, m: int, k: int, seed: int = 0
) -> dict[str, np.ndarray]:
    """Ids each registered rule keeps from the same candidates (rollouts drawn from ``rates``)."""
    chosen = {}
    env = FixedRateEnvironment(rates)  # the demo knows the true rates: oracles may bind
    for name in available_selectors():
        rule = make_selector(name).bind(env)
        rng = np.random.default_rng(seed + 1)
        batch = rule.gather(
            candidates,
            _belief_for(rule, belief, k),
            m,
            k,
            rng,
            rollout=lambda ids, g=rng: bernoulli_rollout(rates[ids], k, g),
        )
        chosen[name] = batch.ids
    return chosen


def _belief_for(rule: Selector, belief: BetaBelief, k: int) -> BetaBelief:
    """``belief``, or for a rule with its own belief model that model fed the
    same observations as one update (the warm-up then counts as observed in one step):
    counts where the model takes counts, else the equivalent binary rewards, ``k`` per
    group."""
    try:
        rule.check_belief(belief)
        return belief
    except ValueError:
        own = rule.new_belief(belief.n_prompts)
    seen = np.flatnonzero(belief.evidence > belief.alpha0 + belief.beta0)
    successes = np.round(belief.alpha[seen] - belief.alpha0)
    trials = np.round(belief.evidence[seen] - belief.alpha0 - belief.beta0)
    if not own.needs_rewards:
        own.update(seen, successes, trials)
        return own
    groups = (trials // k).astype(int)  # whole visits of k rollouts each
    ids = np.repeat(seen, groups)
    rank = np.arange(ids.size) - np.repeat(np.cumsum(groups) - groups, groups)
    before = np.repeat(successes, groups) - rank * k  # successes left for this group
    rewards = (np.arange(k)[None, :] < np.clip(before, 0, k)[:, None]).astype(np.float64)
    own.update_from_rewards(ids, rewards)
    return own


def selection_table(
    pool: int = 2000, m: int = 64, k: int = 8, warmup_steps: int = 20, seed: int = 0
) -> list[dict[str, float | str]]:
    """Rows of the demo table (one per rule), computed deterministically from ``seed``."""
    rates, belief, candidates = observed_pool(pool, m, k, warmup_steps, seed)
    rows = []
    for name, ids in choose_with_every_rule(rates, belief, candidates, m, k, seed).items():
        p = rates[ids]
        informative = informative_probability(p, k)
        rows.append(
            {
                "rule": name,
                "mean belief": float(belief.mean[ids].mean()),
                "evidence": float(belief.evidence[ids].mean()),
                "true rate": float(p.mean()),
                "informative": float(informative.mean()),
            }
        )
    return rows


def run(args: argparse.Namespace) -> int:
    rows = selection_table(args.pool, args.m, args.k, args.warmup_steps, args.seed)
    print(
        f"Pool {args.pool}, M = {args.m}, K = {args.k}, M_hat = {16 * args.m}, "
        f"{args.warmup_steps} random warm-up steps, seed {args.seed}\n"
    )
    header = f"{'rule':<22}{'mean belief':>12}{'evidence':>10}{'true rate':>11}{'informative':>13}"
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row['rule']:<22}{row['mean belief']:>12.3f}{row['evidence']:>10.2f}"
            f"{row['true rate']:>11.3f}{row['informative']:>13.3f}"
        )
    print("\ninformative = expected share of chosen groups whose K rewards are not all equal")
    return 0
