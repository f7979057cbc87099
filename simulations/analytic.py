r"""Closed-form expectations of what each rule's batch yields, and the oracle ceiling.

For a belief ``Beta(alpha_i, beta_i)`` per prompt and true (observable) success rates
``p_i``, a batch of ``M`` chosen prompts with ``K`` rollouts each yields

* **informative groups** (groups whose ``K`` binary rewards are not all equal)::

      E[#informative] = sum_{i chosen} 1 - p_i^K - (1 - p_i)^K

* **information gained** about the chosen prompts' rates: the expected drop of the
  belief's differential entropy (Eq. 11) when the ``K`` rewards come from the true rate,
  ``S ~ Binomial(K, p_i)``::

      G_K(alpha, beta; p) = H(alpha, beta) - sum_s Binom(s; K, p) H(alpha + s, beta + K - s)

  Averaged over ``p ~ Beta(alpha, beta)`` this is the mutual information ``I_K`` (Eq. 13),
  the rule's own *predicted* gain.

How each rule's expectation is computed (``method`` column):

* ``exact``: deterministic scores (expected-difficulty, inverse-evidence, mi, weight,
  insight). The top ``M`` is fixed except for ties at the cut, which the selector breaks
  uniformly at random; the expectation over tie breaks is exact (tied prompts share the
  remaining places equally).
* ``exact`` for random: ``M`` times the mean value over the candidates.
* ``monte-carlo``: rules whose scores are random (mopps, insight-sampled: Thompson draws)
  and dynamic-sampling (choice depends on the rollouts): the mean over ``n_samples``
  repetitions of the rule's whole step (:meth:`~insight_bayes.selectors.Selector.gather`:
  choice, rollouts from ``p``, rollout filter), counting the realised informative groups
  and the realised entropy drop, with its standard error.
* ``oracle``: knows ``p``; keeps the ``M`` candidates with the largest value of each
  quantity (separately for each column): the ceiling every rule is compared against.

All expectations are conditional on the candidate set (default: the whole pool, as in
the paper-shaped scenario where ``M_hat`` is capped at the pool).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats

from insight_bayes.beliefs.beta_belief import BetaBelief
from insight_bayes.beta import beta_entropy
from insight_bayes.rewards import bernoulli_rollout, informative_groups, informative_probability
from insight_bayes.selectors import PAPER_RULES, Selector, make_selector
from insight_bayes.validation import RngLike, as_generator, check_ids, check_int

if TYPE_CHECKING:
    from simulations.scenarios import Scenario

__all__ = [
    "EXACT_RULES",
    "compare_rules",
    "expected_information_gain",
    "expected_top_m_sum",
    "oracle_ceiling",
    "rule_expectation",
]

#: Rules whose expectations are exact (deterministic scores up to tie breaking).
EXACT_RULES = ("random", "expected-difficulty", "inverse-evidence", "mi", "weight", "insight")


def expected_information_gain(
    alpha: ArrayLike, beta: ArrayLike, rates: ArrayLike, k: int
) -> np.ndarray:
    """Expected entropy drop ``G_K(alpha, beta; p)`` of Beta beliefs, nats (see module).

    Parameters
    ----------
    alpha, beta : array_like, shape (N,)
        Beliefs before the rollouts (> 0).
    rates : array_like, shape (N,)
        True success rates generating ``S ~ Binomial(K, p)``.
    k : int
        Rollouts.

    Returns
    -------
    ndarray, shape (N,)
    """
    k = check_int(k, "k", min_value=1)
    a = np.asarray(alpha, dtype=np.float64)
    b = np.asarray(beta, dtype=np.float64)
    p = np.asarray(rates, dtype=np.float64)
    a, b, p = np.broadcast_arrays(a, b, p)
    s = np.arange(k + 1)
    pmf = stats.binom.pmf(s, k, p[..., None])
    after = np.asarray(beta_entropy(a[..., None] + s, b[..., None] + k - s))
    return np.asarray(beta_entropy(a, b)) - np.sum(pmf * after, axis=-1)


def expected_top_m_sum(scores: ArrayLike, values: ArrayLike, m: int) -> float:
    """Expected sum of ``values`` over the top ``m`` of ``scores``, ties broken at random.

    Scores strictly above the ``m``-th largest are always kept; the ``t`` tied at the cut
    share the remaining ``r`` places, each kept with probability ``r / t``.
    """
    s = np.asarray(scores, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    if s.shape != v.shape or s.ndim != 1:
        raise ValueError(f"scores and values must be 1-d of one shape, got {s.shape}, {v.shape}")
    m = check_int(m, "m", min_value=1, max_value=s.size)
    cut = np.partition(s, s.size - m)[s.size - m]
    above = s > cut
    tied = s == cut
    rest = m - int(above.sum())
    return float(v[above].sum() + rest * v[tied].mean())


def rule_expectation(
    rule: str | Selector,
    belief: BetaBelief,
    rates: ArrayLike,
    k: int,
    m: int,
    candidates: ArrayLike | None = None,
    *,
    n_samples: int = 400,
    rng: RngLike = 0,
) -> dict[str, float | str]:
    """Expected informative groups and information gained by one rule's batch.

    Returns a dict with ``rule, method, informative, information`` and the Monte Carlo
    standard errors ``informative_se, information_se`` (0 for exact methods).
    See the module docstring for the methods.
    """
    selector = make_selector(rule) if isinstance(rule, str) else rule
    p = np.asarray(rates, dtype=np.float64)
    if p.shape != (belief.n_prompts,):
        raise ValueError(f"rates must have shape ({belief.n_prompts},), got {p.shape}")
    cand = (
        np.arange(belief.n_prompts)
        if candidates is None
        else check_ids(candidates, "candidates", belief.n_prompts)
    )
    k = check_int(k, "k", min_value=1)
    m = check_int(m, "m", min_value=1, max_value=cand.size)
    n_samples = check_int(n_samples, "n_samples", min_value=2)
    gen = as_generator(rng)
    a, b = belief.alpha[cand], belief.beta[cand]
    inform = informative_probability(p[cand], k)
    info = expected_information_gain(a, b, p[cand], k)
    name = selector.name
    if name == "random":
        return _row(name, "exact", m * inform.mean(), m * info.mean())
    if name in EXACT_RULES:
        scores = np.asarray(selector.score(cand, belief, k, gen), dtype=np.float64)
        return _row(
            name,
            "exact",
            expected_top_m_sum(scores, inform, m),
            expected_top_m_sum(scores, info, m),
        )
    draws = np.empty((n_samples, 2))
    for t in range(n_samples):
        batch = selector.gather(
            cand,
            belief,
            m,
            k,
            gen,
            rollout=lambda ids: bernoulli_rollout(p[ids], k, gen),
        )
        s = batch.rollout.correct.sum(axis=1)
        a, b = belief.alpha[batch.ids], belief.beta[batch.ids]
        drop = np.asarray(beta_entropy(a, b)) - np.asarray(beta_entropy(a + s, b + k - s))
        draws[t] = informative_groups(batch.rollout.rewards).sum(), drop.sum()
    return _mc_row(selector.name, draws)


def _row(rule: str, method: str, informative: float, information: float) -> dict:
    return {
        "rule": rule,
        "method": method,
        "informative": float(informative),
        "informative_se": 0.0,
        "information": float(information),
        "information_se": 0.0,
    }


def _mc_row(rule: str, draws: np.ndarray) -> dict:
    se = draws.std(axis=0, ddof=1) / np.sqrt(draws.shape[0])
    return {
        "rule": rule,
        "method": "monte-carlo",
        "informative": float(draws[:, 0].mean()),
        "informative_se": float(se[0]),
        "information": float(draws[:, 1].mean()),
        "information_se": float(se[1]),
    }


def compare_rules(
    belief: BetaBelief,
    rates: ArrayLike,
    k: int,
    m: int,
    rules: Iterable[str] = PAPER_RULES,
    candidates: ArrayLike | None = None,
    *,
    n_samples: int = 400,
    rng: RngLike = 0,
) -> pd.DataFrame:
    """Every rule's expected informative groups and information gain, plus the oracle.

    Returns a DataFrame with one row per rule and a final ``oracle`` row, the columns of
    :func:`rule_expectation`, and ``informative_vs_oracle`` / ``information_vs_oracle``
    (each rule's share of the ceiling).
    """
    gen = as_generator(rng)
    rows = [
        rule_expectation(r, belief, rates, k, m, candidates, n_samples=n_samples, rng=gen)
        for r in rules
    ]
    p = np.asarray(rates, dtype=np.float64)
    cand = np.arange(belief.n_prompts) if candidates is None else np.asarray(candidates)
    inform = informative_probability(p[cand], k)
    info = expected_information_gain(belief.alpha[cand], belief.beta[cand], p[cand], k)
    m = check_int(m, "m", min_value=1, max_value=cand.size)
    rows.append(
        _row(
            "oracle",
            "oracle",
            np.sort(inform)[::-1][:m].sum(),
            np.sort(info)[::-1][:m].sum(),
        )
    )
    df = pd.DataFrame(rows)
    df["informative_vs_oracle"] = df["informative"] / df["informative"].iloc[-1]
    df["information_vs_oracle"] = df["information"] / df["information"].iloc[-1]
    return df


def oracle_ceiling(
    scenario: str | Scenario, *, seed: int = 0, warmup_steps: int = 10, n_samples: int = 100
) -> pd.DataFrame:
    """Every rule's expected informative groups and information gain against the oracle.

    The scenario's pool (seed ``seed``) is trained on by Random for ``warmup_steps``
    steps (in memory: nothing is written); then every rule's next batch is scored in
    expectation under the true rates (:func:`compare_rules`) from one draw of ``M_hat``
    candidates.

    Parameters
    ----------
    scenario : str or Scenario
        A registered scenario name or a scenario.
    seed : int
        Seed of the pool, of the warm-up loop and of the candidate draw.
    warmup_steps : int
        Random steps before the comparison (the beliefs' evidence).
    n_samples : int
        Monte Carlo samples of each stochastic rule's batch.

    Returns
    -------
    DataFrame
        :func:`compare_rules`' table, one row per rule.
    """
    from insight_bayes.loop import SelectionLoop
    from insight_bayes.selectors import draw_candidates
    from simulations.scenarios import get_scenario

    scenario = get_scenario(scenario)
    env = scenario.build_env(seed)
    cfg = scenario.loop
    loop = SelectionLoop(env, "random", cfg, belief=scenario.new_belief(), seed=seed)
    for _ in range(warmup_steps):
        loop.step()
    rng = np.random.default_rng(seed)
    candidates = draw_candidates(scenario.pool_size, scenario.resolved_m_hat(), rng)
    return compare_rules(
        loop.belief, env.rates, cfg.k, cfg.m, candidates=candidates, n_samples=n_samples, rng=rng
    )
